// The gradient across layers (issue 13, item 1): Nielsen's "speed of learning" of each layer
// (chapter 5) on a log scale, so that vanishing and exploding gradients are seen, not
// inferred. Now: per layer l = 2..L, ‖δˡ‖ and ‖∂C/∂wˡ‖ of the probe or of the batch mean
// (the frame's `norms`, docs/frames.md) as bars on a log axis with their numbers, and the
// share of saturated units and dead ReLUs (the frame's `health.layers`). Over time: a layer ×
// step heat strip from GET /api/runs/{id}/history (asked at most once a second for the points
// after the last one the page has, HistoryFeed and mergeHistory) of the quantity a selector
// picks (heatSeries): ‖∂C/∂wˡ‖ or ‖δˡ‖ of the same source on a log scale, or the share of
// saturated units or dead ReLUs on a linear 0-100 % scale (offered only where the live strip
// shows that count). A norm of exactly 0 is said "0" and drawn as no bar with a "0" on the
// floor: a log axis has no place for it, and it must not pass for a very small number.

import { actAbout } from "./quantities.js";
import { $, fmt, html, kickThrottled, setHTML, sup } from "./util.js";

/** What the view shows of the frame's norms, per source (the "Values" setting, settings.over). */
export const SOURCES = {
  probe: {
    delta: { key: "probe_delta", label: "‖δˡ‖", title: "‖δˡ‖₂ of the probe example" },
    grad: { key: "probe_grad_w", label: "‖∂Cₓ/∂wˡ‖", title: "‖∂Cₓ/∂wˡ‖_F of the probe example (= ‖δˡ‖·‖aˡ⁻¹‖, BP4)" },
  },
  mean: {
    delta: { key: "grad_b", label: "‖mean δˡ‖", title: "‖∂C/∂bˡ‖₂ = ‖mean δˡ‖₂ over the batch (BP3)" },
    grad: { key: "grad_w", label: "‖∂C/∂wˡ‖", title: "‖∂C/∂wˡ‖_F of the batch-mean gradient (what the next update applies)" },
  },
};

/** The backend's thresholds (app/core/saturation.py, docs/frames.md "health"), in words. */
export const SATURATED_RULE = "saturated: σ′(z) < 1 % of its largest value (¼ for σ, 1 for tanh) on ≥ half of the training examples";
export const DEAD_RULE = "dead ReLU: z ≤ 0 on every training example (σ′ = 0: it never learns again)";

/** A norm as shown: 3 significant digits, and an honest "0" for exactly zero. */
export function normText(v) {
  if (v === null || v === undefined || Number.isNaN(v)) return "—";
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a < 1e-3 || a >= 1e4) return v.toExponential(2).replace("e+", "e").replace("-", "−");
  return fmt(v, 3);
}

/**
 * The whole decades [lo, hi] (integers, lo < hi) that hold every positive finite value, at
 * least `min` decades wide (widened downwards) and at most `max` (the smallest values then
 * sit on the floor). No positive value: [−min, 0].
 */
export function decadeRange(values, { min = 2, max = 12 } = {}) {
  let a = Infinity;
  let b = -Infinity;
  for (const v of values) {
    if (!(v > 0) || !Number.isFinite(v)) continue;
    a = Math.min(a, v);
    b = Math.max(b, v);
  }
  if (a === Infinity) return [-min, 0];
  let hi = Math.ceil(Math.log10(b) - 1e-12) + 0; // + 0: never −0
  let lo = Math.floor(Math.log10(a) + 1e-12);
  if (hi <= lo) hi = lo + 1;
  if (hi - lo < min) lo = hi - min;
  if (hi - lo > max) lo = hi - max;
  return [lo, hi];
}

/**
 * Position of v on a log axis over decades [lo, hi]: 0 at 10^lo, 1 at 10^hi, clamped to
 * [0, 1]; null for 0, negative or missing values (they have no place on a log axis).
 */
export function logPos(v, lo, hi) {
  if (!(v > 0) || !Number.isFinite(v)) return null;
  const t = (Math.log10(v) - lo) / (hi - lo);
  return Math.max(0, Math.min(1, t));
}

