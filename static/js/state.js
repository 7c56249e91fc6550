// Application state and the URL hash. One property table drives parsing, validation and
// serialisation (as Playground's state.ts does), so every setting round-trips through the hash.
// Hash keys are the API's RunConfig names (the teacher's BPV_PRESET uses the same format),
// plus view settings and the hide= / lock= flags.

/** kind: str | num | int | bool | list (comma list of names) | ints (comma list of ints). */
export const PROPS = [
  // RunConfig: sent to the server.
  { key: "dataset", kind: "str", config: true },
  { key: "noise", kind: "num", config: true, range: [0, 0.5] },
  { key: "train_share", kind: "num", config: true, range: [0.1, 0.9] },
  { key: "seed", kind: "int", config: true, range: [0, 2 ** 32 - 1] },
  { key: "features", kind: "list", config: true },
  { key: "hidden", kind: "ints", config: true, range: [1, 8] },
  { key: "hidden_activation", kind: "str", config: true },
  { key: "output_activation", kind: "str", config: true, nullable: true },
  { key: "cost", kind: "str", config: true, nullable: true },
  { key: "init", kind: "str", config: true },
  { key: "learning_rate", kind: "num", config: true, range: [1e-5, 10] },
  { key: "batch_size", kind: "int", config: true, range: [1, 512] },
  { key: "regulariser", kind: "str", config: true },
  { key: "lambda", kind: "num", config: true, range: [0, 10] },
  { key: "momentum", kind: "num", config: true, range: [0, 0.99] },
  { key: "probe", kind: "int", config: true, range: [0, 1e6] },
  // View: this page only (speed is sent as a stream message, not as config).
  { key: "speed", kind: "int", def: 10, range: [1, 100000] },
  { key: "color", kind: "str", def: "backward", choices: ["backward", "weight", "gradient", "forward"] },
  { key: "over", kind: "str", def: "probe", choices: ["probe", "mean"] },
  { key: "fill", kind: "str", def: "delta", choices: ["delta", "a", "z"] },
  { key: "test", kind: "bool", def: false },
  { key: "discretize", kind: "bool", def: false },
  { key: "hide", kind: "list", def: [] },
  { key: "lock", kind: "list", def: [] },
];
const BY_KEY = Object.fromEntries(PROPS.map((p) => [p.key, p]));
export const CONFIG_KEYS = PROPS.filter((p) => p.config).map((p) => p.key);
/** Changing only these keeps the network's weights (docs/api.md). */
export const KEEP_WEIGHTS = ["learning_rate", "lambda", "regulariser", "batch_size", "momentum"];

function parseValue(prop, text, choices) {
  const t = text.trim();
  if (prop.nullable && (t === "" || t === "auto" || t === "null")) return { ok: true, value: null };
  let value;
  switch (prop.kind) {
    case "num":
    case "int": {
      if (!/^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(t)) return { ok: false };
      value = Number(t);
      if (prop.kind === "int" && !Number.isInteger(value)) return { ok: false };
      const [lo, hi] = prop.range;
      if (value < lo || value > hi) return { ok: false };
      return { ok: true, value };
    }
    case "bool":
      if (["true", "1", "yes"].includes(t)) return { ok: true, value: true };
      if (["false", "0", "no"].includes(t)) return { ok: true, value: false };
      return { ok: false };
    case "ints": {
      if (t === "") return { ok: true, value: [] };
      const parts = t.split(",");
      if (!parts.every((x) => /^\d+$/.test(x.trim()))) return { ok: false };
      value = parts.map(Number);
      if (value.some((n) => n < prop.range[0] || n > prop.range[1])) return { ok: false };
      return { ok: true, value };
    }
    case "list": {
      value = t === "" ? [] : t.split(",").map((x) => x.trim()).filter(Boolean);
      if (choices && !value.every((v) => choices.includes(v))) return { ok: false };
      return { ok: true, value };
    }
    default:
      if (choices && !choices.includes(t)) return { ok: false };
      return { ok: true, value: t };
  }
}

/**
 * Parse a hash ("#dataset=xor&hidden=4,4") into settings. choices: key → allowed values
 * (from GET /api/options). Returns {values, rejected: [[key, text], ...]}; rejected items are
 * user text and must be escaped wherever they are shown.
 */
export function parseHash(hash, choices = {}) {
  const values = {};
  const rejected = [];
  const text = String(hash || "").replace(/^#/, "");
  if (!text) return { values, rejected };
  for (const part of text.split("&")) {
    if (!part) continue;
    const eq = part.indexOf("=");
    let key;
    let val;
    try {
      key = decodeURIComponent(eq < 0 ? part : part.slice(0, eq));
      val = eq < 0 ? "true" : decodeURIComponent(part.slice(eq + 1).replace(/\+/g, " "));
    } catch {
      rejected.push([part, ""]);
      continue;
    }
    const prop = BY_KEY[key];
    if (!prop) {
      rejected.push([key, val]);
      continue;
    }
    const r = parseValue(prop, val, choices[key] || prop.choices);
    if (r.ok) values[key] = r.value;
    else rejected.push([key, val]);
  }
  return { values, rejected };
}

function show(prop, v) {
  if (v === null || v === undefined) return prop.nullable ? "null" : ""; // as BPV_PRESET reads it
  if (Array.isArray(v)) return v.join(",");
  return String(v);
}

/** Serialise every setting (config and view) in the table's order. */
export function toHash(settings) {
  const parts = [];
  for (const prop of PROPS) {
    const v = settings[prop.key];
    if ((prop.key === "hide" || prop.key === "lock") && (!v || v.length === 0)) continue;
    if (v === undefined) continue;
    const enc = encodeURIComponent(show(prop, v)).replace(/%2C/g, ",").replace(/%5E/g, "^");
    parts.push(`${prop.key}=${enc}`);
  }
  return parts.join("&");
}

export function viewDefaults() {
  return Object.fromEntries(PROPS.filter((p) => !p.config).map((p) => [p.key, structuredClone(p.def)]));
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
 * The settings a page opens with: the server's default experiment (the teacher's preset
 * if set), then the preset string's page-only keys (hide=, lock=, view), then the URL hash.
 * Returns both parses; their `rejected` items are user text.
 */
export function initialSettings(store, opts, presetText, hash, canonical) {
  const def = { ...opts.default_config };
  if (def.lambda_ !== undefined) def.lambda = def.lambda_;
  delete def.lambda_;
  delete def.csv;
  const choices = {
    dataset: [...new Set([...opts.datasets.map((d) => d.name), "csv"])],
    features: opts.features.map((f) => f.name),
    hidden_activation: opts.activations.hidden,
    output_activation: opts.activations.output,
    cost: Object.keys(opts.costs),
    init: opts.inits,
    regulariser: opts.regularisers,
  };
  const preset = parseHash(presetText, choices);
  const fromHash = parseHash(hash, choices);
  Object.assign(store.settings, def, preset.values, fromHash.values);
  store.settings.hide = store.settings.hide.map(canonical);
  store.settings.lock = store.settings.lock.map(canonical);
  return { preset, fromHash };
}

/** The page's state: one object, one change channel. */
class Store {
  constructor() {
    this.settings = viewDefaults();
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
