// The dashboard's entry point: hash routing, the nav highlight, the relative-time clock.
//
// Each page module exports mount(root, route) -> stop().  mount draws into `root` and
// starts whatever keeps it current; stop() ends that (aborting parked blocking queries)
// before the next page is mounted, so leaving a page leaves nothing running.

import { h, refreshTimes } from "./dom.js";
import * as allocationPage from "./pages/allocation.js";
import * as clientPage from "./pages/client.js";
import * as clientsPage from "./pages/clients.js";
import * as jobPage from "./pages/job.js";
import * as jobsPage from "./pages/jobs.js";
import * as serversPage from "./pages/servers.js";

// [pattern over the path after "#", page, nav entry to highlight]
const ROUTES = [
  [/^\/jobs\/?$/, jobsPage, "jobs"],
  [/^\/jobs\/(.+)$/, jobPage, "jobs"],
  [/^\/allocations\/([^/]+)$/, allocationPage, "jobs"],
  [/^\/clients\/?$/, clientsPage, "clients"],
  [/^\/clients\/([^/]+)$/, clientPage, "clients"],
  [/^\/servers\/?$/, serversPage, "servers"],
];
const DEFAULT_HASH = "#/jobs";

let stopCurrent = null;

/** {path, query} from "#/jobs/web?namespace=prod". */
function parseHash(hash) {
  const text = hash.replace(/^#/, "") || "/";
  const mark = text.indexOf("?");
  return mark < 0
    ? { path: text, query: new URLSearchParams() }
    : { path: text.slice(0, mark), query: new URLSearchParams(text.slice(mark + 1)) };
}

function decodeSegment(value) {
  try {
    return decodeURIComponent(value);
  } catch {
    return value; // a hand-typed "%" that is not an escape: take it literally
  }
}

function highlightNav(name) {
  for (const link of document.querySelectorAll("#nav a[data-nav]")) {
    if (link.dataset.nav === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

function render() {
  if (!location.hash || location.hash === "#" || location.hash === "#/") {
    location.replace(DEFAULT_HASH);
    return;
  }
  const main = document.getElementById("main");
  if (stopCurrent) stopCurrent();
  stopCurrent = null;
  main.replaceChildren();
  window.scrollTo(0, 0);

  const { path, query } = parseHash(location.hash);
  for (const [pattern, page, nav] of ROUTES) {
    const match = pattern.exec(path);
    if (!match) continue;
    highlightNav(nav);
    const params = match.slice(1).map(decodeSegment);
    stopCurrent = page.mount(main, { params, query });
    return;
  }
  highlightNav("");
  document.title = "Not found · nomadjail";
  main.append(h("h1", {}, "Page not found"),
    h("p", { "data-test": "route-not-found" }, `Nothing lives at ${path}. `,
      h("a", { href: DEFAULT_HASH }, "Back to the jobs list.")));
}

/**
 * Nomad's own UI uses paths (/ui/jobs/example); turn those into hash routes so links
 * copied from Nomad's CLI or docs land on the right page here.
 */
function adoptPathRoute() {
  const rest = location.pathname.replace(/^\/ui\/?/, "");
  if (!location.hash && rest && rest !== "index.html") {
    history.replaceState(null, "", `/ui/#/${rest}${location.search}`);
  }
}

adoptPathRoute();
window.addEventListener("hashchange", render);
setInterval(() => refreshTimes(), 1000);
render();
