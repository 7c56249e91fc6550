// Colour scales and small raster images (thumbnails, heatmaps) drawn on a canvas.
// Diverging scale: orange for negative, blue for positive (TensorFlow Playground's
// convention, colour-blind safe: PuOr/RdBu family), light grey at zero.

const STOPS = [
  [-1.0, [179, 88, 6]], // #b35806
  [-0.5, [241, 163, 64]], // #f1a340
  [0.0, [232, 232, 232]], // #e8e8e8
  [0.5, [103, 169, 207]], // #67a9cf
  [1.0, [33, 102, 172]], // #2166ac
];

/** Plotly colorscale of the same scale, on [0, 1]. */
export const PLOTLY_SCALE = STOPS.map(([t, c]) => [(t + 1) / 2, `rgb(${c.join(",")})`]);

/** RGB triple for t in [−1, 1] (clamped). */
export function rgbOf(t) {
  if (!(t > -1)) t = -1;
  if (t > 1) t = 1;
  for (let i = 1; i < STOPS.length; i++) {
    const [t1, c1] = STOPS[i];
    if (t <= t1) {
      const [t0, c0] = STOPS[i - 1];
      const f = (t - t0) / (t1 - t0);
      return [0, 1, 2].map((q) => Math.round(c0[q] + f * (c1[q] - c0[q])));
    }
  }
  return STOPS[STOPS.length - 1][1];
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));
export function colorOf(t) {
  const [r, g, b] = rgbOf(t);
  return `#${HEX[r]}${HEX[g]}${HEX[b]}`;
}

/** Okabe-Ito: distinct for colour-blind viewers; classes 0..K−1 of multiclass sets. */
export const CLASS_COLORS = ["#E69F00", "#0072B2", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"];
const CLASS_RGB = CLASS_COLORS.map((h) => [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16)));

// Made on first use, so this module imports without a DOM (tests/js run it in Node).
let canvas = null;
let ctx = null;

/**
 * Draw a value grid as a PNG data URL. grid[r][c] is at (x1[c], x2[r]); row 0 is the
 * bottom of the plane, so rows are flipped into image order (top row first).
 * map: value → [r, g, b].
 */
export function gridImage(grid, map) {
  const rows = grid.length;
  const cols = rows ? grid[0].length : 0;
  if (!rows || !cols) return "";
  if (!canvas) {
    canvas = document.createElement("canvas");
    ctx = canvas.getContext("2d", { willReadFrequently: false });
  }
  canvas.width = cols;
  canvas.height = rows;
  const img = ctx.createImageData(cols, rows);
  const d = img.data;
  for (let r = 0; r < rows; r++) {
    const row = grid[rows - 1 - r];
    for (let c = 0; c < cols; c++) {
      const [R, G, B] = map(row[c]);
      const p = 4 * (r * cols + c);
      d[p] = R;
      d[p + 1] = G;
      d[p + 2] = B;
      d[p + 3] = 255;
    }
  }
  ctx.putImageData(img, 0, 0);
  return canvas.toDataURL("image/png");
}

/** One output's class, the server's rule (app/core/datasets.py, predicted_class): positive
 * where a is strictly above the output activation's cut (the registry's `cut`, /api/options).
 * A dead ReLU's a = 0 is not above 0: the − class. */
export const isPositive = (a, cut) => a > cut;

/** A value → colour map for an output range [lo, hi] centred on mid (tanh: −1..1, sigmoid: 0..1).
 * discrete: each value in its class's colour, by isPositive with the activation's cut (no cut
 * known: the continuous map). */
export function outputMap({ lo, hi, mid, discrete, kind, cut }) {
  if (kind === "multiclass") {
    return (v) => CLASS_RGB[Math.round(v) % CLASS_RGB.length].map((c) => Math.round(255 - 0.55 * (255 - c)));
  }
  const half = Math.max(hi - mid, mid - lo) || 1;
  if (discrete && Number.isFinite(cut)) return (v) => rgbOf(isPositive(v, cut) ? 0.75 : -0.75);
  return (v) => rgbOf((v - mid) / half);
}

/** Input-feature functions, for the input neurons' thumbnails (the server sends hidden ones). */
export const FEATURE_FN = {
  x1: (x, y) => x,
  x2: (x, y) => y,
  "x1^2": (x, y) => x * x,
  "x2^2": (x, y) => y * y,
  x1x2: (x, y) => x * y,
  sin_x1: (x, y) => Math.sin(x),
  sin_x2: (x, y) => Math.sin(y),
};

