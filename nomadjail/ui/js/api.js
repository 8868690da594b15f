// The only module that talks to the agent: Nomad's public HTTP API on the same origin.
//
// `watch` keeps a view current with Nomad blocking queries: after the first answer it
// asks again with `?index=<X-Nomad-Index>&wait=30s`, which the server holds open until
// the data moves past that index.  Changes therefore show up at once while an idle
// page costs one parked request per list.  Endpoints without an index (agent members)
// and failed requests fall back to a timed retry, so a restarting agent is not hammered.

const BLOCKING_WAIT = "30s";
const POLL_MS = 5000;          // endpoints that carry no X-Nomad-Index
const RETRY_MS = 2000;         // first retry after an error; doubles up to MAX_RETRY_MS
const MAX_RETRY_MS = 15000;
const UNCHANGED_PAUSE_MS = 1000; // a blocking query that came back with nothing new

/** An error answer from the API; `message` is the server's text/plain body. */
export class ApiError extends Error {
  constructor(status, statusText, body, path) {
    super(body || statusText || `HTTP ${status}`);
    this.name = "ApiError";
    this.status = status;
    this.statusText = statusText;
    this.path = path;
  }

  /** One line a person can read: "404 Not Found: job not found". */
  describe() {
    const head = this.status ? `${this.status} ${this.statusText || ""}`.trim() : "Network error";
    return `${head}: ${this.message}`;
  }
}

function urlFor(path, params) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params || {})) {
    if (value !== undefined && value !== null && value !== "") query.set(name, String(value));
  }
  const text = query.toString();
  return text ? `${path}?${text}` : path;
}

/** Encode one path segment (job IDs may hold "/" or spaces). */
export function segment(value) {
  return encodeURIComponent(value);
}

/**
 * GET `path`; resolves to {text, index} or rejects with ApiError.  An aborted request
 * rejects with the browser's AbortError, which callers treat as "nobody is listening".
 */
export async function request(path, { params, signal } = {}) {
  let response;
  try {
    response = await fetch(urlFor(path, params), {
      signal, cache: "no-store", headers: { Accept: "application/json, text/plain" },
    });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, "", `cannot reach the agent (${err.message})`, path);
  }
  const text = await response.text();
  if (!response.ok) throw new ApiError(response.status, response.statusText, text.trim(), path);
  return { text, index: Number(response.headers.get("X-Nomad-Index") || 0) };
}

/** GET `path` as JSON: {data, index}. */
export async function getJSON(path, options = {}) {
  const { text, index } = await request(path, options);
  return { data: text ? JSON.parse(text) : null, index };
}

/** GET `path` as plain text (task logs). */
export async function getText(path, options = {}) {
  return (await request(path, options)).text;
}

function pause(ms, signal) {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => { clearTimeout(timer); resolve(); }, { once: true });
  });
}

/**
 * Keep `path` current.  Calls onData(data) with the first answer and again whenever
 * the answer differs from the last one drawn (a table's index also moves for changes
 * to other objects; redrawing identical data would only lose the reader's text
 * selection).  Calls onError(error) on every failure, then retries with backoff.
 * Returns a function that stops watching and aborts the request in flight.
 */
export function watch(path, { params, onData, onError, wait = BLOCKING_WAIT }) {
  const controller = new AbortController();
  const { signal } = controller;

  (async () => {
    let index = 0;
    let failures = 0;
    let lastText = null;
    while (!signal.aborted) {
      try {
        const query = index > 0 ? { ...params, index, wait } : { ...params };
        const answer = await request(path, { params: query, signal });
        if (signal.aborted) return;
        failures = 0;
        const fresh = answer.text !== lastText;
        if (fresh) {
          lastText = answer.text;
          onData(answer.text ? JSON.parse(answer.text) : null);
        }
        if (!answer.index) {
          await pause(POLL_MS, signal);
        } else if (answer.index === index) {
          await pause(UNCHANGED_PAUSE_MS, signal); // the wait ran out with nothing new
        }
        // The index may go backwards (a restored or restarted server): follow it.
        index = answer.index;
      } catch (err) {
        if (signal.aborted) return;
        failures += 1;
        index = 0;
        lastText = null; // after an error, the next answer is drawn even if unchanged
        onError(err);
        await pause(Math.min(RETRY_MS * 2 ** (failures - 1), MAX_RETRY_MS), signal);
      }
    }
  })();

  return () => controller.abort();
}

/**
 * Call `load(signal)` now and every `intervalMs`; for views built from several
 * index-less requests (servers: members + leader).  Same callbacks and
 * redraw rule as `watch`.
 */
export function poll(load, { onData, onError, intervalMs = POLL_MS }) {
  const controller = new AbortController();
  const { signal } = controller;

  (async () => {
    let failures = 0;
    let last = null;
    while (!signal.aborted) {
      try {
        const data = await load(signal);
        if (signal.aborted) return;
        failures = 0;
        const text = JSON.stringify(data);
        if (text !== last) {
          last = text;
          onData(data);
        }
        await pause(intervalMs, signal);
      } catch (err) {
        if (signal.aborted) return;
        failures += 1;
        last = null;
        onError(err);
        await pause(Math.min(RETRY_MS * 2 ** (failures - 1), MAX_RETRY_MS), signal);
      }
    }
  })();

  return () => controller.abort();
}
