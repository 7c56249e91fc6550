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

/** Plotly's autorange, simply: the data's extent (log10 on log axes), tozero, 5 % padding. */
function autorange(values, ax) {
  const log = ax?.type === "log";
  const vs = values.filter((v) => Number.isFinite(v) && (!log || v > 0)).map((v) => (log ? Math.log10(v) : v));
  if (!vs.length) return log ? [-1, 1] : [0, 1];
  let lo = Math.min(...vs);
  let hi = Math.max(...vs);
  if (!log && ax?.rangemode === "tozero") {
    lo = Math.min(0, lo);
    hi = Math.max(0, hi);
  }
  if (hi === lo) {
    hi += log ? 0.5 : Math.abs(hi) * 0.5 || 1;
    lo -= log ? 0.5 : 0;
  }
  const pad = (hi - lo) * 0.05;
  return [lo === 0 && ax?.rangemode === "tozero" ? 0 : lo - pad, hi + pad];
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
  const xr = layout.xaxis?.range ?? autorange(traces.flatMap((t) => t.x ?? []), layout.xaxis);
  const yr = layout.yaxis?.range ?? autorange(traces.filter((t) => !onY2(t)).flatMap((t) => t.y ?? []), layout.yaxis);
  const y2r = layout.yaxis2?.range ?? autorange(traces.filter(onY2).flatMap((t) => t.y ?? []), layout.yaxis2);
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
  if (layout.xaxis?.visible !== false) drawAxes(ctx, geo, layout);
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
  if (pts.length === 1) {
    // One measurement so far: a dot where the curve starts.
    ctx.beginPath();
    ctx.arc(x.p(pts[0][0]), y.p(pts[0][1]), w + 1, 0, 2 * Math.PI);
    ctx.fill();
  } else {
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

/** Round tick values about n per axis (1, 2, 5 × 10^k apart). */
export function ticks(r0, r1, n = 5) {
  const lo = Math.min(r0, r1);
  const hi = Math.max(r0, r1);
  const raw = (hi - lo) / n || 1;
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((k) => k * p).find((s) => s >= raw) ?? 10 * p;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return out;
}

const label = (v, pct) => (pct ? `${Math.round(v * 100)}%` : String(Number(v.toPrecision(6)))).replace("-", "−");

function drawAxes(ctx, geo, layout) {
  const { x, y, y2, plot } = geo;
  ctx.fillStyle = TICK;
  ctx.textBaseline = "top";
  ctx.textAlign = "center";
  ctx.font = `${layout.xaxis?.tickfont?.size ?? 10}px ${FONT}`;
  const xt = ticks(x.r0, x.r1);
  for (const v of xt) ctx.fillText(label(v), x.p(v), plot.t + plot.h + 3);
  ctx.textBaseline = "middle";
  ctx.textAlign = "right";
  ctx.font = `${layout.yaxis?.tickfont?.size ?? 10}px ${FONT}`;
  const yt = y.log ? ticks(y.r0, y.r1).filter(Number.isInteger) : ticks(y.r0, y.r1, Math.max(2, Math.floor(plot.h / 30)));
  for (const v of yt) ctx.fillText(y.log ? `1e${v}`.replace("-", "−") : label(v), plot.l - 3, y.log ? plot.t + (plot.h * (y.r1 - v)) / (y.r1 - y.r0 || 1) : y.p(v));
  if (layout.yaxis2?.visible) {
    ctx.textAlign = "left";
    ctx.fillStyle = layout.yaxis2.tickfont?.color ?? TICK;
    for (const v of ticks(y2.r0, y2.r1, 4).filter((v) => v <= 1)) ctx.fillText(label(v, true), plot.l + plot.w + 3, y2.p(v));
  }
  ctx.fillStyle = TICK;
  const xTitle = layout.xaxis?.title?.text;
  if (xTitle) {
    ctx.textAlign = "center";
    ctx.textBaseline = "bottom";
    ctx.font = `${layout.xaxis.title.font?.size ?? 11}px ${FONT}`;
    ctx.fillText(xTitle, plot.l + plot.w / 2, geo.H);
  }
  const yTitle = layout.yaxis?.title?.text;
  if (yTitle) {
    ctx.save();
    ctx.translate(9, plot.t + plot.h / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    ctx.font = `${layout.yaxis.title.font?.size ?? 11}px ${FONT}`;
    ctx.fillText(yTitle, 0, 0);
    ctx.restore();
  }
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
