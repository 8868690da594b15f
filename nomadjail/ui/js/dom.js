// Building elements without innerHTML: every API string becomes a text node or an
// attribute value, so nothing the server returns is ever parsed as markup.

import { absoluteTime, relativeTime, statusClass, toMillis } from "./format.js";

/**
 * h("a", {href: "#/jobs", "data-test": "x", onclick: fn}, "text", child, [more])
 * Attributes are set with setAttribute; functions under "on…" become listeners;
 * null, undefined and false children are skipped; strings and numbers become text.
 */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2), value);
    } else {
      element.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(element, child);
    else if (child instanceof Node) element.append(child);
    else element.append(document.createTextNode(String(child)));
  }
}

/** A coloured status word: <span class="badge status-running">running</span>. */
export function badge(status, attributes = {}) {
  return h("span", { class: `badge status-${statusClass(status)}`, ...attributes },
    status || "unknown");
}

/**
 * A relative time ("3m ago") with the exact time as tooltip.  app.js re-renders
 * every <time data-ms> each second so the text does not go stale between updates.
 */
export function timeAgo(value) {
  const ms = toMillis(value);
  if (ms === null) return h("span", { class: "muted" }, "—");
  return h("time", {
    "data-ms": ms, datetime: new Date(ms).toISOString(), title: absoluteTime(ms),
  }, relativeTime(ms));
}

/** An exact local time ("2024-05-01 13:04:05") with the relative time as tooltip;
 *  for event lists, where several things happen within the same minute. */
export function timeAt(value) {
  const ms = toMillis(value);
  if (ms === null) return h("span", { class: "muted" }, "—");
  return h("time", { datetime: new Date(ms).toISOString(), title: relativeTime(ms) },
    absoluteTime(ms));
}

/** Bring every relative time on the page up to date. */
export function refreshTimes(root = document) {
  const now = Date.now();
  for (const el of root.querySelectorAll("time[data-ms]")) {
    el.textContent = relativeTime(Number(el.dataset.ms), now);
  }
}

/**
 * A table.  columns: [{title, cell: (row) => node|string, class?}];
 * options: {test: data-test of the table, rowTest, rowKey: (row) => data-id, empty}.
 */
export function table(columns, rows, options = {}) {
  const head = h("thead", {}, h("tr", {}, columns.map((c) => h("th", { class: c.class }, c.title))));
  const body = h("tbody", {}, rows.map((row) => h("tr", {
    "data-test": options.rowTest, "data-id": options.rowKey ? options.rowKey(row) : null,
  }, columns.map((c) => h("td", { class: c.class }, c.cell(row))))));
  const wrapper = h("div", { class: "table-wrap" },
    h("table", { "data-test": options.test }, head, body));
  if (!rows.length) {
    wrapper.append(h("p", { class: "empty", "data-test": `${options.test || "table"}-empty` },
      options.empty || "Nothing here yet."));
  }
  return wrapper;
}

/** A definition list from [label, value] pairs; each value gets data-test="field-<key>". */
export function details(pairs) {
  return h("dl", { class: "details" }, pairs.map(([label, value, key]) => [
    h("dt", {}, label),
    h("dd", { "data-test": `field-${key || statusClass(label)}` }, value ?? "—"),
  ]));
}

/** The readable form of an API error, in an alert box. */
export function errorBox(err, test = "error") {
  const text = typeof err.describe === "function" ? err.describe() : String(err.message || err);
  return h("div", { class: "error", role: "alert", "data-test": test }, text);
}

/**
 * A region of the page that is redrawn as a whole: show(nodes) replaces its content,
 * fail(err) puts an error box above the last good content (kept, greyed out) so a
 * transient error does not blank the page.
 */
export function section(attributes = {}) {
  const errorSlot = h("div", { class: "error-slot" });
  const content = h("div", { class: "content" });
  const root = h("section", attributes, errorSlot, content);
  return {
    root,
    show(...nodes) {
      errorSlot.replaceChildren();
      content.classList.remove("stale");
      content.replaceChildren(...nodes.flat().filter((n) => n !== null && n !== undefined));
    },
    fail(err) {
      errorSlot.replaceChildren(errorBox(err));
      content.classList.add("stale");
    },
  };
}

/** A link inside the dashboard, e.g. link("#/jobs/web", "web"). */
export function link(href, text, attributes = {}) {
  return h("a", { href, ...attributes }, text);
}
