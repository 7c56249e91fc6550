// Train / test cost (and accuracy) against the step. The history arrives with the first frame
// of a connection; later frames append one point. While training plays the plot is redrawn at
// most every REDRAW_MS: a curve does not need 30 redraws a second, the network does
// (a Plotly line redraw costs ~15-25 ms on a classroom laptop; bench/bench_page.py).

import { plot } from "./plots.js";
import { $, fmt, html, setHTML } from "./util.js";

const REDRAW_MS = 300;
const SHOWN = 400; // points per curve on screen (the history keeps 2,000)
const CAP = 2000;
/** Each curve's line, used by the plot and by the legend's swatches alike. */
const STYLE = {
  "train cost": { color: "#222222", width: 2 },
  "test cost": { color: "#888888", width: 1.6, dash: "dash" },
  "train accuracy": { color: "#2166ac", width: 1.2 },
  "test accuracy": { color: "#67a9cf", width: 1.2, dash: "dot" },
};
const DASH = { dash: "5 3", dot: "1.5 2" };

/** A short sample of a curve's line, as the legend shows it. */
function swatch(style) {
  const d = style.dash ? DASH[style.dash] : "none";
  return html`<svg class="swatch" width="20" height="8" aria-hidden="true"><line x1="1" y1="4" x2="19" y2="4" stroke="${style.color}" stroke-width="${Math.max(1.5, style.width)}" stroke-dasharray="${d}"/></svg>`;
}

export class LossPlot {
  constructor(root) {
    this.div = $(".loss-plot", root);
    this.stats = $(".loss-stats", root);
    this.logBox = $("#loss-log", root);
    this.h = empty();
    this.lastDraw = 0;
    this.dirty = false;
    this.rev = 0;
    this.span = null; // the steps the x axis spans at least (setSpan)
    this.lastKept = -1; // the timeline's last kept step (setSpan): after the step shown, a rewind
    // The points after the step shown that a rewind undid (the page had them before it), drawn
    // faded while the run keeps its snapshots ahead (the span reaches past the step shown).
    this.ahead = empty();
    this.at = 0; // the step shown
    this.logBox?.addEventListener("change", () => this.draw());
    new ResizeObserver(() => this.draw()).observe(this.div);
  }

  /** Record the frame; redraw now if force or enough time passed. */
  update(frame, { force = false } = {}) {
    if (frame.history) {
      const before = concat(this.h, this.ahead);
      this.h = cloneHistory(frame.history);
      this.ahead = undone(before, this.h, frame.step);
    }
    this.at = frame.step;
    const h = this.h;
    const last = h.step.length ? h.step[h.step.length - 1] : -1;
    if (frame.step < last) {
      this.h = empty();
      this.ahead = empty();
    }
    // A playing stream measures train/test every few frames: a point per measurement.
    const at = frame.metrics_step ?? frame.step;
    if (!frame.history && at !== last) {
      this.h.step.push(at);
      this.h.epoch.push(frame.epoch);
      this.h.train_cost.push(frame.train.cost);
      this.h.test_cost.push(frame.test.cost);
      this.h.train_accuracy.push(frame.train.accuracy);
      this.h.test_accuracy.push(frame.test.accuracy);
      if (this.h.step.length > CAP) for (const k of Object.keys(this.h)) this.h[k].splice(0, this.h[k].length - CAP);
      this.ahead = empty(); // training on from a rewound step replaces the future it undid
    }
    this.renderStats(frame);
    this.dirty = true;
    const now = performance.now();
    if (force || frame.status !== "running" || now - this.lastDraw >= REDRAW_MS) this.draw();
  }

  /**
   * The x axis spans at least [0, max] (null: the history's own steps): the timeline's steps,
   * so that the timeline under the plot (timeline.js) has each step under the same step of
   * the curve. After a rewind the steps kept ahead are to the right of the step shown, where
   * the points the rewind undid are drawn faded over a band marked "undone" (draw).
   * `lastKept`: the timeline's last kept step; only steps kept after the step shown make a
   * rewind (the slider's range is at least 0-1 at step 0, where nothing was undone).
   */
  setSpan(max, lastKept = -1) {
    if (max === this.span && lastKept === this.lastKept) return;
    this.span = max;
    this.lastKept = lastKept;
    this.draw();
  }

