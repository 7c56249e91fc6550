// A teacher's lock= holds against every control, not only the locked ones: picking a data set
// (or a problem type, which picks one) brings the data set's own settings (GET /api/options:
// `link`, the digits' 64-30-10 network), but never changes a setting the link locks. A data
// set that cannot work with a locked value is refused, with the reason, and nothing changes.

import { datasetLabel } from "./digit_views.js";
import { ACT_LABEL, COST_LABEL } from "./quantities.js";
import { GROUP_SETTINGS } from "./save_open.js";

/** The lock= name that holds run setting `key` ("all" if only lock=all does), or null.
 * Problem type is left out: it locks the kind of problem, not the data set (kindRefusal). */
export function lockOf(key, lock) {
  const by = lock.find((g) => g !== "problem" && (GROUP_SETTINGS[g] ?? []).includes(key));
  return by ?? (lock.includes("all") ? "all" : null);
}

const act = (v) => ACT_LABEL[v] ?? v;
const cost = (v) => COST_LABEL[v] ?? v;

/**
 * Picking data set `name` under the link's locks. want: the settings the pick makes without
 * locks (the data set's preset, the defaults it restores, the caller's extra, dataset and csv);
 * settings: the page's settings now (lock: the link's canonical group names); opts: GET
 * /api/options. Returns {patch}: want without the settings the link locks, or {refusal}: why
 * the data set cannot be used with a locked value (a sentence for the banner; send nothing).
 */
export function pickUnderLocks(name, want, { settings, opts }) {
  const lock = settings.lock ?? [];
  const ds = opts.datasets.find((d) => d.name === name);
  const now = opts.datasets.find((d) => d.name === settings.dataset);
  const label = ds ? datasetLabel(ds) : name;
  const no = (why) => ({ refusal: `${label} was not picked: ${why}. Nothing was changed.` });
  const kind = ds?.kind;
  const patch = {};
  for (const [k, v] of Object.entries(want)) if (!lockOf(k, lock)) patch[k] = v;
  if (name === settings.dataset) return { patch };
  const by = lockOf("dataset", lock);
  if (by) return no(`this page's link keeps the data set ${settings.dataset} (lock=${by})`);
  if (now && kind !== now.kind && (lock.includes("problem") || lock.includes("all"))) {
    return no(`it is a ${kind} problem and this page's link keeps the problem type ${now.kind} (lock=problem)`);
  }
  const s = { ...settings, ...patch };
  const featuresBy = lockOf("features", lock);
  if (featuresBy && ds?.image) {
    const n = ds.image[0] * ds.image[1];
    return no(`its ${n} pixels go into the network directly, but this page's link keeps the input features ${s.features.join(", ")} (lock=${featuresBy}), which apply to the 2-D data sets only`);
  }
  const hiddenBy = lockOf("hidden", lock);
  const cap = ds?.image ? opts.limits.max_digits_width : opts.limits.max_width;
  if (hiddenBy && cap && s.hidden.some((n) => n > cap)) {
    return no(`it allows at most ${cap} neurons per hidden layer, but this page's link keeps the hidden layers at [${s.hidden.join(", ")}] (lock=${hiddenBy})`);
  }
  const outs = opts.kinds?.[kind]?.outputs;
  const outBy = lockOf("output_activation", lock);
  if (outs && outBy && s.output_activation && !outs.includes(s.output_activation)) {
    return no(`a ${kind} problem cannot use a ${act(s.output_activation)} output layer, and this page's link keeps that output activation (lock=${outBy})`);
  }
  const costBy = lockOf("cost", lock);
  if (outs && costBy && s.cost) {
    const pairs = (opts.costs?.[s.cost] ?? []).filter((o) => outs.includes(o));
    if (!pairs.length) return no(`a ${kind} problem can use none of the output layers the ${cost(s.cost)} cost needs, and this page's link keeps that cost (lock=${costBy})`);
  }
  return { patch };
}

/** Why choosing output activation `out` may not be done (the locked cost cannot pair with
 * it), or null. costs: GET /api/options's costs (cost → outputs it pairs with). */
export function outputRefusal(out, { settings, costs }) {
  const by = lockOf("cost", settings.lock ?? []);
  const c = settings.cost;
  if (!by || !out || !c || (costs[c] ?? []).includes(out)) return null;
  return `The ${act(out)} output layer cannot pair with the ${cost(c)} cost, which this page's link keeps (lock=${by}). Nothing was changed.`;
}
