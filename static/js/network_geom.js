// Where things sit in the network view, in pixels of the plot area (the Plotly axes are set
// to these pixel ranges, so data units are pixels). Layer index li = 0..L-1 is layer l = li + 1.
// A neuron is a thumbnail square (its output over the input plane) followed by a disc whose
// fill is δ, a or z; edges leave a disc on the right and enter the next thumbnail on the left.

export function geometry(sizes, W, H, labelW = 0) {
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
      return { x, y, tx: x - D / 2 - gap - T, ty: y - T / 2 };
    }),
  );
  // Edges of layer l = li + 1 (li ≥ 1): from neuron k of li−1 to neuron j of li.
  const edges = [];
  for (let li = 1; li < L; li++) {
    for (let j = 0; j < sizes[li]; j++) {
      for (let k = 0; k < sizes[li - 1]; k++) {
        const a = nodes[li - 1][k];
        const b = nodes[li][j];
        const sx = a.x + D / 2;
        const ex = b.tx;
        const dx = (ex - sx) / 2;
        edges.push({ l: li + 1, j, k, p: [sx, a.y, sx + dx, a.y, ex - dx, b.y, ex, b.y] });
      }
    }
  }
  return { L, W, H, D, T, slot, spacing, cols, nodes, edges };
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
