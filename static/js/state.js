// Application state and the URL hash. The link grammar and its one parser live on the
// server (app/api/presets.py, also used for the teacher's BPV_PRESET): the page asks
// GET /api/preset?hash=… what a link sets, and writes its own links with the grammar that
// request returns, so the page and the server cannot read a link differently.

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
 */
export function initialSettings(store, opts, link, canonical) {
  setGrammar(link.grammar);
  const s = store.settings;
  for (const g of GRAMMAR) if (g.target === "view") s[g.key] = structuredClone(g.default);
  for (const k of CONFIG_KEYS) if (Object.hasOwn(opts.default_config, k)) s[k] = opts.default_config[k];
  for (const part of [link.preset.view, link.hash.config, link.hash.view]) {
    for (const g of GRAMMAR) if (g.key !== "csv" && Object.hasOwn(part, g.key)) s[g.key] = part[g.key];
  }
  s.hide = s.hide.map(canonical).filter((x) => typeof x === "string");
  s.lock = s.lock.map(canonical).filter((x) => typeof x === "string");
}

/** The page's state: one object, one change channel. */
class Store {
  constructor() {
    this.settings = { hide: [], lock: [] }; // filled by initialSettings()
    this.options = null;
    this.run = null; // RunInfo
    this.data = null; // GET /data
    this.frame = null; // latest applied frame
    this.selection = null; // {type: "neuron", l, j} | {type: "edge", l, j, k}
    this.highlight = null; // set by the walkthrough / step-through
    this.mode = "normal"; // normal | walkthrough | stepthrough
    this.listeners = new Set();
  }
  subscribe(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
  emit(what) {
    for (const fn of this.listeners) fn(what, this);
  }
  hidden(control) {
    return this.settings.hide.includes(control) || this.settings.hide.includes("all");
  }
  locked(control) {
    return this.settings.lock.includes(control) || this.settings.lock.includes("all");
  }
  writeHash() {
    const h = toHash(this.settings);
    if (location.hash.replace(/^#/, "") !== h) history.replaceState(null, "", `#${h}`);
  }
}

export const store = new Store();
