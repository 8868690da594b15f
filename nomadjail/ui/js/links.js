// Where things live in the dashboard (hash routes, so the static index.html fallback
// is all the server needs).  IDs are URI-encoded: job IDs may contain "/" or spaces.

export function jobsHref() {
  return "#/jobs";
}

/** A job's page; the namespace is only spelled out when it is not "default". */
export function jobHref(jobId, namespace) {
  const query = namespace && namespace !== "default"
    ? `?namespace=${encodeURIComponent(namespace)}` : "";
  return `#/jobs/${encodeURIComponent(jobId)}${query}`;
}

export function allocationHref(allocId) {
  return `#/allocations/${encodeURIComponent(allocId)}`;
}

export function clientHref(nodeId) {
  return `#/clients/${encodeURIComponent(nodeId)}`;
}
