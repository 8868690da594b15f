// #/allocations/<id> — one allocation: where it runs, what its tasks are doing,
// their recent events and the end of their stdout and stderr.
//
// The allocation is watched with a blocking query.  Logs carry no index, so they are
// re-read whenever the allocation changes and every few seconds while it still runs.

import { getText, segment, watch } from "../api.js";
import { badge, details, h, link, section, table, timeAgo, timeAt } from "../dom.js";
import { shortId, tailLines } from "../format.js";
import { clientHref, jobHref } from "../links.js";

const LOG_BYTES = 4096;
const LOG_REFRESH_MS = 5000;
const LIVE_STATUSES = new Set(["pending", "running"]);

/** Task names in the job's order, then any others that only have a state. */
function taskNames(alloc) {
  const group = ((alloc.Job && alloc.Job.TaskGroups) || []).find((g) => g.Name === alloc.TaskGroup);
  const names = ((group && group.Tasks) || []).map((t) => t.Name);
  for (const name of Object.keys(alloc.TaskStates || {}).sort()) {
    if (!names.includes(name)) names.push(name);
  }
  return names;
}

function eventsTable(events) {
  // Nomad keeps the last 10 events per task, oldest first; show the newest on top.
  const newestFirst = [...(events || [])].reverse();
  const columns = [
    { title: "Time", cell: (e) => timeAt(e.Time) },
    { title: "Type", cell: (e) => h("span", { "data-test": "event-type" }, e.Type) },
    {
      title: "Message",
      cell: (e) => h("span", { "data-test": "event-message" }, e.DisplayMessage || e.Message || ""),
    },
  ];
  return table(columns, newestFirst, {
    test: "task-events", rowTest: "event-row", empty: "No events yet.",
  });
}

function taskInfo(name, state) {
  state = state || {};
  return [
    h("h3", {}, "Task ", h("span", { class: "mono" }, name), " ",
      badge(state.State || "pending", { "data-test": "task-state" })),
    details([
      ["State", state.State || "pending", "state"],
      ["Failed", state.Failed ? "yes" : "no", "failed"],
      ["Restarts", String(state.Restarts ?? 0), "restarts"],
      ["Last restart", timeAgo(state.LastRestart), "last-restart"],
      ["Started", timeAgo(state.StartedAt), "started"],
      ["Finished", timeAgo(state.FinishedAt), "finished"],
    ]),
    h("h4", {}, "Recent events"),
    eventsTable(state.Events),
  ];
}

/** One task's block: info redrawn on each update, log panes kept between updates. */
function taskBlock(name) {
  const info = h("div", { class: "task-info" });
  const panes = {};
  const logs = ["stdout", "stderr"].map((type) => {
    panes[type] = h("pre", { class: "log", "data-test": `log-${type}` }, "loading…");
    return h("div", { class: "log-pane" }, h("h4", {}, type), panes[type]);
  });
  const root = h("section", { class: "task", "data-test": "task", "data-task": name },
    info, h("div", { class: "logs" }, logs));
  return { root, info, panes };
}

async function loadLog(allocId, task, type, pane, signal) {
  try {
    const text = await getText(`/v1/client/fs/logs/${segment(allocId)}`, {
      params: { task, type, plain: "true", origin: "end", offset: LOG_BYTES }, signal,
    });
    const tail = tailLines(text, LOG_BYTES);
    pane.classList.toggle("muted", !tail);
    pane.textContent = tail || "(empty)";
  } catch (err) {
    if (signal.aborted) return;
    pane.classList.add("muted");
    pane.textContent = `logs unavailable: ${err.describe ? err.describe() : err.message}`;
  }
}

export function mount(root, { params }) {
  const [allocId] = params;
  document.title = `Allocation ${shortId(allocId)} · nomadjail`;

  const title = h("span", {});
  const overview = section({ "data-test": "alloc-overview" });
  const tasksRoot = h("div", { "data-test": "tasks" });
  const crumbs = h("p", { class: "crumbs" }, h("a", { href: "#/jobs" }, "Jobs"), " / ");
  root.append(crumbs,
    h("h1", { "data-test": "alloc-title" }, "Allocation ",
      h("span", { class: "mono", title: allocId }, shortId(allocId)), " ", title),
    overview.root, tasksRoot);

  const leaving = new AbortController();
  const blocks = new Map();
  let alloc = null;
  let logTimer = null;

  const refreshLogs = () => {
    if (!alloc) return;
    for (const [name, block] of blocks) {
      for (const type of ["stdout", "stderr"]) {
        loadLog(alloc.ID, name, type, block.panes[type], leaving.signal);
      }
    }
  };

  const stopWatch = watch(`/v1/allocation/${segment(allocId)}`, {
    onError: (err) => overview.fail(err),
    onData: (data) => {
      const moved = !alloc || data.ModifyIndex !== alloc.ModifyIndex;
      alloc = data;
      title.replaceChildren(badge(alloc.ClientStatus, { "data-test": "alloc-status" }));
      crumbs.replaceChildren(h("a", { href: "#/jobs" }, "Jobs"), " / ",
        link(jobHref(alloc.JobID, alloc.Namespace), alloc.JobID), " / ", shortId(alloc.ID));
      overview.show(details([
        ["ID", h("span", { class: "mono" }, alloc.ID), "id"],
        ["Name", alloc.Name, "name"],
        ["Job", link(jobHref(alloc.JobID, alloc.Namespace), alloc.JobID,
          { "data-test": "alloc-job-link" }), "job"],
        ["Task group", alloc.TaskGroup, "task-group"],
        ["Client", link(clientHref(alloc.NodeID), alloc.NodeName || shortId(alloc.NodeID),
          { title: alloc.NodeID }), "client"],
        ["Client status", badge(alloc.ClientStatus), "client-status"],
        ["Client description", alloc.ClientDescription || "—", "client-description"],
        ["Desired status", alloc.DesiredStatus, "desired-status"],
        ["Desired description", alloc.DesiredDescription || "—", "desired-description"],
        ["Job version", String(alloc.Job ? alloc.Job.Version : "—"), "job-version"],
        ["Created", timeAgo(alloc.CreateTime), "created"],
        ["Modified", timeAgo(alloc.ModifyTime), "modified"],
      ]));

      for (const name of taskNames(alloc)) {
        if (!blocks.has(name)) {
          const block = taskBlock(name);
          blocks.set(name, block);
          tasksRoot.append(block.root);
        }
        blocks.get(name).info.replaceChildren(...taskInfo(name, (alloc.TaskStates || {})[name]));
      }

      if (moved) refreshLogs();
      const live = LIVE_STATUSES.has(alloc.ClientStatus);
      if (live && logTimer === null) logTimer = setInterval(refreshLogs, LOG_REFRESH_MS);
      if (!live && logTimer !== null) {
        clearInterval(logTimer);
        logTimer = null;
      }
    },
  });

  return () => {
    stopWatch();
    leaving.abort();
    clearInterval(logTimer);
  };
}