  /** The numbers, and the legend: each name carries the swatch of its curve. */
  renderStats(f) {
    const acc = (a, which) =>
      a === null || a === undefined ? "" : html` · <span class="nowrap">${swatch(STYLE[`${which} accuracy`])}<span data-legend="${which} accuracy">accuracy</span> ${(a * 100).toFixed(1)} %</span>`;
    setHTML(
      this.stats,
      html`<span class="train-line"><span class="nowrap">${swatch(STYLE["train cost"])}<span data-legend="train cost">train cost</span> <b data-train-cost="${f.train.cost}">${fmt(f.train.cost)}</b></span>${acc(f.train.accuracy, "train")}</span>
        <span class="test-line"><span class="nowrap">${swatch(STYLE["test cost"])}<span data-legend="test cost">test cost</span> <b>${fmt(f.test.cost)}</b></span>${acc(f.test.accuracy, "test")}</span>`,
    );
  }

  draw() {
    if (!this.div.clientWidth) return;
    this.lastDraw = performance.now();
    this.dirty = false;
    const h = thin(this.h);
    const hasAcc = h.train_accuracy.some((a) => a !== null && a !== undefined);
    const log = !!this.logBox?.checked;
    // One measurement (step 0) is a marker: Plotly draws no line through a single point, and
    // the stand-in draws what Plotly will (standin.js).
    const mode = h.step.length === 1 ? "lines+markers" : "lines";
    const lastStep = h.step.length ? h.step[h.step.length - 1] : 0;
    // After a rewind the axis spans the kept steps ahead too (the timeline below has them): the
    // points the rewind undid are drawn there faded, over a shaded "undone" band.
    const rewound = this.lastKept > Math.max(lastStep, this.at);
    const xmax = Math.max(this.span ?? 0, lastStep, 1);
    const x = xmax > lastStep ? { range: [0, xmax], autorange: false } : { autorange: true };
    if (xmax < 5) Object.assign(x, { tick0: 0, dtick: 1 }); // steps are whole: no "0.5" tick
    const ahead = rewound ? thin(after(this.ahead, this.at, this.span)) : empty();
    const traces = [
      { type: "scatter", mode, name: "train cost", x: h.step, y: h.train_cost, line: STYLE["train cost"], marker: dot(STYLE["train cost"]), hovertemplate: "step %{x}<br>train cost %{y:.4g}<extra></extra>" },
      { type: "scatter", mode, name: "test cost", x: h.step, y: h.test_cost, line: STYLE["test cost"], marker: dot(STYLE["test cost"]), hovertemplate: "step %{x}<br>test cost %{y:.4g}<extra></extra>" },
    ];
    if (hasAcc) {
      traces.push(
        { type: "scatter", mode, name: "train accuracy", x: h.step, y: h.train_accuracy, yaxis: "y2", line: STYLE["train accuracy"], marker: dot(STYLE["train accuracy"]), hovertemplate: "step %{x}<br>train accuracy %{y:.1%}<extra></extra>" },
        { type: "scatter", mode, name: "test accuracy", x: h.step, y: h.test_accuracy, yaxis: "y2", line: STYLE["test accuracy"], marker: dot(STYLE["test accuracy"]), hovertemplate: "step %{x}<br>test accuracy %{y:.1%}<extra></extra>" },
      );
    }
    if (ahead.step.length) {
      // Each faded curve starts at the last point shown, so that it continues the curve.
      for (const t of [...traces]) {
        const k = t.name.replace(" ", "_");
        const xs = [...h.step.slice(-1), ...ahead.step];
        const ys = [...h[k].slice(-1), ...ahead[k]];
        const pct = t.yaxis === "y2";
        traces.push({
          ...t,
          mode: "lines",
          name: `${t.name} (undone)`,
          x: xs,
          y: ys,
          opacity: 0.3,
          hovertemplate: `step %{x}<br>${t.name} %{y:${pct ? ".1%" : ".4g"}} (undone by the rewind)<extra></extra>`,
        });
      }
    }
    const band = rewound
      ? {
          shapes: [{ type: "rect", layer: "below", xref: "x", yref: "paper", x0: this.at, x1: this.span, y0: 0, y1: 1, fillcolor: "rgba(0,0,0,0.05)", line: { width: 0 } }],
          // Low in the band: next to the step shown (early in a run) the cost is high and the
          // accuracy near chance, so the bottom of the plot is free there.
          annotations: [{ xref: "x", yref: "paper", x: this.at, y: 0, xanchor: "left", yanchor: "bottom", showarrow: false, text: `undone: after step ${this.at}`, bgcolor: "rgba(255,255,255,0.7)", font: { size: 9, color: "#555555" } }],
        }
      : { shapes: [], annotations: [] };
    plot(
      this.div,
      traces,
      {
        width: this.div.clientWidth,
        height: this.div.clientHeight,
        // Fixed margins (automargin off): the plot area is exactly these, in Plotly and in the
        // stand-in drawn before it (standin.js), so nothing moves when Plotly replaces it.
        margin: { l: 40, r: hasAcc ? 44 : 8, t: 4, b: 30 },
        xaxis: { title: { text: "step", standoff: 0, font: { size: 10 } }, tickfont: { size: 10 }, zeroline: false, rangemode: "tozero", automargin: false, ...x },
        yaxis: { type: log ? "log" : "linear", tickfont: { size: 10 }, rangemode: log ? "normal" : "tozero", exponentformat: "power", title: { text: "cost", font: { size: 10 }, standoff: 2 }, automargin: false },
        yaxis2: { overlaying: "y", side: "right", range: [0, 1.02], tickmode: "auto", nticks: 5, tickformat: ".0%", tickfont: { size: 9, color: "#2166ac" }, title: { text: "accuracy", font: { size: 10, color: "#2166ac" }, standoff: 2 }, showgrid: false, visible: hasAcc, fixedrange: true, automargin: false },
        showlegend: false,
        hovermode: "x unified",
        datarevision: ++this.rev,
        paper_bgcolor: "rgba(0,0,0,0)",
        ...band,
      },
      { displayModeBar: false },
    );
  }
}

