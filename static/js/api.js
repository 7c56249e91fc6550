// Every network call of the page: REST (docs/api.md) and the run's WebSocket stream.
// Same origin only: the page never talks to another host.

import { unpack } from "./packed.js";

export class ApiError extends Error {
  constructor(status, detail, retryAfter = null) {
    super(typeof detail === "string" ? detail : JSON.stringify(detail));
    this.status = status;
    this.detail = detail;
    this.retryAfter = retryAfter;
  }
  /** A one-line, human message (still user text: escape before showing). */
  get text() {
    if (Array.isArray(this.detail)) {
      return this.detail.map((d) => `${(d.loc || []).slice(1).join(".")}: ${d.msg}`).join("; ");
    }
    return String(this.detail ?? `HTTP ${this.status}`);
  }
}

async function call(method, path, body) {
  const init = { method, headers: {} };
  // The server refuses a state-changing request without this type, body or not (415):
  // a cross-site form or no-cors fetch cannot send it.
  if (method !== "GET") init.headers["Content-Type"] = "application/json";
  if (body !== undefined) init.body = JSON.stringify(body);
  let res;
  try {
    res = await fetch(path, init);
  } catch (err) {
    throw new ApiError(0, "the server cannot be reached");
  }
  if (res.status === 204) return null;
  let payload = null;
  try {
    payload = await res.json();
  } catch {
    payload = null;
  }
  if (!res.ok) {
    const retry = Number(res.headers.get("Retry-After"));
    const err = new ApiError(res.status, payload?.detail ?? res.statusText, Number.isFinite(retry) ? retry : null);
    err.reason = payload?.reason ?? null; // a 429's limit: server_full, client_runs, client_memory, server_memory
    throw err;
  }
  return payload;
}

const runPath = (id) => `/api/runs/${encodeURIComponent(id)}`;

export const api = {
  options: () => call("GET", "/api/options"),
  createRun: (config) => call("POST", "/api/runs", config),
  getRun: (id) => call("GET", runPath(id)),
  patchRun: (id, patch) => call("PATCH", runPath(id), patch),
  data: (id) => call("GET", `${runPath(id)}/data`),
  frame: (id, grid = true) => call("GET", `${runPath(id)}/frame?grid=${grid}`),
  /** A frame without grid whose `explain` is the selection "l,j" or "l,j,k" (0-based j, k). */
  explain: (id, sel) => call("GET", `${runPath(id)}/frame?grid=false&explain=${encodeURIComponent(sel)}`),
  step: (id, body = { steps: 1 }) => call("POST", `${runPath(id)}/step`, body),
  /** The costs and the layers' norms and health over time; histograms: add the layer histograms' snapshots. */
  /** since: only the points after that step (null: all of it); docs/api.md. */
  history: (id, histograms = false, since = null) => {
    const q = [histograms ? "histograms=true" : "", since === null || since === undefined ? "" : `since=${since}`].filter(Boolean).join("&");
    return call("GET", `${runPath(id)}/history${q ? `?${q}` : ""}`);
  },
  deleteRun: (id) => call("DELETE", runPath(id)),
  /** The kept steps the run can be rewound to (docs/api.md, "Rewind"). */
  timeline: (id) => call("GET", `${runPath(id)}/timeline`),
  /** Move the run to the latest kept step ≤ step: answers its frame (grid, history). */
  rewind: (id, step) => call("POST", `${runPath(id)}/rewind`, { step }),
  /** A run made from an exported document (201 RunInfo), or a 422 naming its field. */
  importRun: (doc) => call("POST", "/api/runs", { import: doc }),
  /** The run as its document, exactly as the server wrote it: {text, filename}. */
  async exportRun(id) {
    let res;
    try {
      res = await fetch(`${runPath(id)}/export`);
    } catch {
      throw new ApiError(0, "the server cannot be reached");
    }
    const text = await res.text();
    if (!res.ok) {
      let detail = res.statusText;
      try {
        detail = JSON.parse(text).detail ?? detail;
      } catch {}
      throw new ApiError(res.status, detail);
    }
    const name = /filename="([^"]+)"/.exec(res.headers.get("Content-Disposition") ?? "");
    return { text, filename: name ? name[1] : null };
  },
};

/**
 * The run's stream. handlers: {frame(f), rebuilt(run), error(detail, id), open(), close(ev)}
 * (id: the refused message's own id, if it had one).
 * Messages sent while the socket is (re)connecting wait in a short queue.
 */
export function openStream(id, handlers) {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  // Frames packed (float32 after a JSON header: docs/frames.md), read back by unpack into
  // the same frame as JSON; other messages are JSON text.
  const ws = new WebSocket(`${proto}//${location.host}${runPath(id)}/stream?encoding=f32`);
  ws.binaryType = "arraybuffer";
  const queue = [];
  ws.onopen = () => {
    while (queue.length) ws.send(queue.shift());
    handlers.open?.();
  };
  ws.onmessage = (ev) => {
    let msg;
    try {
      msg = typeof ev.data === "string" ? JSON.parse(ev.data) : unpack(ev.data);
    } catch {
      return;
    }
    if (msg.type === "frame") handlers.frame?.(msg);
    else if (msg.type === "rebuilt") handlers.rebuilt?.(msg.run);
    else if (msg.type === "error") handlers.error?.(msg.detail, msg.id);
  };
  ws.onclose = (ev) => handlers.close?.(ev);
  return {
    send(msg) {
      const text = JSON.stringify(msg);
      if (ws.readyState === WebSocket.OPEN) ws.send(text);
      else if (ws.readyState === WebSocket.CONNECTING && queue.length < 32) queue.push(text);
    },
    /** w^l_jk = value; j, k 0-based (docs/api.md); answered by a frame, or an error. */
    setWeight(l, j, k, value) {
      this.send({ type: "set_weight", l, j, k, value });
    },
    close() {
      ws.onclose = null;
      ws.close();
    },
    get open() {
      return ws.readyState === WebSocket.OPEN;
    },
  };
}
