// Stand-ins for the Plotly figures while Plotly.js is still loading (plots.js decides which is
// drawn). A stand-in is the *same* figure spec (traces, layout) drawn on one canvas, for the
// parts the page's figures use: scatter markers (circle, circle-open), lines (dash, dot),
// layout images on data axes, a second y axis, y scaled to x (scaleanchor, constrain
// "domain", centred as Plotly does), tick labels, axis titles and paper annotations. So the
// first picture has Plotly's colours, axis ranges and point positions, and nothing moves when
// Plotly replaces it. It is a picture only: hover and click arrive with Plotly.

const CLASS = "standin";
const FONT = "system-ui, sans-serif";
const TICK = "#444";

/** The canvas stand-in drawn in div, or null. */
export function standInOf(div) {
  return div.querySelector(`:scope > canvas.${CLASS}`);
}

/** Remove div's stand-in (Plotly has drawn the real figure under it). */
export function removeStandIn(div) {
  standInOf(div)?.remove();
  delete div._standin;
}

/**
 * Draw the figure {traces, layout} (Plotly's spec: layout.width, height, margin, xaxis,
 * yaxis, yaxis2, images, annotations) as a canvas over div. Images (data URLs) are drawn once
 * decoded: the canvas is repainted then, if this figure is still the latest.
 */
export function drawStandIn(div, traces, layout) {
  let canvas = standInOf(div);
  if (!canvas) {
    canvas = document.createElement("canvas");
    canvas.className = CLASS;
    canvas.setAttribute("role", "img");
    div.append(canvas);
  }
  const W = Math.max(1, Math.round(layout.width ?? div.clientWidth));
  const H = Math.max(1, Math.round(layout.height ?? div.clientHeight));
  const dpr = window.devicePixelRatio || 1;
  canvas.width = Math.round(W * dpr);
  canvas.height = Math.round(H * dpr);
  canvas.style.width = `${W}px`;
  canvas.style.height = `${H}px`;
  canvas.setAttribute("aria-label", "the plot (its interactive version is loading)");
  const geo = geometry(traces, { ...layout, width: W, height: H });
  const token = {};
  div._standin = { geo, token };
  const paint = () => {
    if (div._standin?.token !== token) return; // a newer figure was drawn meanwhile
    const ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, W, H);
    paintFigure(ctx, geo, traces, layout, paint);
  };
  paint();
  return geo;
}

/** Viewport-free position (pixels in div) of data point (x, y) on div's stand-in, or null. */
export function standInPixel(div, x, y) {
  const g = div._standin?.geo;
  return g ? { x: g.x.p(x), y: g.y.p(y) } : null;
}

/** A linear (or log10) axis: range [r0, r1] onto pixels [start, start + len]. */
function axis(r0, r1, start, len, { flip = false, log = false } = {}) {
  const span = r1 - r0 || 1;
  const t = (v) => (log ? Math.log10(v) : v);
  return {
    r0,
    r1,
    start,
    len,
    log,
    p: flip ? (v) => start + (len * (r1 - t(v))) / span : (v) => start + (len * (t(v) - r0)) / span,
  };
}

/**
 * Plotly's autorange: the data's extent (log10 on log axes) widened so that the extreme
 * points sit `pad` px inside the axis (pad = 5 % of its length when padded, plus the markers'
 * radius), the zero end of a "tozero" range not padded at all.
 */
function autorange(values, ax, len = 100, { padded = true, ppad = 0 } = {}) {
  const log = ax?.type === "log";
  const vs = values.filter((v) => Number.isFinite(v) && (!log || v > 0)).map((v) => (log ? Math.log10(v) : v));
  if (!vs.length) return log ? [-1, 1] : [0, 1];
  let lo = Math.min(...vs);
  let hi = Math.max(...vs);
  const tozero = !log && ax?.rangemode === "tozero";
  if (tozero) {
    lo = Math.min(0, lo);
    hi = Math.max(0, hi);
  }
  if (hi === lo) {
    // One value (the first measurement): Plotly shows ±1 about it, unpadded ([0, 1] from 0
    // with rangemode "tozero").
    if (log) return [lo - 0.5, hi + 0.5];
    return tozero && lo === 0 ? [0, 1] : [lo - 1, hi + 1];
  }
  const pad = (padded ? 0.05 * len : 0) + ppad;
  const padLo = tozero && lo === 0 ? 0 : pad;
  const padHi = tozero && hi === 0 ? 0 : pad;
  const span = (hi - lo) / Math.max(0.05, 1 - (padLo + padHi) / len);
  return [lo - (padLo / len) * span, hi + (padHi / len) * span];
}