/** g×g grid of a feature over the extent, as image rows bottom-first like the server's. */
export function featureGrid(name, extent, g = 16) {
  const fn = FEATURE_FN[name];
  if (!fn || !extent || extent.length < 2) return null;
  const [[x0, x1], [y0, y1]] = extent;
  const out = [];
  let m = 0;
  for (let r = 0; r < g; r++) {
    const y = y0 + ((y1 - y0) * r) / (g - 1);
    const row = [];
    for (let c = 0; c < g; c++) {
      const v = fn(x0 + ((x1 - x0) * c) / (g - 1), y);
      row.push(v);
      m = Math.max(m, Math.abs(v));
    }
    out.push(row);
  }
  return out.map((row) => row.map((v) => v / (m || 1)));
}

/** Thumbnail of a neuron's output (values already in [−1, 1] or rescaled here). */
export function thumbImage(grid) {
  let m = 0;
  for (const row of grid) for (const v of row) m = Math.max(m, Math.abs(v));
  const s = m > 1 ? 1 / m : 1;
  return gridImage(grid, (v) => rgbOf(v * s));
}

// ---- The network's colour scales -------------------------------------------------------
// A colour bar must say what it covers and must not jump: the range is a "nice" number that
// grows only when values stay beyond it for GROW frames (at once past twice it) and shrinks
// only when they stay below SHRINK_BELOW of it for SHRINK frames. Frames are counted by
// training step, so redraws (hover, selection) never move a scale. A run that comes to rest
// (paused, diverged: no frames coming) settles at once on the range its values need, and so
// does one sent back in time (rewound, reset): else a paused page would keep a range its last
// frames left behind (±0.5 over values of 0.12, every edge drawn at a quarter of its
// strength, until six more steps). Single steps taken at rest keep the hysteresis, so their
// colours compare from one step to the next. Values beyond the range
// are drawn in the end colour, and the bar's end labels then say "≥". The log option is a
// symmetric log: |v| from range/10^DECADES up to the range spread over the whole ramp, so
// 1e−5 and 0 differ; below that it is linear (≈ grey).

const LADDER = [1, 1.5, 2, 3, 5, 7];
const GROW = 3;
const SHRINK = 12;
const SHRINK_BELOW = 0.3;
export const DECADES = 4;

/** The smallest ladder number (1, 1.5, 2, 3, 5, 7 × 10^k; log: 10^k) at least v. */
export function niceUp(v, log = false) {
  if (!(v > 0) || !Number.isFinite(v)) return 1;
  const k = Math.floor(Math.log10(v));
  if (log) return v <= pow10(k) * (1 + 1e-9) ? pow10(k) : pow10(k + 1);
  for (const m of LADDER) if (m * 10 ** k >= v * (1 - 1e-9)) return Number((m * 10 ** k).toPrecision(3));
  return pow10(k + 1);
}

/** 10^k as the decimal it names (`10 ** -4` is 0.00009999999999999999 in V8). */
const pow10 = (k) => Number(`1e${k}`);

/** One colour scale (edges, neurons or inputs) with hysteresis. */
export class StableScale {
  constructor() {
    this.key = null;
    this.r = 1;
    this.over = 0;
    this.under = 0;
    this.step = null;
    this.max = 0;
    this.rest = false;
  }

  /** key: what is shown (mode|over|log); max: largest |value| now; step: the frame's step;
   * rest: the run is at rest (its frame's status is not "running"). */
  update(key, max, step, rest = false) {
    const log = key.endsWith("|log");
    this.max = max;
    const settle = (rest && !this.rest) || (this.step !== null && step < this.step);
    this.rest = rest;
    if (key !== this.key || settle) {
      Object.assign(this, { key, r: niceUp(max, log), over: 0, under: 0, step });
      return this;
    }
    if (max > 2 * this.r) {
      Object.assign(this, { r: niceUp(max, log), over: 0, under: 0, step });
      return this;
    }
    if (step === this.step) return this; // a redraw, not a new frame
    this.step = step;
    this.over = max > this.r ? this.over + 1 : 0;
    this.under = max < SHRINK_BELOW * this.r && max > 0 ? this.under + 1 : 0;
    if (this.over >= GROW || this.under >= SHRINK) Object.assign(this, { r: niceUp(max, log), over: 0, under: 0 });
    return this;
  }