/** 10^k as a label: "10⁻⁵", "1", "10". */
export function decadeLabel(k) {
  if (k === 0) return "1";
  if (k === 1) return "10";
  return k < 0 ? `10⁻${sup(-k)}` : `10${sup(k)}`;
}

/**
 * Per layer l = 2..L, what the strip shows of a frame: {l, activation, delta, grad, saturated,
 * dead, n, canSaturate, canDie} (saturated/dead null where the health does not count the layer).
 */
export function layerRows(frame, over) {
  const src = SOURCES[over] ?? SOURCES.probe;
  const health = new Map((frame.health?.layers ?? []).map((h) => [h.l, h]));
  return frame.layers.map((layer) => {
    const h = health.get(layer.l);
    const about = actAbout(layer.activation);
    return {
      l: layer.l,
      activation: layer.activation,
      delta: layer.norms?.[src.delta.key] ?? null,
      grad: layer.norms?.[src.grad.key] ?? null,
      saturated: h ? h.saturated : null,
      dead: h ? h.dead : null,
      n: h?.n ?? frame.sizes[layer.l - 1],
      canSaturate: about ? !!about.saturates : true,
      canDie: about ? !!about.dies : false,
    };
  });
}

/**
 * The saturated or dead count of a layer row (what: "saturated" | "dead") as the strip shows
 * it: {text, title, count}. A count of a layer whose activation cannot saturate (ReLU,
 * linear, ...) or cannot die (all but ReLU) is always 0 and means nothing, so it is a dash
 * that says why (count null), as is a layer the health does not count (σ′ cancels in BP1 at
 * the output). A count above 0 is always shown.
 */
export function unitCell(r, what) {
  const v = r[what];
  if (v === null || v === undefined) return { text: "—", title: "not counted: σ′ cancels in BP1 at this output", count: null };
  const applies = what === "saturated" ? r.canSaturate : r.canDie;
  if (applies || v > 0) return { text: `${v}/${r.n}`, title: "", count: v };
  const name = actAbout(r.activation)?.label ?? r.activation ?? "this";
  const title =
    what === "saturated"
      ? `not counted: ${name} units do not saturate (σ′ does not shrink towards 0 as |z| grows, as it does for tanh and σ)${r.canDie ? "; a ReLU with z ≤ 0 on every example is counted as dead" : ""}`
      : `not counted: ${name} units cannot die (σ′ is 0 on no range of z; only a ReLU's is, for every z ≤ 0)`;
  return { text: "—", title, count: null };
}

/** Which count rows the strip shows: a row only where some layer can have that count. */
export function shownCounts(rows) {
  return {
    saturated: rows.some((r) => r.canSaturate || (r.saturated ?? 0) > 0),
    dead: rows.some((r) => r.canDie || (r.dead ?? 0) > 0),
  };
}

// A sequential colour scale for magnitudes (viridis, colour-blind safe): dark is small.
const VIRIDIS = [
  [68, 1, 84],
  [59, 82, 139],
  [33, 145, 140],
  [94, 201, 98],
  [253, 231, 37],
];
export const ZERO_RGB = [255, 255, 255]; // a norm of exactly 0
export const NONE_RGB = [236, 238, 241]; // a step without a point
export const OTHER_RGB = [176, 176, 176]; // a probe's norm measured on another example

/** Colour at t in [0, 1] of the sequential scale. */
export function seqRgb(t) {
  const x = Math.max(0, Math.min(1, t)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x));
  const f = x - i;
  return [0, 1, 2].map((q) => Math.round(VIRIDIS[i][q] + f * (VIRIDIS[i + 1][q] - VIRIDIS[i][q])));
}

/** The colour of a norm on the heat strip over decades [lo, hi]: 0 white, missing grey. */
export function heatRgb(v, lo, hi) {
  if (v === null || v === undefined || Number.isNaN(v)) return NONE_RGB;
  if (v === 0) return ZERO_RGB;
  return seqRgb(logPos(v, lo, hi) ?? 0);
}

/**
 * At most `cols` columns of a history of n points: the index of the point each column shows
 * (the last point of its stretch, so the newest point is always the last column).
 */
export function columnIndex(n, cols) {
  if (n <= cols) return Array.from({ length: n }, (_, i) => i);
  return Array.from({ length: cols }, (_, c) => Math.min(n - 1, Math.floor(((c + 1) * n) / cols) - 1));
}