/** Pixel axes of the figure: {W, H, x, y, y2, plot: {l, t, w, h}}. */
export function geometry(traces, layout) {
  const m = { l: 80, r: 80, t: 100, b: 80, ...(layout.margin ?? {}) };
  const W = layout.width;
  const H = layout.height;
  let pw = Math.max(1, W - m.l - m.r);
  let ph = Math.max(1, H - m.t - m.b);
  let left = m.l;
  let top = m.t;
  const onY2 = (tr) => tr.yaxis === "y2";
  // Plotly pads y always, x only for traces with markers; markers add their radius.
  const markers = traces.some((t) => t.mode?.includes("markers"));
  const ppad = markers ? Math.max(...traces.filter((t) => t.mode?.includes("markers")).map((t) => (t.marker?.size ?? 6) / 2)) : 0;
  const xr = layout.xaxis?.range ?? autorange(traces.flatMap((t) => t.x ?? []), layout.xaxis, pw, { padded: markers, ppad });
  const yr = layout.yaxis?.range ?? autorange(traces.filter((t) => !onY2(t)).flatMap((t) => t.y ?? []), layout.yaxis, ph, { ppad });
  const y2r = layout.yaxis2?.range ?? autorange(traces.filter(onY2).flatMap((t) => t.y ?? []), layout.yaxis2, ph, { ppad });
  if (layout.yaxis?.scaleanchor === "x") {
    // One data unit is as long on y as on x; the axis with room to spare is shortened about
    // its middle (constrain: "domain").
    const ratio = layout.yaxis.scaleratio ?? 1;
    const dx = Math.abs(xr[1] - xr[0]) || 1;
    const dy = Math.abs(yr[1] - yr[0]) * ratio || 1;
    const s = Math.min(pw / dx, ph / dy);
    left += (pw - s * dx) / 2;
    top += (ph - s * dy) / 2;
    pw = s * dx;
    ph = s * dy;
  }
  return {
    W,
    H,
    plot: { l: left, t: top, w: pw, h: ph },
    x: axis(xr[0], xr[1], left, pw, { log: layout.xaxis?.type === "log" }),
    y: axis(yr[0], yr[1], top, ph, { flip: true, log: layout.yaxis?.type === "log" }),
    y2: axis(y2r[0], y2r[1], top, ph, { flip: true }),
  };
}

const images = new Map(); // data URL → decoded HTMLImageElement (a few at most)

function image(src, repaint) {
  let im = images.get(src);
  if (!im) {
    if (images.size > 16) images.clear();
    im = new Image();
    im.src = src;
    images.set(src, im);
  }
  if (!(im.complete && im.naturalWidth)) im.addEventListener("load", repaint, { once: true });
  return im.complete && im.naturalWidth ? im : null;
}

function paintFigure(ctx, geo, traces, layout, repaint) {
  const { x, y, y2, plot } = geo;
  ctx.save();
  ctx.beginPath();
  ctx.rect(plot.l, plot.t, plot.w, plot.h);
  ctx.clip();
  for (const img of layout.images ?? []) {
    const im = img.source && image(img.source, repaint);
    if (!im) continue;
    const px = x.p(img.x);
    const py = y.p(img.y);
    const w = Math.abs(x.p(img.x + img.sizex) - px);
    const h = Math.abs(y.p(img.y + img.sizey) - py);
    ctx.imageSmoothingEnabled = true; // as the browser stretches Plotly's <image>
    ctx.drawImage(im, px, py, w, h);
  }
  ctx.restore();
  if (layout.xaxis?.visible !== false) {
    drawGrid(ctx, geo, layout);
    drawAxes(ctx, geo, layout);
  }
  for (const tr of traces) {
    const ya = tr.yaxis === "y2" ? y2 : y;
    if (tr.mode?.includes("lines")) drawLine(ctx, tr, x, ya);
    if (tr.mode?.includes("markers")) drawMarkers(ctx, tr, x, ya);
  }
  for (const a of layout.annotations ?? []) drawAnnotation(ctx, a, plot);
}

