// Where things sit in the network view, in pixels of the plot area (the Plotly axes are set
// to these pixel ranges, so data units are pixels). Layer index li = 0..L-1 is layer l = li + 1.
// A neuron is a thumbnail square (its output over the input plane) followed by a disc whose
// fill is δ, a or z; edges leave a disc on the right and enter the next thumbnail on the left.

export function geometry(sizes, W, H, labelW = 0) {
  if (Math.max(...sizes) > DENSE) return denseGeometry(sizes, W, H, labelW);
  const L = sizes.length;
  const maxN = Math.max(1, ...sizes);
  const padY = 14;
  const slot = Math.min(60, (H - 2 * padY) / maxN);
  const spacingGuess = (W - 60) / Math.max(1, L - 1);
  const D = clamp(Math.min(slot * 0.5, spacingGuess * 0.22), 10, 24); // disc diameter
  const T = clamp(Math.min(slot * 0.72, spacingGuess * 0.3), 12, 36); // thumbnail side
  const gap = 2;
  const padL = T + D / 2 + gap + 6 + labelW; // labelW: room for the input names
  const padR = D / 2 + 10;
  const spacing = L > 1 ? (W - padL - padR) / (L - 1) : 0;
  const cols = sizes.map((_, li) => (L > 1 ? padL + li * spacing : W / 2));
  const nodes = sizes.map((n, li) =>
    Array.from({ length: n }, (_, j) => {
      const x = cols[li];
      const y = H / 2 + (j - (n - 1) / 2) * slot;
      return { x, y, tx: x - D / 2 - gap - T, ty: y - T / 2, d: D, t: T, slot };
    }),
  );
  return { L, W, H, D, T, slot, spacing, cols, nodes, edges: edgesOf(sizes, nodes), dense: false };
}

/** Layers wider than this are drawn compactly (the book's 64 pixels, 30 hidden neurons). */
export const DENSE = 16;

/**
 * A network with a layer of more than DENSE neurons (64 inputs, 30 hidden): each layer gets
 * its own spacing (a column of 64 inputs is not allowed to squeeze the 10 outputs), the discs
 * shrink with it (down to 3 px, or the slot where that is less), and a layer too tight for a legible thumbnail has none
 * (t = 0: its edges end at the disc). Every neuron still has its own place and every weight
 * its own edge; `edgeWidth[l]` is the widest an edge of layer l may be drawn.
 */
function denseGeometry(sizes, W, H, labelW) {
  const L = sizes.length;
  const padY = 10;
  const spacingGuess = (W - 60) / Math.max(1, L - 1);
  const gap = 2;
  const slots = sizes.map((n) => Math.min(60, (H - 2 * padY) / Math.max(1, n)));
  const ds = slots.map((s) => clamp(Math.min(s * 0.75, spacingGuess * 0.22), Math.min(3, s), 24)); // never wider than its slot
  const ts = slots.map((s) => (s < 14 ? 0 : clamp(Math.min(s * 0.72, spacingGuess * 0.3), 12, 36)));
  const D = Math.max(...ds);
  const T = Math.max(...ts);
  const padL = ts[0] + ds[0] / 2 + (ts[0] ? gap : 0) + 6 + labelW;
  const padR = ds[L - 1] / 2 + 10;
  const spacing = L > 1 ? (W - padL - padR) / (L - 1) : 0;
  const cols = sizes.map((_, li) => (L > 1 ? padL + li * spacing : W / 2));
  const nodes = sizes.map((n, li) =>
    Array.from({ length: n }, (_, j) => {
      const x = cols[li];
      const y = H / 2 + (j - (n - 1) / 2) * slots[li];
      const d = ds[li];
      const t = ts[li];
      return { x, y, tx: x - d / 2 - (t ? gap + t : 0), ty: y - t / 2, d, t, slot: slots[li] };
    }),
  );
  const edgeWidth = {};
  for (let li = 1; li < L; li++) edgeWidth[li + 1] = clamp(0.45 * Math.min(slots[li - 1], slots[li]), 0.8, 7);
  return { L, W, H, D, T, slot: Math.min(...slots), spacing, cols, nodes, edges: edgesOf(sizes, nodes), dense: true, edgeWidth };
}

/** Edges of layer l = li + 1 (li ≥ 1): from neuron k of li−1 (its disc's right side) to neuron
 * j of li (its thumbnail's left side, or its disc's when it has no thumbnail). */
function edgesOf(sizes, nodes) {
  const edges = [];
  for (let li = 1; li < sizes.length; li++) {
    for (let j = 0; j < sizes[li]; j++) {
      for (let k = 0; k < sizes[li - 1]; k++) {
        const a = nodes[li - 1][k];
        const b = nodes[li][j];
        const sx = a.x + a.d / 2;
        const ex = b.tx;
        const dx = (ex - sx) / 2;
        edges.push({ l: li + 1, j, k, p: [sx, a.y, sx + dx, a.y, ex - dx, b.y, ex, b.y] });
      }
    }
  }
  return edges;
}

function clamp(v, lo, hi) {
  return Math.max(lo, Math.min(hi, v));
}

/** Point at t on the cubic Bézier p = [x0, y0, c1x, c1y, c2x, c2y, x1, y1]. */
export function bezierAt(p, t) {
  const u = 1 - t;
  const a = u * u * u;
  const b = 3 * u * u * t;
  const c = 3 * u * t * t;
  const d = t * t * t;
  return [a * p[0] + b * p[2] + c * p[4] + d * p[6], a * p[1] + b * p[3] + c * p[5] + d * p[7]];
}

export const edgeKey = (l, j, k) => `${l},${j},${k}`;
export const nodeKey = (l, j) => `${l},${j}`;