const HEAT_COLS = 240; // columns of the heat strip at most (the history keeps 2,000 points)

/** What the heat strip can show over the run, in the selector's order (the template's
 * [data-heat-q] buttons): a norm of `SOURCES[over]` on a log scale, or a count's share of
 * the layer's units on a linear 0-100 % scale. */
export const HEAT_QUANTITIES = ["grad", "delta", "saturated", "dead"];

/** The quantities the selector offers: both norms always, a count only where the live strip
 * shows its row (shownCounts: some layer's activation can saturate / die). */
export function heatOffered(counts) {
  return HEAT_QUANTITIES.filter((q) => (q === "saturated" || q === "dead" ? !!counts[q] : true));
}

/** The quantity drawn: the one chosen while it is offered, else ‖∂C/∂w‖ (the choice itself
 * is kept, and drawn again when the network offers it again). */
export function heatPick(want, offered) {
  return offered.includes(want) ? want : "grad";
}

/** A count of n units as the readout says it: "5/8 = 62.5 %" (a share that is not 0 or all
 * is never rounded to 0 % or 100 %); without n, the count alone. */
export function shareText(count, n) {
  if (count === null || count === undefined || Number.isNaN(count)) return "—";
  if (!(n > 0)) return String(count);
  const p = (100 * count) / n;
  let pct = String(Number(p.toFixed(1)));
  if (count > 0 && pct === "0") pct = "<0.1";
  else if (count < n && pct === "100") pct = ">99.9";
  return `${count}/${n} = ${pct} %`;
}

/** The colour of a share in [0, 1] on the linear 0-100 % scale: missing (not counted, or a
 * step without a point) grey. */
export function shareRgb(v) {
  if (v === null || v === undefined || Number.isNaN(v)) return NONE_RGB;
  return seqRgb(v);
}

/**
 * Per step of the history, the example whose probe norms the point holds when it is not
 * `probe` (the one the page shows now), else null: the learner picked another probe since
 * (history.probe, docs/api.md; a step whose probe is not known counts as this one's).
 */
export function otherProbes(history, probe) {
  const steps = history?.step ?? [];
  const was = history?.probe ?? [];
  return steps.map((_, i) => (was[i] === null || was[i] === undefined || was[i] === probe ? null : was[i]));
}

/**
 * The heat strip of quantity q (HEAT_QUANTITIES) from a history's per-layer series, with the
 * strip's rows (layerRows: each layer's activation and unit count n), or null without points:
 * {q, scale: "log" | "share", key, label, caption, steps, rows: [{l, values, counts, n, why,
 * short}], idx, lo, hi, other}. A norm's values are the series (lo, hi its decades); a count's are count / n,
 * and a layer whose count means nothing (unitCell: it cannot saturate or die and never did,
 * or the health does not count it) has no values and says why (`short`: up to the reason's
 * first parenthesis or semicolon, for the readout). The probe's norms (over "probe") of a
 * step measured on another example than `probe`, the probe now, are not this probe's: `other`
 * names that example per step (null: this probe's), and they are drawn grey and left out of
 * the scale; the batch's norms and the counts do not depend on the probe (`other` all null).
 */