function drawLine(ctx, tr, x, y) {
  const xs = tr.x ?? [];
  const ys = tr.y ?? [];
  const pts = xs.map((v, i) => [v, ys[i]]).filter(([a, b]) => Number.isFinite(a) && Number.isFinite(b) && (!y.log || b > 0));
  if (!pts.length) return;
  const line = tr.line ?? {};
  const w = line.width ?? 2;
  ctx.strokeStyle = line.color ?? "#444";
  ctx.fillStyle = line.color ?? "#444";
  ctx.lineWidth = w;
  const d = Math.max(w, 3); // Plotly's dash lengths, in units of max(width, 3)
  ctx.setLineDash(line.dash === "dash" ? [3 * d, 3 * d] : line.dash === "dot" ? [d, d] : []);
  // One point is no line (as in Plotly): a figure that wants it seen asks for markers too.
  if (pts.length > 1) {
    ctx.beginPath();
    pts.forEach(([a, b], i) => (i ? ctx.lineTo(x.p(a), y.p(b)) : ctx.moveTo(x.p(a), y.p(b))));
    ctx.stroke();
  }
  ctx.setLineDash([]);
}

function drawMarkers(ctx, tr, x, y) {
  const mk = tr.marker ?? {};
  const r = (mk.size ?? 6) / 2;
  const open = String(mk.symbol ?? "circle").endsWith("-open");
  const color = (i) => (Array.isArray(mk.color) ? mk.color[i] : mk.color ?? "#444");
  const lw = mk.line?.width ?? 0;
  (tr.x ?? []).forEach((v, i) => {
    const c = color(i);
    if (c === "rgba(0,0,0,0)") return; // the network's invisible hover targets
    ctx.beginPath();
    ctx.arc(x.p(v), y.p(tr.y[i]), r, 0, 2 * Math.PI);
    if (open) {
      ctx.strokeStyle = c;
      ctx.lineWidth = lw || 1;
      ctx.stroke();
      return;
    }
    ctx.fillStyle = c;
    ctx.fill();
    if (lw) {
      ctx.strokeStyle = mk.line.color ?? "#444";
      ctx.lineWidth = lw;
      ctx.stroke();
    }
  });
}

/** The y ticks as drawn: [value, pixel] (log axes: the powers of ten). */
function yTicks(geo) {
  const { y, plot } = geo;
  if (y.log) return ticks(y.r0, y.r1).filter(Number.isInteger).map((v) => [v, plot.t + (plot.h * (y.r1 - v)) / (y.r1 - y.r0 || 1)]);
  return ticks(y.r0, y.r1, plotlyN(plot.h, true)).map((v) => [v, y.p(v)]);
}

/** Plotly's gridlines (showgrid, default on; #eee, 1 px) at the ticks inside the plot area
 * (none on its edges, as Plotly). */
function drawGrid(ctx, geo, layout) {
  const { x, plot } = geo;
  const inside = (p, a, len) => p > a + 1 && p < a + len - 1;
  ctx.lineWidth = 1;
  if (layout.xaxis?.showgrid !== false) {
    ctx.strokeStyle = layout.xaxis?.gridcolor ?? "#eee";
    for (const v of xTicks(geo, layout)) {
      const p = Math.round(x.p(v)) + 0.5;
      if (!inside(p, plot.l, plot.w)) continue;
      ctx.beginPath();
      ctx.moveTo(p, plot.t);
      ctx.lineTo(p, plot.t + plot.h);
      ctx.stroke();
    }
  }
  if (layout.yaxis?.showgrid !== false) {
    ctx.strokeStyle = layout.yaxis?.gridcolor ?? "#eee";
    for (const [, py] of yTicks(geo)) {
      const p = Math.round(py) + 0.5;
      if (!inside(p, plot.t, plot.h)) continue;
      ctx.beginPath();
      ctx.moveTo(plot.l, p);
      ctx.lineTo(plot.l + plot.w, p);
      ctx.stroke();
    }
  }
}

/** The x ticks as drawn: every `dtick` from `tick0` when the layout fixes them, else Plotly's
 * auto ticks. */
function xTicks({ x, plot }, layout) {
  const { dtick, tick0 = 0 } = layout.xaxis ?? {};
  if (!(dtick > 0)) return ticks(x.r0, x.r1, plotlyN(plot.w, false));
  const lo = Math.min(x.r0, x.r1);
  const hi = Math.max(x.r0, x.r1);
  const out = [];
  for (let v = tick0 + Math.ceil((lo - tick0) / dtick - 1e-9) * dtick; v <= hi + dtick * 1e-9; v += dtick) out.push(v);
  return out;
}

/** Plotly's tick count for an axis of len px (nticks unset): len/80 (x) or len/40 (y),
 * kept within 4..9, plus 1. */
export const plotlyN = (len, isY) => Math.min(9, Math.max(4, len / (isY ? 40 : 80))) + 1;