/** A curve's single point as a dot in its colour. */
const dot = (style) => ({ size: 5, color: style.color });

/** At most SHOWN evenly spaced points (always the last one): a curve, not every step. */
function thin(h) {
  const n = h.step.length;
  if (n <= SHOWN) return h;
  const stride = n / SHOWN;
  const idx = Array.from({ length: SHOWN }, (_, i) => Math.floor(i * stride));
  idx[SHOWN - 1] = n - 1;
  const out = {};
  for (const k of Object.keys(h)) out[k] = idx.map((i) => h[k][i]);
  return out;
}

/** The points of h at steps in (from, to]. */
function after(h, from, to) {
  const idx = h.step.flatMap((s, i) => (s > from && s <= to ? [i] : []));
  const out = empty();
  for (const k of Object.keys(out)) out[k] = idx.map((i) => h[k][i]);
  return out;
}

/** a's points, then b's (b's steps all after a's). */
function concat(a, b) {
  const out = empty();
  for (const k of Object.keys(out)) out[k] = [...a[k], ...b[k]];
  return out;
}

/**
 * The points of `before` (what the page had) after `step` that a rewind undid: when the new
 * history `h` is the same run (the latest step both have a point at has the same cost there;
 * the page and the server may measure at different steps). Anything else (a reset, a new
 * network, another run) undid nothing the page can show.
 */
export function undone(before, h, step) {
  const at = new Map(before.step.map((s, i) => [s, i]));
  let j = h.step.length - 1;
  while (j >= 0 && !at.has(h.step[j])) j--;
  if (j < 0) return empty();
  const a = before.train_cost[at.get(h.step[j])];
  const b = h.train_cost[j];
  const same = a === b || (Number.isFinite(a) && Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a)));
  if (!same) return empty();
  return after(before, Math.max(step, h.step[h.step.length - 1]), Infinity);
}

function empty() {
  return { step: [], epoch: [], train_cost: [], test_cost: [], train_accuracy: [], test_accuracy: [] };
}

function cloneHistory(h) {
  const out = empty();
  for (const k of Object.keys(out)) out[k] = [...(h[k] ?? [])];
  return out;
}
