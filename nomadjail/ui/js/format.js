// Pure formatting: strings in, strings out.  No DOM here.

/** Nomad's short form of a UUID: its first 8 characters. */
export function shortId(id) {
  return (id || "").slice(0, 8);
}

/**
 * Milliseconds since the epoch for a Nomad time, or null when unset.  Nomad sends
 * nanosecond integers (CreateTime, SubmitTime, task event Time) and RFC 3339 strings
 * (StartedAt, FinishedAt), with Go's zero time "0001-01-01T00:00:00Z" meaning unset.
 */
export function toMillis(value) {
  if (value === null || value === undefined || value === "" || value === 0) return null;
  if (typeof value === "number") return value / 1e6;
  if (String(value).startsWith("0001-01-01")) return null;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : ms;
}

const UNITS = [
  ["d", 86400], ["h", 3600], ["m", 60], ["s", 1],
];

/** "5s ago", "3m ago", "2h ago", "4d ago"; "in 10s" for the future; "just now" within 1s. */
export function relativeTime(ms, now = Date.now()) {
  if (ms === null || ms === undefined) return "—";
  const seconds = Math.round((now - ms) / 1000);
  if (Math.abs(seconds) < 1) return "just now";
  const size = Math.abs(seconds);
  const [unit, span] = UNITS.find(([, s]) => size >= s);
  const amount = Math.floor(size / span);
  return seconds > 0 ? `${amount}${unit} ago` : `in ${amount}${unit}`;
}

/** Local date and time to the second, for tooltips: "2024-05-01 13:04:05". */
export function absoluteTime(ms) {
  if (ms === null || ms === undefined) return "";
  const d = new Date(ms);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** "a, b, c" for a list; "—" for an empty or missing one. */
export function list(values) {
  return values && values.length ? values.join(", ") : "—";
}

/** A status word safe to use in a CSS class name ("no placement" -> "no-placement"). */
export function statusClass(status) {
  return String(status || "unknown").toLowerCase().replace(/[^a-z0-9]+/g, "-");
}

/** Counts per allocation status, summed over a JobSummary's task groups. */
export const SUMMARY_STATUSES = ["Queued", "Starting", "Running", "Complete", "Failed", "Lost"];

export function sumSummary(jobSummary) {
  const totals = Object.fromEntries(SUMMARY_STATUSES.map((s) => [s, 0]));
  const groups = (jobSummary && jobSummary.Summary) || {};
  for (const group of Object.values(groups)) {
    for (const status of SUMMARY_STATUSES) totals[status] += Number(group[status] || 0);
  }
  return totals;
}

/**
 * The end of a log: drop the first line when it was cut in the middle, because
 * `origin=end&offset=N` starts N bytes before the end, wherever that falls.
 */
export function tailLines(text, requestedBytes) {
  if (!text) return "";
  if (new TextEncoder().encode(text).length >= requestedBytes) {
    const newline = text.indexOf("\n");
    if (newline >= 0) return text.slice(newline + 1);
  }
  return text;
}
