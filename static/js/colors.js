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

const canvas = document.createElement("canvas");
const ctx = canvas.getContext("2d", { willReadFrequently: false });

/**
 * Draw a value grid as a PNG data URL. grid[r][c] is at (x1[c], x2[r]); row 0 is the
 * bottom of the plane, so rows are flipped into image order (top row first).
 * map: value → [r, g, b].
 */
export function gridImage(grid, map) {
  const rows = grid.length;
  const cols = rows ? grid[0].length : 0;
  if (!rows || !cols) return "";
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

/** A value → colour map for an output range [lo, hi] centred on mid (tanh: −1..1, sigmoid: 0..1). */
export function outputMap({ lo, hi, mid, discrete, kind }) {
  if (kind === "multiclass") {
    return (v) => CLASS_RGB[Math.round(v) % CLASS_RGB.length].map((c) => Math.round(255 - 0.55 * (255 - c)));
  }
  const half = Math.max(hi - mid, mid - lo) || 1;
  if (discrete) return (v) => rgbOf(v >= mid ? 0.75 : -0.75);
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
