// Dataset thumbnails for the picker, drawn client-side from the same recipes as the server's
// datasets (peers.md), with a fixed tiny PRNG: an icon, not the run's data.

import { CLASS_COLORS, colorOf } from "./colors.js";

function prng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const U = (r, a, b) => a + (b - a) * r();
const gauss = (r) => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());

const RECIPES = {
  circle: (r) =>
    Array.from({ length: 120 }, (_, i) => {
      const rad = i % 2 ? U(r, 0, 2.5) : U(r, 3.5, 5);
      const t = U(r, 0, 2 * Math.PI);
      return [rad * Math.sin(t), rad * Math.cos(t), i % 2 ? 1 : -1];
    }),
  xor: (r) =>
    Array.from({ length: 120 }, () => {
      let x = U(r, -5, 5);
      let y = U(r, -5, 5);
      x += x > 0 ? 0.3 : -0.3;
      y += y > 0 ? 0.3 : -0.3;
      return [x, y, x * y >= 0 ? 1 : -1];
    }),
  gauss: (r) => Array.from({ length: 120 }, (_, i) => {
    const c = i % 2 ? 2 : -2;
    return [c + gauss(r) * 0.9, c + gauss(r) * 0.9, i % 2 ? 1 : -1];
  }),
  spiral: (r) => spiral(r, 2),
  spiral3: (r) => spiral(r, 3),
  blobs3: (r) => Array.from({ length: 120 }, (_, i) => {
    const c = i % 3;
    const t = (2 * Math.PI * c) / 3;
    return [3.5 * Math.cos(t) + gauss(r) * 0.8, 3.5 * Math.sin(t) + gauss(r) * 0.8, c];
  }),
  plane: () => grid((x, y) => (x + y) / 12),
  multigauss: () => grid((x, y) => {
    const bumps = [[-4, 2.5, 1], [0, 2.5, -1], [4, 2.5, 1], [-4, -2.5, -1], [0, -2.5, 1], [4, -2.5, -1]];
    let best = 0;
    for (const [cx, cy, s] of bumps) {
      const v = s * Math.max(0, 1 - Math.hypot(x - cx, y - cy) / 2);
      if (Math.abs(v) > Math.abs(best)) best = v;
    }
    return best;
  }),
};

function spiral(r, arms) {
  const out = [];
  const n = 40;
  for (let c = 0; c < arms; c++) {
    for (let i = 0; i < n; i++) {
      const rad = (5 * i) / n;
      const t = (3.5 * Math.PI * i) / n + (2 * Math.PI * c) / arms;
      out.push([rad * Math.sin(t) + U(r, -0.2, 0.2), rad * Math.cos(t) + U(r, -0.2, 0.2), arms === 2 ? (c ? -1 : 1) : c]);
    }
  }
  return out;
}

function grid(fn) {
  const out = [];
  for (let a = -5.5; a <= 5.5; a += 1) for (let b = -5.5; b <= 5.5; b += 1) out.push([a, b, fn(a, b), true]);
  return out;
}

/** Draw dataset `name` of `kind` into a canvas of side px. */
export function drawDatasetIcon(canvas, name, kind) {
  const px = canvas.width;
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#fafafa";
  ctx.fillRect(0, 0, px, px);
  const recipe = RECIPES[name];
  if (!recipe) {
    ctx.fillStyle = "#555";
    ctx.font = `${Math.round(px / 3.4)}px system-ui, sans-serif`;
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    ctx.fillText(name === "csv" ? "CSV" : "?", px / 2, px / 2);
    return;
  }
  const pts = recipe(prng(7));
  const s = px / 12;
  for (const [x, y, v, cell] of pts) {
    const col = kind === "multiclass" ? CLASS_COLORS[v] : kind === "regression" ? colorOf(v) : colorOf(v > 0 ? 0.85 : -0.85);
    ctx.fillStyle = col;
    const cx = px / 2 + x * s;
    const cy = px / 2 - y * s;
    if (cell) ctx.fillRect(cx - s / 2, cy - s / 2, s + 0.5, s + 0.5);
    else {
      ctx.beginPath();
      ctx.arc(cx, cy, Math.max(1.2, px / 36), 0, 2 * Math.PI);
      ctx.fill();
    }
  }
}
