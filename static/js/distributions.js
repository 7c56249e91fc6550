// Distributions (issue 13, item 3): per layer l = 2..L, the histogram of the weights wˡ, the
// activations aˡ or the errors δˡ over time, as TensorBoard's histogram view draws them
// ("offset" mode): one ridge per snapshot, older ones behind and higher, the newest in front
// as bars. The snapshots are GET /history?histograms=true's (at most 32 over the run) and the
// latest frame's `histograms` (docs/frames.md: w at the frame's θ, a and δ over the frame's
// batch of m examples); each layer has its own value axis, shared by its snapshots.

import { $, fmt, html, setHTML, sup } from "./util.js";

export const KINDS = {
  w: { label: "weights", sym: (l) => `w${sup(l)}` },
  a: { label: "activations", sym: (l) => `a${sup(l)}` },
  delta: { label: "errors", sym: (l) => `δ${sup(l)}` },
};

/**
 * Layer l's histograms of kind, oldest first: [{step, edges, counts}], from the history's
 * snapshots (historyHist: {step: [...], layers: [{l, w, a, delta}]}) and the newest frame's
 * (frameHist, at frameStep) when it is newer than the last snapshot. Null histograms (a value
 * that was not finite) are left out.
 */
export function snapshots(historyHist, frameHist, frameStep, l, kind) {
  const out = [];
  const layer = historyHist?.layers?.find((x) => x.l === l);
  (historyHist?.step ?? []).forEach((step, i) => {
    const h = layer?.[kind]?.[i];
    if (h && step <= frameStep) out.push({ step, edges: h.edges, counts: h.counts });
  });
  const now = frameHist?.layers?.find((x) => x.l === l)?.[kind];
  if (now && (!out.length || frameStep > out[out.length - 1].step)) out.push({ step: frameStep, edges: now.edges, counts: now.counts });
  else if (now && out.length && out[out.length - 1].step === frameStep) out[out.length - 1] = { step: frameStep, edges: now.edges, counts: now.counts };
  return out;
}

/** [lo, hi] over every snapshot's edges (a range of width > 0). */
export function xRange(snaps) {
  let lo = Infinity;
  let hi = -Infinity;
  for (const s of snaps) {
    lo = Math.min(lo, s.edges[0]);
    hi = Math.max(hi, s.edges[s.edges.length - 1]);
  }
  if (!(hi > lo)) return [lo - 0.5, lo + 0.5];
  return [lo, hi];
}

/**
 * A histogram's outline as SVG polyline points over [lo, hi] mapped to [0, W]: a step line
 * along the bins' tops, height counts/top·h above the baseline y0.
 */
export function ridgePoints(hist, [lo, hi], W, y0, h, top) {
  const x = (v) => ((v - lo) / (hi - lo)) * W;
  const pts = [[x(hist.edges[0]), y0]];
  hist.counts.forEach((c, i) => {
    const y = y0 - (top > 0 ? (c / top) * h : 0);
    pts.push([x(hist.edges[i]), y], [x(hist.edges[i + 1]), y]);
  });
  pts.push([x(hist.edges[hist.edges.length - 1]), y0]);
  return pts.map(([a, b]) => `${a.toFixed(1)},${b.toFixed(1)}`).join(" ");
}

/** How many values layer l's histogram of kind counts: n_l·n_{l−1} weights, m·n_l for a and δ. */
export function valueCount(sizes, l, kind, m) {
  return kind === "w" ? sizes[l - 1] * sizes[l - 2] : m * sizes[l - 1];
}

const H = 96; // px: a cell's picture
const RIDGE = 34; // px: the tallest bar of a histogram
const AXIS = 12; // px under the front histogram for its value labels
const RIDGES = 12; // older histograms drawn behind the front one, at most

/** At most n of the items, evenly spread, the last one kept. */
export function thinned(items, n) {
  if (items.length <= n) return items;
  return Array.from({ length: n }, (_, i) => items[Math.round(((i + 1) * (items.length - 1)) / n)]);
}

export class Distributions {
  constructor(root) {
    this.root = root;
    this.cells = $(".ds-cells", root);
    this.caption = $(".ds-caption", root);
    this.last = null; // {runId, step, histograms}: the newest frame that carried histograms
    this.drawn = null; // what was drawn last (draw)
    this.args = null;
    new ResizeObserver(() => this.args && this.draw(...this.args)).observe(this.cells);
  }

  /** Draw frame's layers for kind ("w" | "a" | "delta") with the run's history (if it is this run's). */
  update(frame, { kind, history, runId }) {
    if (this.last && (this.last.runId !== runId || frame.step < this.last.step)) this.last = null;
    if (frame.histograms) this.last = { runId, step: frame.step, histograms: frame.histograms };
    const hist = history && history.run_id === runId ? history.histograms : null;
    this.args = [frame, kind in KINDS ? kind : "w", hist];
    this.draw(...this.args);
  }