export function heatSeries(history, q, over, rows = [], probe = null) {
  const layers = history?.layers ?? [];
  const steps = history?.step ?? [];
  if (!layers.length || !steps.length) return null;
  const src = SOURCES[over] ?? SOURCES.probe;
  const idx = columnIndex(steps.length, HEAT_COLS);
  const none = steps.map(() => null);
  if (q === "grad" || q === "delta") {
    const { key, label } = src[q];
    const ofProbe = src === SOURCES.probe && probe !== null; // the probe's norms: whose?
    const other = ofProbe ? otherProbes(history, probe) : none;
    const out = layers.map((s) => ({ l: s.l, values: s[key] ?? [], counts: null, n: null, why: null }));
    const [lo, hi] = decadeRange(out.flatMap((r) => r.values.filter((_, i) => other[i] === null)), { min: 2 });
    const whose = ofProbe ? ` of probe #${probe}` : "";
    return { q, scale: "log", key, label, caption: `${label}${whose} over the run`, steps, rows: out, idx, lo, hi, other };
  }
  const byL = new Map(rows.map((r) => [r.l, r]));
  const nulls = steps.map(() => null);
  const out = layers.map((s) => {
    const r = byL.get(s.l) ?? { l: s.l, n: null, canSaturate: true, canDie: true };
    const counts = s[q] ?? null;
    const cell = unitCell({ ...r, [q]: counts ? Math.max(0, ...counts.map((c) => c ?? 0)) : null }, q);
    if (cell.count === null) return { l: s.l, values: nulls, counts: nulls, n: r.n, why: cell.title, short: cell.title.split(/ \(|;/)[0] };
    return { l: s.l, values: counts.map((c) => (c === null || !(r.n > 0) ? null : c / r.n)), counts, n: r.n, why: null };
  });
  const label = q === "saturated" ? "saturated" : "dead ReLU";
  return { q, scale: "share", key: q, label, caption: `share of ${q === "saturated" ? "saturated units" : "dead ReLUs"} over the run`, steps, rows: out, idx, lo: 0, hi: 1, other: none };
}

export const HISTORY_POINTS = 2000; // the server keeps the last 2,000 points (docs/api.md)
const COLUMNS = ["step", "epoch", "train_cost", "test_cost", "train_accuracy", "test_accuracy", "probe"];
const SERIES = ["probe_delta", "probe_grad_w", "grad_b", "grad_w", "saturated", "dead"];
const COUNTED = new Set(["saturated", "dead"]); // null as a whole when nothing is counted
const KINDS = ["w", "a", "delta"];

/**
 * The history a full GET /history would answer now, from `have` (a full answer, or one
 * merged before) and `inc`, the answer to `?since=<have's last step>` of the same
 * `revision` (the caller reads it all again when the revision differs): the columns joined
 * and cut to the newest `limit` points as the server keeps them; per layer each series
 * joined (null for the steps of a side that had no such layer or count: a count series
 * with no count left is null as a whole, as the server says it); the histogram snapshots
 * that `inc.histograms.kept` still lists, then the new ones. Neither argument is changed.
 */
export function mergeHistory(have, inc, limit = HISTORY_POINTS) {
  const n0 = have.step.length;
  const n1 = inc.step.length;
  const drop = Math.max(0, n0 + n1 - limit);
  const join = (a, b) => {
    const out = a.concat(b);
    return drop ? out.slice(drop) : out;
  };
  const nulls = (n) => new Array(n).fill(null);
  const out = { ...inc };
  for (const k of COLUMNS) out[k] = join(have[k] ?? nulls(n0), inc[k] ?? nulls(n1));
  const old = new Map((have.layers ?? []).map((x) => [x.l, x]));
  const add = new Map((inc.layers ?? []).map((x) => [x.l, x]));
  const ls = [...new Set([...old.keys(), ...add.keys()])].sort((a, b) => a - b);
  out.layers = ls.map((l) => {
    const layer = { l };
    for (const k of SERIES) {
      const s = join(old.get(l)?.[k] ?? nulls(n0), add.get(l)?.[k] ?? nulls(n1));
      layer[k] = COUNTED.has(k) && s.every((v) => v === null) ? null : s;
    }
    return layer;
  });
  out.histograms = inc.histograms ? mergeSnapshots(have.histograms, inc.histograms) : null;
  return out;
}

/** The histogram snapshots of a full read: have's at steps `inc.kept` lists, then inc's. */
function mergeSnapshots(have, inc) {
  if (!inc.kept || !have) return { step: inc.step, layers: inc.layers };
  const kept = new Set(inc.kept);
  const idx = have.step.map((s, i) => (kept.has(s) ? i : -1)).filter((i) => i >= 0);
  const old = new Map(have.layers.map((x) => [x.l, x]));
  const layers = inc.layers.map((x) => {
    const o = old.get(x.l);
    const layer = { l: x.l };
    for (const k of KINDS) layer[k] = [...idx.map((i) => o?.[k]?.[i] ?? null), ...x[k]];
    return layer;
  });
  return { step: [...idx.map((i) => have.step[i]), ...inc.step], layers };
}

/**
 * GET /history, asked at most once per `every` ms while the page shows new steps: the run
 * and the step on screen (and whether histograms are wanted) name what is wanted; a read is
 * asked when that differs from what the last read was asked for, never two at once. After
 * the first read of a run only the points after the last one the page has are asked for
 * (`since`, a few hundred bytes a second) and merged (mergeHistory); when the server's
 * `revision` differs from the one the page holds (the run was rewound, reset or opened
 * again: points it had may be gone or different), it is all read again at once.
 */
export class HistoryFeed {
  /** get(runId, histograms, since) → the history (since: a step, or null for all of it);
   * put(history with run_id and histograms_asked). */
  constructor({ get, put, every = 1000, now = () => performance.now(), later = (fn, ms) => setTimeout(fn, ms) }) {
    Object.assign(this, { get, put, every, clock: now, later });
    this.last = -Infinity;
    this.inFlight = false;
    this.timer = null;
    this.want = null; // {runId, key, histograms}
    this.have = null; // what the last read was asked for
    this.merged = null; // the history the page holds (what the last put was given)
    this.histograms = false;
  }

  /** The page shows this run at this step (key: anything that changes with new points). */
  frame(runId, key) {
    this.want = { runId, key: String(key), histograms: this.histograms };
    this.kick();
  }

  /** Histograms wanted (the distributions are on screen) or not. */
  wantHistograms(on) {
    if (this.histograms === on) return;
    this.histograms = on;
    if (this.want) this.frame(this.want.runId, this.want.key);
  }

  /** The run changed under the page (a rewind, a reset): read it all again. */
  stale() {
    this.have = null;
    this.merged = null;
    this.kick();
  }

  done() {
    const w = this.want;
    const h = this.have;
    return !!h && h.runId === w.runId && h.key === w.key && (h.histograms || !w.histograms);
  }

  kick() {
    kickThrottled(this, () => this.done());
  }

  async fetch() {
    const asked = { ...this.want };
    this.inFlight = true;
    this.last = this.clock();
    try {
      const m = this.merged;
      const base = m && m.run_id === asked.runId && m.step.length && (m.histograms_asked || !asked.histograms) ? m : null;
      let h = await this.get(asked.runId, asked.histograms, base ? base.step[base.step.length - 1] : null);
      if (base && h.revision !== base.revision) h = await this.get(asked.runId, asked.histograms, null);
      else if (base) h = mergeHistory(base, h);
      this.have = asked;
      this.merged = { ...h, run_id: asked.runId, histograms_asked: asked.histograms };
      this.put(this.merged);
    } catch {
      this.have = null; // a run gone or a lost connection: the session says so
      this.merged = null;
    } finally {
      this.inFlight = false;
    }
    if (this.have) this.kick();
  }
}

const REDRAW_MS = 150; // the strip while training plays (GradientStrip.update)

/** The view: the strip's table (now) and heat strip (over time) in root. onPick(q): the
 * learner chose q over time; the page keeps it in its settings (the link's `heat=`) and
 * draws again with it (update's `heat`). */
export class GradientStrip {
  constructor(root, { onPick }) {
    this.root = root;
    this.now = $(".gs-now", root);
    this.time = $(".gs-time", root);
    this.readout = $(".gs-readout", root);
    this.note = $(".gs-note", root);
    this.canvas = $("canvas.gs-heat", root);
    this.heatKey = null;
    this.drawnAt = -Infinity;
    this.drawnKey = null;
    this.heat = null; // heatSeries: what the heat strip shows
    this.picks = [...root.querySelectorAll("[data-heat-q]")];
    for (const b of this.picks) b.addEventListener("click", () => HEAT_QUANTITIES.includes(b.dataset.heatQ) && onPick(b.dataset.heatQ));
    this.canvas.addEventListener("pointermove", (ev) => this.point(ev));
    this.canvas.addEventListener("pointerleave", () => this.point(null));
  }

  /**
   * Draw the frame's norms and health (over: "probe" | "mean") and the history, if it is this
   * run's, as heat (HEAT_QUANTITIES: the settings' choice, ‖∂C/∂w‖ when there is none or
   * the network does not offer it: heatPick). While training plays, at most every REDRAW_MS
   * (numbers changing 30 times a second cannot be read; a paused frame is always drawn).
   */
  update(frame, { over, history, runId, heat: want = "grad" }) {
    const now = performance.now();
    const key = `${over}|${history?.step?.length}|${runId}|${want}`;
    if (frame.status === "running" && key === this.drawnKey && now - this.drawnAt < REDRAW_MS) return;
    this.drawnAt = now;
    this.drawnKey = key;
    const src = SOURCES[over] ?? SOURCES.probe;
    const rows = layerRows(frame, over);
    const hist = history && history.run_id === runId ? history : null;
    const offered = heatOffered(shownCounts(rows));
    const q = heatPick(want, offered);
    const heat = heatSeries(hist, q, over, rows, frame.probe?.index ?? null);
    const [lo, hi] = decadeRange([...rows.flatMap((r) => [r.delta, r.grad]), ...(heat?.scale === "log" ? [10 ** heat.hi, 10 ** (heat.hi - 1)] : [])], { min: 3 });
    this.renderNow(rows, src, lo, hi, frame);
    this.renderPicks(offered, q, src);
    this.renderHeat(heat);
    this.root.dataset.over = over in SOURCES ? over : "probe";
    this.root.dataset.step = String(frame.step);
  }

  /** The table: a log-scale bar chart per layer, the numbers under it, saturation and dead units. */
  renderNow(rows, src, lo, hi, frame) {
    const H = 40; // chart height (px) of the bars
    const PAD = 5; // px above them, for the top tick's label
    const ticks = [];
    const every = Math.ceil((hi - lo) / 4);
    for (let k = hi; k >= lo; k -= every) ticks.push(k);
    const y = (v) => {
      const t = logPos(v, lo, hi);
      return t === null ? null : H - t * H;
    };
    const bar = (v, cls, x) => {
      const top = y(v);
      if (top === null) return v === 0 ? html`<text class="gs-zero" x="${x + 4}" y="${H - 2}" text-anchor="middle">0</text>` : html``;
      return html`<rect class="${cls}" x="${x}" y="${top.toFixed(1)}" width="8" height="${Math.max(1, H - top).toFixed(1)}"><title>${normText(v)}</title></rect>`;
    };
    const axis = html`<svg class="gs-axis" width="34" height="${H + PAD + 2}" aria-hidden="true"><g transform="translate(0 ${PAD})">${ticks.map(
      (k) => html`<text x="31" y="${(H - ((k - lo) / (hi - lo)) * H + 3).toFixed(1)}" text-anchor="end">${decadeLabel(k)}</text>`,
    )}</g></svg>`;
    const lines = ticks.map((k) => html`<line x1="0" x2="26" y1="${(H - ((k - lo) / (hi - lo)) * H).toFixed(1)}" y2="${(H - ((k - lo) / (hi - lo)) * H).toFixed(1)}"/>`);
    const L = frame.sizes.length;
    const cells = rows.map(
      (r) => html`<td class="gs-chart"><svg width="26" height="${H + PAD + 2}" role="img" aria-label="layer ${r.l}: ${src.delta.label} ${normText(r.delta)}, ${src.grad.label} ${normText(r.grad)}"><g transform="translate(0 ${PAD})"><g class="gs-grid">${lines}</g>${bar(r.delta, "gs-bar-delta", 3)}${bar(r.grad, "gs-bar-grad", 14)}</g></svg></td>`,
    );
    const units = (r, what) => {
      const c = unitCell(r, what);
      if (c.count === null) return html`<td class="dim" data-l="${r.l}" data-q="${what}" title="${c.title}">${c.text}</td>`;
      return html`<td data-l="${r.l}" data-q="${what}" data-count="${c.count}" data-n="${r.n}" class="${c.count > 0 ? "gs-warn" : ""}">${c.text}</td>`;
    };
    const { saturated: anySat, dead: anyDie } = shownCounts(rows);
    setHTML(
      this.now,
      html`<table class="gs-table">
        <tr><th class="gs-axis-cell">${axis}</th>${cells}</tr>
        <tr class="gs-layers"><th>layer</th>${rows.map((r) => html`<th data-l="${r.l}" title="${r.l === L ? "the output layer" : `hidden layer ${r.l}`}">l = ${r.l}</th>`)}</tr>
        <tr><th title="${src.delta.title}"><i class="gs-key gs-bar-delta"></i>${src.delta.label}</th>${rows.map((r) => html`<td data-l="${r.l}" data-q="delta" data-value="${r.delta ?? ""}">${normText(r.delta)}</td>`)}</tr>
        <tr><th title="${src.grad.title}"><i class="gs-key gs-bar-grad"></i>${src.grad.label}</th>${rows.map((r) => html`<td data-l="${r.l}" data-q="grad" data-value="${r.grad ?? ""}">${normText(r.grad)}</td>`)}</tr>
        ${anySat ? html`<tr><th title="${SATURATED_RULE}">saturated</th>${rows.map((r) => units(r, "saturated"))}</tr>` : html``}
        ${anyDie ? html`<tr><th title="${DEAD_RULE}">dead ReLU</th>${rows.map((r) => units(r, "dead"))}</tr>` : html``}
      </table>`,
    );
    const ratio = rows.length > 1 && rows[0].grad > 0 && rows[rows.length - 1].grad > 0 ? rows[rows.length - 1].grad / rows[0].grad : null;
    const words = ratio === null ? "" : ratio >= 10 ? ` Layer ${L} learns ${fmt(ratio, 2)}× faster than layer 2.` : ratio <= 0.1 ? ` Layer 2 learns ${fmt(1 / ratio, 2)}× faster than layer ${L}.` : "";
    const rules = [anySat ? SATURATED_RULE : null, anyDie ? DEAD_RULE : null].filter(Boolean).join("; ");
    const counted = frame.health?.layers?.length && rules ? `${rules} (training set, step ${(frame.metrics_step ?? frame.step).toLocaleString("en-US")}).` : "";
    this.note.textContent = `${counted}${words}${frameCaveats(frame)}`;
  }

  /** The selector: the quantities offered, the one drawn pressed, each titled with what it is. */
  renderPicks(offered, q, src) {
    const titles = { grad: src.grad.title, delta: src.delta.title, saturated: SATURATED_RULE, dead: DEAD_RULE };
    for (const b of this.picks) {
      const k = b.dataset.heatQ;
      b.hidden = !offered.includes(k);
      b.setAttribute("aria-pressed", String(k === q));
      b.title = `Over the run: ${titles[k]}`;
    }
    this.root.dataset.heat = q;
  }

  renderHeat(heat) {
    this.heat = heat;
    this.time.hidden = !heat;
    if (!heat) return;
    const { rows, idx, lo, hi, steps } = heat;
    const others = heat.other.filter((p) => p !== null).length;
    const key = `${heat.scale}|${heat.key}|${steps.length}|${steps[steps.length - 1]}|${steps[0]}|${lo}|${hi}|${rows.map((r) => r.values[r.values.length - 1]).join()}|${heat.caption}|${others}`;
    if (key !== this.heatKey) {
      this.heatKey = key;
      const cv = this.canvas;
      cv.width = idx.length;
      cv.height = rows.length;
      const ctx = cv.getContext("2d");
      const img = ctx.createImageData(idx.length, rows.length);
      rows.forEach((r, ri) => {
        idx.forEach((i, c) => {
          const [R, G, B] = heat.other[i] !== null ? OTHER_RGB : heat.scale === "log" ? heatRgb(r.values[i], lo, hi) : shareRgb(r.values[i]);
          const p = 4 * (ri * idx.length + c);
          img.data[p] = R;
          img.data[p + 1] = G;
          img.data[p + 2] = B;
          img.data[p + 3] = 255;
        });
      });
      ctx.putImageData(img, 0, 0);
      const ramp = Array.from({ length: 6 }, (_, i) => `rgb(${seqRgb(i / 5).join(",")}) ${i * 20}%`).join(", ");
      setHTML($(".gs-rows", this.time), html`${rows.map((r) => html`<span class="${r.why ? "dim" : ""}" title="${r.why ?? ""}">l = ${r.l}</span>`)}`);
      setHTML($(".gs-steps", this.time), html`<span>step ${steps[0].toLocaleString("en-US")}</span><span>${heat.caption}</span><span>step ${steps[steps.length - 1].toLocaleString("en-US")}</span>`);
      const other = others ? html`<span class="gs-other-key" title="the probe's norms at these steps are of another example: the probe was changed since (point at one for which)"><i></i>another probe's</span>` : html``;
      const none = html`<span class="gs-none-key" title="${heat.scale === "log" ? "a step without a point (e.g. an opened run's history)" : "a layer whose units cannot have this count (point at it for why), or a step without a point"}"><i></i>${heat.scale === "log" ? "none" : "none / not counted"}</span>`;
      setHTML(
        $(".gs-legend", this.time),
        heat.scale === "log"
          ? html`<span class="dim">log scale</span><span>≤${decadeLabel(lo)}</span><span class="gs-ramp" style="background: linear-gradient(to right, ${ramp})"></span><span>${decadeLabel(hi)}</span><span class="gs-zero-key" title="a norm of exactly 0"><i></i>= 0</span>${none}${other}`
          : html`<span class="dim">linear scale</span><span>0 %</span><span class="gs-ramp" style="background: linear-gradient(to right, ${ramp})"></span><span>100 %</span>${none}`,
      );
      this.time.dataset.scale = heat.scale;
      this.canvas.style.setProperty("--rows", String(rows.length));
    }
    if (!this.pointed) this.showReadout(null);
  }

  /** The readout names the value under the pointer (or the newest column). */
  point(ev) {
    const heat = this.heat;
    if (!heat) return;
    if (!ev) {
      this.pointed = false;
      this.showReadout(null);
      return;
    }
    const r = this.canvas.getBoundingClientRect();
    const c = Math.max(0, Math.min(heat.idx.length - 1, Math.floor(((ev.clientX - r.left) / r.width) * heat.idx.length)));
    const row = Math.max(0, Math.min(heat.rows.length - 1, Math.floor(((ev.clientY - r.top) / r.height) * heat.rows.length)));
    this.pointed = true;
    this.showReadout(c, row);
  }

  /** Column c, row `row` of the heat strip in words (null: how to read it). */
  showReadout(c, row = 0) {
    const heat = this.heat;
    if (c === null) {
      setHTML(this.readout, html`<span class="dim">Point at the strip for a layer's value at a step.</span>`);
      return;
    }
    const i = heat.idx[c];
    const step = heat.steps[i];
    const r = heat.rows[row];
    const at = html`step <b data-step="${step}">${step.toLocaleString("en-US")}</b>, l = ${r.l}:`;
    const was = heat.other[i];
    if (heat.scale === "log" && was !== null) {
      setHTML(this.readout, html`${at} ${heat.label.replace("ˡ", sup(r.l))} = <b data-l="${r.l}" data-q="${heat.q}" data-value="${r.values[i] ?? ""}">${normText(r.values[i])}</b>, <span title="measured before the probe was changed">of probe <b data-probe="${was}">#${was}</b>, not this one</span>`);
    } else if (heat.scale === "log") {
      setHTML(this.readout, html`${at} ${heat.label.replace("ˡ", sup(r.l))} = <b data-l="${r.l}" data-q="${heat.q}" data-value="${r.values[i] ?? ""}">${normText(r.values[i])}</b>`);
    } else if (r.why) {
      setHTML(this.readout, html`${at} ${heat.label} <b data-l="${r.l}" data-q="${heat.q}" data-value="">—</b> <span class="dim" title="${r.why}">(${r.short})</span>`);
    } else {
      setHTML(this.readout, html`${at} ${heat.label} <b data-l="${r.l}" data-q="${heat.q}" data-value="${r.counts[i] ?? ""}" data-n="${r.n ?? ""}">${shareText(r.counts[i], r.n)}</b>`);
    }
  }
}

/**
 * What the panel's numbers are, where they are not what their labels say: under a BP2 rule
 * other than the transpose (the frame then carries backprop's own beside them, `true_delta`)
 * they are the rule's δ and gradient; in a diverged frame a value that overflowed is sent as
 * ±1e30 and one that is not a number as 0 (docs/frames.md), and the norms are of those.
 */
export function frameCaveats(frame) {
  const out = [];
  if (frame.layers?.some((x) => x.true_delta)) out.push(" Under this BP2 rule these are the rule's δ and ∂C/∂w, what it trains with, not backprop's (the explain panel shows both).");
  if (frame.status === "diverged") out.push(" Diverged: a value that overflowed is shown as ±1e30, one that is not a number (NaN) as 0.");
  return out.join("");
}