  /** Forget the range: the next update settles on what its values need (a rebuilt run: its
   * step may not go down, 0 to 0, yet the old run's range says nothing of the new one). */
  reset() {
    Object.assign(this, { key: null, over: 0, under: 0, step: null });
    return this;
  }

  get log() {
    return !!this.key?.endsWith("|log");
  }

  /** Position on the ramp, in [−1, 1] (clamped by the colour map). */
  t(v) {
    if (!this.log) return v / this.r;
    const c = this.r / 10 ** DECADES;
    return (Math.sign(v) * Math.log10(1 + Math.abs(v) / c)) / Math.log10(1 + this.r / c);
  }

  /** Are some values beyond the range right now (drawn in the end colour)? */
  get clipped() {
    return this.max > this.r * (1 + 1e-9);
  }

  /** Five ticks at 0, ¼, ½, ¾, 1 of the ramp: {labels, unit} (unit: "×10⁻³" or ""). */
  ticks() {
    const r = this.r;
    if (this.log) {
      const e = Math.round(Math.log10(r));
      const p = (k) => `10${supInt(k)}`;
      const labels = [`−${p(e)}`, `−${p(e - DECADES / 2)}`, "0", p(e - DECADES / 2), p(e)];
      return { labels, unit: "" };
    }
    const e = r >= 0.01 && r < 1000 ? 0 : 3 * Math.floor(Math.log10(r) / 3);
    const s = 10 ** e;
    const labels = [-r, -r / 2, 0, r / 2, r].map((v) => tickText(v / s));
    return { labels, unit: e ? `×10${supInt(e)}` : "" };
  }
}

const SUPS = { "-": "⁻", 0: "⁰", 1: "¹", 2: "²", 3: "³", 4: "⁴", 5: "⁵", 6: "⁶", 7: "⁷", 8: "⁸", 9: "⁹" };
const supInt = (k) => String(k).replace(/[-0-9]/g, (c) => SUPS[c]);

/** A tick value with at most 3 significant digits and a real minus sign. */
function tickText(v) {
  if (Math.abs(v) < 1e-12) return "0";
  return String(Number(v.toPrecision(3))).replace("-", "−");
}

/**
 * Write a colour bar: its title (with the unit and the log floor), ticks placed at their
 * ramp positions, end labels marked "≥" when values lie beyond the range, and the inner
 * labels dropped when the bar is too narrow for all five (they never overlap).
 */
export function renderColorbar(bar, scale, title) {
  const { labels, unit } = scale.ticks();
  const clipped = scale.clipped;
  const floor = scale.log ? `; |v| < 10${supInt(Math.round(Math.log10(scale.r)) - DECADES)} ≈ grey` : "";
  const full = `${title}${unit ? ` (${unit})` : ""}${scale.log ? ", log scale" : ""}`;
  const key = `${full}|${labels.join()}|${clipped}|${bar.clientWidth}`;
  if (bar._key === key) return;
  bar._key = key;
  bar.dataset.range = String(scale.r);
  bar.dataset.scale = scale.log ? "log" : "linear";
  bar.classList.toggle("clipped", clipped);
  const t = bar.querySelector(".cb-title");
  t.textContent = full;
  bar.title = `Colours span ±${tickText(scale.r)}${floor}. Larger values are drawn in the end colours${clipped ? " (some are now)" : ""}; the range changes only when values stay outside it, or well inside it, for several steps.`;
  const spans = [...bar.querySelectorAll(".cb-ticks span")];
  spans.forEach((el, i) => {
    el.textContent = (clipped && i === 0 ? "≤" : clipped && i === 4 ? "≥" : "") + labels[i];
    el.style.left = `${i * 25}%`;
    el.className = i === 0 ? "first" : i === 4 ? "last" : i === 2 ? "mid" : "minor";
  });
  // Never overlapping: drop the ¼ and ¾ labels (then 0 too) when they would touch.
  const overlaps = () => {
    const boxes = spans.filter((s) => !s.hidden).map((s) => s.getBoundingClientRect());
    return boxes.some((b, i) => i > 0 && b.left < boxes[i - 1].right + 4);
  };
  spans.forEach((s) => (s.hidden = false));
  if (overlaps()) spans.forEach((s, i) => (s.hidden = i === 1 || i === 3));
  if (overlaps()) spans.forEach((s, i) => (s.hidden = i !== 0 && i !== 4));
}