/** Plotly's auto ticks: dtick = the span over n, rounded up to 2, 5 or 10 × 10^k (to the next
 * of them past an exact one, as Plotly's roundUp does), from 0. */
export function ticks(r0, r1, n = 5) {
  const lo = Math.min(r0, r1);
  const hi = Math.max(r0, r1);
  const raw = (hi - lo) / n || 1;
  const p = 10 ** Math.floor(Math.log(raw) / Math.LN10);
  const step = ([2, 5, 10].find((k) => k > raw / p) ?? 10) * p;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : Number(v.toPrecision(12)));
  return out;
}

const label = (v, pct) => (pct ? `${Math.round(v * 100)}%` : String(Number(v.toPrecision(6)))).replace("-", "−");

// Where Plotly puts tick labels and titles with fixed margins (measured on plotly.js 4 at
// 10 px fonts): y labels end 1 px left of the plot, y2 labels start 1 px right of it, the x
// title's middle 19 px below the plot; a y title's middle 5.5 px left of its labels (y2: 5 px
// right of them), both turned -90°.
const PAD = 1;
function drawAxes(ctx, geo, layout) {
  const { x, y2, plot } = geo;
  ctx.fillStyle = TICK;
  ctx.textBaseline = "middle";
  ctx.textAlign = "center";
  ctx.font = `${layout.xaxis?.tickfont?.size ?? 10}px ${FONT}`;
  const xt = xTicks(geo, layout);
  for (const v of xt) ctx.fillText(label(v), x.p(v), plot.t + plot.h + 7.5);
  ctx.textBaseline = "middle";
  ctx.textAlign = "right";
  ctx.font = `${layout.yaxis?.tickfont?.size ?? 10}px ${FONT}`;
  let yLabelW = 0;
  for (const [v, p] of yTicks(geo)) {
    const t = geo.y.log ? `1e${v}`.replace("-", "−") : label(v);
    yLabelW = Math.max(yLabelW, ctx.measureText(t).width);
    ctx.fillText(t, plot.l - PAD, p);
  }
  let y2LabelW = 0;
  if (layout.yaxis2?.visible) {
    ctx.textAlign = "left";
    ctx.font = `${layout.yaxis2.tickfont?.size ?? 10}px ${FONT}`;
    ctx.fillStyle = layout.yaxis2.tickfont?.color ?? TICK;
    for (const v of ticks(y2.r0, y2.r1, layout.yaxis2.nticks ?? plotlyN(plot.h, true)).filter((v) => v <= 1)) {
      const t = label(v, true);
      y2LabelW = Math.max(y2LabelW, ctx.measureText(t).width);
      ctx.fillText(t, plot.l + plot.w + PAD, y2.p(v));
    }
  }
  ctx.fillStyle = TICK;
  const xTitle = layout.xaxis?.title?.text;
  if (xTitle) {
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    ctx.font = `${layout.xaxis.title.font?.size ?? 11}px ${FONT}`;
    ctx.fillText(xTitle, plot.l + plot.w / 2, plot.t + plot.h + 19);
  }
  const yTitle = (ax, cx) => {
    const text = ax?.title?.text;
    if (!text) return;
    ctx.save();
    ctx.translate(cx, plot.t + plot.h / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    ctx.fillStyle = ax.title.font?.color ?? TICK;
    ctx.font = `${ax.title.font?.size ?? 11}px ${FONT}`;
    ctx.fillText(text, 0, 0);
    ctx.restore();
  };
  yTitle(layout.yaxis, plot.l - PAD - yLabelW - 5.5);
  if (layout.yaxis2?.visible) yTitle(layout.yaxis2, plot.l + plot.w + PAD + y2LabelW + 5);
}

/** A paper-positioned note ("No 2-D plot for 3 inputs"): its lines, centred. */
function drawAnnotation(ctx, a, plot) {
  const lines = String(a.text ?? "")
    .split(/<br\s*\/?>/i)
    .map((s) => s.replace(/<[^>]*>/g, ""));
  const size = a.font?.size ?? 12;
  ctx.fillStyle = a.font?.color ?? "#555";
  ctx.font = `${size}px ${FONT}`;
  ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  const cx = plot.l + (a.x ?? 0.5) * plot.w;
  const cy = plot.t + (1 - (a.y ?? 0.5)) * plot.h - ((lines.length - 1) * size * 1.3) / 2;
  lines.forEach((t, i) => ctx.fillText(t, cx, cy + i * size * 1.3));
}
