// Application state and the URL hash. The link grammar and its one parser live on the
// server (app/api/presets.py, also used for the teacher's BPV_PRESET): the page asks
// GET /api/preset?hash=… what a link sets, and writes its own links with the grammar that
// request returns, so the page and the server cannot read a link differently.
// The store (below) holds the page's state and is its one write path: store.update.

/** The grammar's keys in order: {key, kind, target: "config"|"view", nullable, default}. */
export let GRAMMAR = [];
/** RunConfig keys the page keeps in its settings (CSV text stays out of links). */
export let CONFIG_KEYS = [];
/** Changing only these keeps the network's weights (docs/api.md). */
export const KEEP_WEIGHTS = ["learning_rate", "lambda", "regulariser", "batch_size", "momentum"];

/**
 * What the teacher's preset and this hash set, from the server's parser:
 * {preset: {config, view, ignored}, hash: {config, view, ignored}, grammar}. Never throws:
 * a link the server refuses outright (too long) is read as empty, with the reason.
 */
export async function readLink(hash) {
  const ask = async (h) => {
    const res = await fetch(`/api/preset?hash=${encodeURIComponent(h)}`);
    const body = await res.json().catch(() => null);
    return { ok: res.ok, body };
  };
  const text = String(hash || "").replace(/^#/, "");
  const r = await ask(text);
  if (r.ok) return r.body;
  const retry = await ask("");
  if (!retry.ok) throw new Error(`GET /api/preset: ${JSON.stringify(r.body?.detail ?? r.body)}`);
  const why = Array.isArray(r.body?.detail) ? r.body.detail.map((d) => d.msg).join("; ") : String(r.body?.detail ?? "refused");
  retry.body.hash.ignored.push({ key: "(link)", value: `${text.slice(0, 40)}…`, reason: why, kind: "invalid" });
  return retry.body;
}

function setGrammar(grammar) {
  GRAMMAR = grammar;
  CONFIG_KEYS = grammar.filter((g) => g.target === "config" && g.key !== "csv").map((g) => g.key);
}

function show(g, v) {
  if (v === null || v === undefined) return g.nullable ? "null" : "";
  if (Array.isArray(v)) return v.join(",");
  return String(v);
}

/** Serialise every setting (config and view) in the grammar's order. */
export function toHash(settings) {
  const parts = [];
  for (const g of GRAMMAR) {
    if (g.key === "csv") continue;
    const v = settings[g.key];
    if ((g.key === "hide" || g.key === "lock") && (!v || v.length === 0)) continue;
    if (v === undefined) continue;
    const enc = encodeURIComponent(show(g, v)).replace(/%2C/g, ",").replace(/%5E/g, "^");
    parts.push(`${g.key}=${enc}`);
  }
  return parts.join("&");
}

export function configOf(settings) {
  const out = {};
  for (const k of CONFIG_KEYS) if (settings[k] !== undefined) out[k] = settings[k];
  return out;
}

/** Keys whose values differ between two configs (arrays compared by value). */
export function diffKeys(a, b) {
  return CONFIG_KEYS.filter((k) => JSON.stringify(a[k] ?? null) !== JSON.stringify(b[k] ?? null));
}

/**
 * The settings a page opens with: the grammar's view defaults, the server's default
 * experiment (the teacher's preset if set), the preset's page-only keys (hide=, lock=, view),
 * then the URL hash; `link` is readLink()'s answer. Only keys of the grammar are copied.
 * Returns the settings (the caller puts them in the store).
 */
export function initialSettings(opts, link, canonical) {
  setGrammar(link.grammar);
  const s = { hide: [], lock: [] };
  for (const g of GRAMMAR) if (g.target === "view") s[g.key] = structuredClone(g.default);
  for (const k of CONFIG_KEYS) if (Object.hasOwn(opts.default_config, k)) s[k] = opts.default_config[k];
  for (const part of [link.preset.view, link.hash.config, link.hash.view]) {
    for (const g of GRAMMAR) if (g.key !== "csv" && Object.hasOwn(part, g.key)) s[g.key] = part[g.key];
  }
  s.hide = s.hide.map(canonical).filter((x) => typeof x === "string");
  s.lock = s.lock.map(canonical).filter((x) => typeof x === "string");
  return s;
}

/** Show the settings in the address bar (our own writes fire no hashchange). */
export function writeHash(settings) {
  const h = toHash(settings);
  if (location.hash.replace(/^#/, "") !== h) history.replaceState(null, "", `#${h}`);
}

/**
 * settings from a run's config (the server's answer wins over what the page asked for); the
 * CSV text stays out (it is kept in store.csvText, never in links).
 */
export function settingsFromRun(run, settings) {
  const out = {};
  for (const [k, v] of Object.entries(run.config)) if (k !== "csv" && k in settings && v !== undefined) out[k] = v;
  if (run.config.lambda_ !== undefined) out.lambda = run.config.lambda_;
  return out;
}

const STATE = {
  options: null, // GET /api/options
  settings: { hide: [], lock: [] }, // config + view keys of the link grammar (initialSettings)
  run: null, // RunInfo (docs/api.md)
  data: null, // GET /data, with __rev counting reloads
  csvText: null, // an uploaded CSV's text (never in a link), and its file name
  csvName: "",
  frame: null, // the frame on screen (docs/frames.md); never changed once stored
  selection: null, // {type: "neuron", l, j} | {type: "edge", l, j, k} (j, k 0-based)
  timeline: null, // GET /api/runs/{id}/timeline + run_id: the steps the run can go back to (timeline.js)
  highlight: null, // a guide's highlight: {edges, nodes, context, pending: Set, color, fill, labels}
  mode: "normal", // normal | a guide of App.guides: walkthrough | stepthrough | matrices | backward
  layersTab: "gradient", // the layers panel's tab: gradient (gradient_strip.js) | distributions (distributions.js)
  histKind: "w", // what the distributions show: w | a | delta
  layerHistory: null, // GET /api/runs/{id}/history (+ run_id, histograms_asked): the layers over time
};

const rethrow = (err) =>
  queueMicrotask(() => {
    throw err;
  });
const same = (a, b) => a === b || (Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => x === b[i]));
const frozen = (v) => (Array.isArray(v) ? Object.freeze([...v]) : v);

/**
 * The page's state, with one write path. Read the fields (store.frame, store.settings, …);
 * change them only with store.update(patch, meta): the fields named in patch are replaced
 * (settings: the keys given are merged into a new settings object), then every subscriber
 * of a field that changed is called once, after the whole patch is in place. An update made
 * by a subscriber waits until every subscriber of the current one has run, so all of them
 * see the same state. Fields have no setters: `store.frame = f` throws (ES modules are strict).
 */
export class Store {
  #state = Object.freeze({ ...STATE, settings: Object.freeze({ hide: frozen([]), lock: frozen([]) }) });
  #subs = [];
  #queue = [];
  #busy = false;

  /** report(err): how a subscriber's error is made known (by default thrown on its own, so
   * the console and the tests see it while the other subscribers still draw). */
  constructor({ report = rethrow } = {}) {
    this.report = report;
    for (const k of Object.keys(STATE)) Object.defineProperty(this, k, { get: () => this.#state[k], enumerable: true });
  }

  /**
   * Subscribe fn(change) to the fields in events (a name or a list of STATE's names);
   * change = {fields: Set of changed fields, keys: Set of changed settings keys, meta}.
   * Returns the function that unsubscribes.
   */
  on(events, fn) {
    const sub = { events: new Set([events].flat()), fn };
    for (const e of sub.events) if (!Object.hasOwn(STATE, e)) throw new Error(`store.on: no field ${e}`);
    this.#subs.push(sub);
    return () => {
      this.#subs = this.#subs.filter((s) => s !== sub);
    };
  }

  /** Replace the fields in patch (settings: merge its keys) and tell their subscribers. */
  update(patch, meta = {}) {
    this.#queue.push([patch, meta]);
    if (this.#busy) return;
    this.#busy = true;
    try {
      while (this.#queue.length) this.#apply(...this.#queue.shift());
    } finally {
      this.#busy = false;
      this.#queue.length = 0;
    }
  }

  #apply(patch, meta) {
    const next = { ...this.#state };
    const fields = new Set();
    const keys = new Set();
    for (const [k, v] of Object.entries(patch)) {
      if (!Object.hasOwn(STATE, k)) throw new Error(`store.update: no field ${k}`);
      if (k !== "settings") {
        if (next[k] !== v) {
          next[k] = v;
          fields.add(k);
        }
        continue;
      }
      const s = { ...next.settings };
      for (const [sk, sv] of Object.entries(v)) {
        if (same(s[sk], sv)) continue;
        s[sk] = frozen(sv);
        keys.add(sk);
      }
      if (keys.size) {
        next.settings = Object.freeze(s);
        fields.add("settings");
      }
    }
    if (!fields.size) return;
    this.#state = Object.freeze(next);
    const change = { fields, keys, meta };
    for (const sub of this.#subs) {
      if (![...fields].some((f) => sub.events.has(f))) continue;
      try {
        sub.fn(change);
      } catch (err) {
        this.report(err); // one view's fault must not stop the others drawing
      }
    }
  }

  hidden(control) {
    return this.settings.hide.includes(control) || this.settings.hide.includes("all");
  }

  locked(control) {
    return this.settings.lock.includes(control) || this.settings.lock.includes("all");
  }
}
