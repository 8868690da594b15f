// The allocations table shared by the job page and the client page.

import { badge, link, table, timeAgo } from "./dom.js";
import { shortId } from "./format.js";
import { allocationHref, clientHref, jobHref } from "./links.js";

/**
 * Works with both AllocListStub (job allocations) and whole Allocations (node
 * allocations): only fields both carry are read, the job version falling back to
 * the embedded Job.
 */
export function allocationsTable(allocs, { showJob = false, showNode = true } = {}) {
  const version = (a) => a.JobVersion ?? (a.Job ? a.Job.Version : undefined);
  const columns = [
    {
      title: "ID",
      cell: (a) => link(allocationHref(a.ID), shortId(a.ID),
        { "data-test": "alloc-link", title: a.ID, class: "mono" }),
    },
    showJob && { title: "Job", cell: (a) => link(jobHref(a.JobID, a.Namespace), a.JobID) },
    { title: "Task group", cell: (a) => a.TaskGroup },
    showNode && {
      title: "Client",
      cell: (a) => link(clientHref(a.NodeID), a.NodeName || shortId(a.NodeID),
        { title: a.NodeID }),
    },
    { title: "Status", cell: (a) => badge(a.ClientStatus, { "data-test": "alloc-client-status" }) },
    { title: "Desired", cell: (a) => a.DesiredStatus },
    { title: "Version", cell: (a) => String(version(a) ?? "—"), class: "num" },
    { title: "Created", cell: (a) => timeAgo(a.CreateTime) },
    { title: "Modified", cell: (a) => timeAgo(a.ModifyTime) },
  ].filter(Boolean);
  return table(columns, allocs || [], {
    test: "allocations-table", rowTest: "alloc-row", rowKey: (a) => a.ID,
    empty: "No allocations.",
  });
}
