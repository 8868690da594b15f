// #/jobs — every job in every namespace, kept current by a blocking query on /v1/jobs.

import { watch } from "../api.js";
import { badge, h, link, section, table, timeAgo } from "../dom.js";
import { SUMMARY_STATUSES, statusClass, sumSummary } from "../format.js";
import { jobHref } from "../links.js";

/** "2 running 1 failed" as small coloured counts; zero counts are left out. */
export function summaryCounts(jobSummary, test = "job-summary") {
  const totals = sumSummary(jobSummary);
  const parts = SUMMARY_STATUSES.filter((s) => totals[s] > 0).map((s) => {
    const name = s.toLowerCase();
    return h("span", { class: `count status-${statusClass(name)}`, "data-test": `count-${name}` },
      `${totals[s]} ${name}`);
  });
  return h("span", { class: "counts", "data-test": test },
    parts.length ? parts : h("span", { class: "muted" }, "no allocations"));
}

export function mount(root) {
  document.title = "Jobs · nomadjail";
  const list = section({ "data-test": "jobs" });
  root.append(h("h1", {}, "Jobs"), list.root);

  return watch("/v1/jobs", {
    params: { namespace: "*" },
    onError: (err) => list.fail(err),
    onData: (jobs) => {
      jobs = jobs || [];
      const showNamespace = jobs.some((j) => j.Namespace && j.Namespace !== "default");
      const columns = [
        { title: "ID", cell: (j) => link(jobHref(j.ID, j.Namespace), j.ID, { "data-test": "job-link" }) },
        showNamespace && { title: "Namespace", cell: (j) => j.Namespace },
        { title: "Type", cell: (j) => j.Type },
        { title: "Priority", cell: (j) => String(j.Priority), class: "num" },
        { title: "Status", cell: (j) => badge(j.Status, { "data-test": "job-status" }) },
        { title: "Allocations", cell: (j) => summaryCounts(j.JobSummary) },
        { title: "Submitted", cell: (j) => timeAgo(j.SubmitTime) },
      ].filter(Boolean);
      list.show(table(columns, jobs, {
        test: "jobs-table", rowTest: "job-row", rowKey: (j) => j.ID,
        empty: "No jobs yet. Submit one with `nomadjail job run <file>`.",
      }));
    },
  });
}