  draw(frame, kind, hist) {
    if (this.root.closest("[hidden]")) {
      this.drawn = null;
      return;
    }
    const live = this.last;
    // Drawn again only when what it shows changed (most playing frames carry no histograms).
    const drawn = { kind, hist, live, width: this.cells.clientWidth, sizes: frame.sizes.join(), step: live ? null : frame.step };
    if (this.drawn && Object.keys(drawn).every((k) => drawn[k] === this.drawn[k])) return;
    this.drawn = drawn;
    const m = live?.histograms?.m ?? frame.hyper?.batch_size ?? 0;
    // Cells side by side, wrapping onto more rows when a cell would be under 64 px wide.
    const width = this.cells.clientWidth;
    const per = Math.max(1, Math.min(frame.layers.length, Math.floor((width + 8) / 72)));
    const W = Math.max(56, Math.floor((width + 8) / per) - 8);
    let first = null;
    let lastStep = null;
    const cells = frame.layers.map((layer) => {
      const l = layer.l;
      const snaps = snapshots(hist, live?.histograms, live?.step ?? frame.step, l, kind);
      const n = valueCount(frame.sizes, l, kind, m);
      const head = html`<div class="ds-head"><b>${KINDS[kind].sym(l)}</b> <span class="dim">l = ${l}, ${n.toLocaleString("en-US")} values</span></div>`;
      if (!snaps.length) return html`<figure class="ds-cell" data-l="${l}" style="width:${W}px">${head}<div class="ds-none dim small">no histogram yet${live ? " (a value was not finite)" : ""}</div></figure>`;
      first ??= snaps[0].step;
      lastStep = snaps[snaps.length - 1].step;
      const [lo, hi] = xRange(snaps);
      const top = Math.max(1, ...snaps.flatMap((s) => s.counts));
      const front = snaps[snaps.length - 1];
      const back = thinned(snaps.slice(0, -1), RIDGES);
      const span = H - AXIS - RIDGE - 2;
      const off = back.length ? Math.min(4, span / back.length) : 0;
      const y0 = H - AXIS;
      const ridges = back.map((s, i) => {
        const y = y0 - (back.length - i) * off;
        const shade = Math.round(200 - (120 * (i + 1)) / back.length);
        return html`<polyline class="ds-ridge" points="${ridgePoints(s, [lo, hi], W, y, RIDGE, top)}" style="stroke: rgb(${shade},${shade + 20},${Math.min(255, shade + 50)})"><title>step ${s.step}</title></polyline>`;
      });
      const x = (v) => ((v - lo) / (hi - lo)) * W;
      const bars = front.counts.map((c, i) => {
        const x0 = x(front.edges[i]);
        const w = Math.max(0.6, x(front.edges[i + 1]) - x0 - 0.4);
        const h = (c / top) * RIDGE;
        return html`<rect class="ds-bar" data-count="${c}" x="${x0.toFixed(1)}" y="${(y0 - h).toFixed(1)}" width="${w.toFixed(1)}" height="${h.toFixed(1)}"><title>${fmt(front.edges[i])} ≤ ${KINDS[kind].sym(l)} < ${fmt(front.edges[i + 1])}: ${c}</title></rect>`;
      });
      const zero = lo < 0 && hi > 0 ? html`<line class="ds-zero" x1="${x(0).toFixed(1)}" x2="${x(0).toFixed(1)}" y1="${H - AXIS - RIDGE - off * back.length}" y2="${y0 + 2}"/>` : html``;
      return html`<figure class="ds-cell" data-l="${l}" style="width:${W}px" data-step="${front.step}" data-snapshots="${snaps.length}">${head}<svg width="${W}" height="${H}" role="img" aria-label="histogram of ${KINDS[kind].sym(l)} at step ${front.step}, ${snaps.length} steps">${zero}${ridges}${bars}<line class="ds-base" x1="0" x2="${W}" y1="${y0}" y2="${y0}"/><text class="ds-lo" x="0" y="${H - 1}">${fmt(lo, 3)}</text><text class="ds-hi" x="${W}" y="${H - 1}" text-anchor="end">${fmt(hi, 3)}</text></svg></figure>`;
    });
    setHTML(this.cells, html`${cells}`);
    const what = kind === "w" ? "the weights at each step" : `the ${KINDS[kind].label} of the batch (m = ${m} examples) at each step`;
    this.caption.textContent =
      first === null
        ? "The histograms come with the next paused or sampled frame."
        : `Histograms of ${what}: steps ${first.toLocaleString("en-US")} (back, higher) to ${lastStep.toLocaleString("en-US")} (front, bars). x: the value, each layer its own range (ends labelled); height: how many values fall in each of 20 bins.`;
  }
}
