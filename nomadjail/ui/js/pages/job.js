// #/jobs/<id>[?namespace=ns] — one job: its definition, task group counts,
// allocations and evaluations.
//
// Three blocking queries (job, summary, allocations) keep the page current.  The
// evaluations are re-read whenever the job or its summary moves instead of holding a
// fourth request open: browsers allow six connections per host, and a second open
// tab should not have to queue behind this one.

import { getJSON, segment, watch } from "../api.js";
import { allocationsTable } from "../alloc_table.js";
import { badge, details, h, section, table, timeAgo } from "../dom.js";
import { list, SUMMARY_STATUSES, shortId } from "../format.js";

function groupsTable(job, summary) {
  const counts = (summary && summary.Summary) || {};
  const names = (job ? job.TaskGroups || [] : []).map((g) => g.Name);
  for (const name of Object.keys(counts).sort()) if (!names.includes(name)) names.push(name);
  const desired = Object.fromEntries((job ? job.TaskGroups || [] : []).map((g) => [g.Name, g.Count]));
  const columns = [
    { title: "Task group", cell: (name) => name },
    { title: "Count", cell: (name) => String(desired[name] ?? "—"), class: "num" },
    ...SUMMARY_STATUSES.map((status) => ({
      title: status,
      class: "num",
      cell: (name) => h("span", { "data-test": `group-${status.toLowerCase()}` },
        String((counts[name] || {})[status] ?? 0)),
    })),
  ];
  return table(columns, names, {
    test: "groups-table", rowTest: "group-row", rowKey: (name) => name, empty: "No task groups.",
  });
}

function evaluationsTable(evals) {
  const columns = [
    { title: "ID", cell: (e) => h("span", { class: "mono", title: e.ID }, shortId(e.ID)) },
    { title: "Priority", cell: (e) => String(e.Priority), class: "num" },
    { title: "Triggered by", cell: (e) => e.TriggeredBy },
    { title: "Status", cell: (e) => badge(e.Status) },
    {
      title: "Placement failures",
      cell: (e) => (e.FailedTGAllocs && Object.keys(e.FailedTGAllocs).length
        ? h("span", { class: "status-failed" }, Object.keys(e.FailedTGAllocs).join(", "))
        : "none"),
    },
    { title: "Created", cell: (e) => timeAgo(e.CreateTime) },
  ];
  return table(columns, evals || [], {
    test: "evaluations-table", rowTest: "eval-row", rowKey: (e) => e.ID, empty: "No evaluations.",
  });
}

export function mount(root, { params, query }) {
  const [jobId] = params;
  const namespace = query.get("namespace") || "default";
  const api = `/v1/job/${segment(jobId)}`;
  const apiParams = { namespace };
  document.title = `${jobId} · Jobs · nomadjail`;

  const title = h("span", { "data-test": "job-title-status" });
  const overview = section({ "data-test": "job-overview" });
  const groups = section({ "data-test": "job-groups" });
  const allocs = section({ "data-test": "job-allocations" });
  const evals = section({ "data-test": "job-evaluations" });
  // Hidden until the job loads, so a missing job shows only its error.
  const rest = h("div", { hidden: true },
    h("h2", {}, "Task groups"), groups.root,
    h("h2", {}, "Allocations"), allocs.root,
    h("h2", {}, "Evaluations"), evals.root);
  root.append(
    h("p", { class: "crumbs" }, h("a", { href: "#/jobs" }, "Jobs"), " / ", jobId),
    h("h1", { "data-test": "job-title" }, jobId, " ", title),
    overview.root, rest,
  );

  let job = null;
  let summary = null;
  const drawGroups = () => groups.show(groupsTable(job, summary));
  const leaving = new AbortController();
  let evalsAsked = 0; // only the newest answer is drawn when two reads overlap
  const refreshEvals = () => {
    const asked = ++evalsAsked;
    getJSON(`${api}/evaluations`, { params: apiParams, signal: leaving.signal })
      .then(({ data }) => { if (asked === evalsAsked) evals.show(evaluationsTable(data)); })
      .catch((err) => { if (!leaving.signal.aborted && asked === evalsAsked) evals.fail(err); });
  };

  const stops = [
    watch(api, {
      params: apiParams,
      onError: (err) => { title.replaceChildren(); overview.fail(err); },
      onData: (data) => {
        job = data;
        rest.hidden = false;
        title.replaceChildren(badge(job.Status, { "data-test": "job-status" }));
        overview.show(details([
          ["Status", badge(job.Status), "status"],
          ["Type", job.Type, "type"],
          ["Priority", String(job.Priority), "priority"],
          ["Namespace", job.Namespace || "default", "namespace"],
          ["Datacenters", list(job.Datacenters), "datacenters"],
          ["Node pool", job.NodePool || "default", "node-pool"],
          ["Version", String(job.Version), "version"],
          ["Stopped", job.Stop ? "yes" : "no", "stop"],
          ["Submitted", timeAgo(job.SubmitTime), "submitted"],
        ]), job.StatusDescription ? h("p", { class: "muted" }, job.StatusDescription) : null);
        drawGroups();
        refreshEvals();
      },
    }),
    watch(`${api}/summary`, {
      params: apiParams,
      // A missing job already shows its 404 in the overview; don't say it twice.
      onError: (err) => { if (err.status !== 404) groups.fail(err); },
      onData: (data) => { summary = data; drawGroups(); refreshEvals(); },
    }),
    watch(`${api}/allocations`, {
      params: apiParams,
      onError: (err) => allocs.fail(err),
      onData: (data) => allocs.show(allocationsTable(data)),
    }),
    () => leaving.abort(),
  ];
  return () => stops.forEach((stop) => stop());
}
