// The output over the input plane (decision boundary or regression surface) with the train
// and test points. The surface is a canvas-drawn layout image (redrawn only when a frame
// carries a grid); the points are static traces; clicking a training point makes it the probe.
// Drawn by Plotly, or by its canvas stand-in until Plotly.js has loaded (plots.js).

import { CLASS_COLORS, colorOf, gridImage, outputMap } from "./colors.js";
import { ACT_LABEL, actAbout } from "./quantities.js";
import { plot } from "./plots.js";
import { standInPixel } from "./standin.js";
import { fmt, html, maxAbs, setHTML } from "./util.js";

/** A grid of values over the plane (rows over x2, columns over x1) as a Plotly layout image
 * stretched over the axes' data range, under the points. */
function planeImage(values, map, x1, x2) {
  return {
    source: gridImage(values, map),
    xref: "x",
    yref: "y",
    x: x1[0],
    y: x2[x2.length - 1],
    sizex: x1[x1.length - 1] - x1[0],
    sizey: x2[x2.length - 1] - x2[0],
    xanchor: "left",
    yanchor: "top",
    sizing: "stretch",
    layer: "below",
  };
}

/** What the Discretise box does for an output of this kind (frame.kind, or "multiclass" for
 * several outputs), actLabel its activation, cut its class rule's cut (colors.js isPositive). */
export function discretiseTitle(kind, actLabel, cut) {
  if (kind === "regression") {
    return "Regression has no classes: the plane shows the output's value, so there is nothing to discretise (the box is off, and a tick from the link is ignored).";
  }
  if (kind === "multiclass") {
    return "With several outputs the plane already shows each point's class (the largest output), so discretising changes nothing here.";
  }
  return `Colour each point of the plane by its class, as the accuracy counts it: + (blue) where the ${actLabel} output a > ${cut}, − (orange) where a ≤ ${cut}.`;
}

/**
 * The plane's colour key, made from the very map the plane is drawn with (outputMap), so a
 * colour read off the key is the value (or class) the plane means: {type: "ramp", lo, hi,
 * stops: rgb at 11 evenly spaced values lo..hi} for a continuous output, or {type:
 * "swatches", items: [{rgb, text}]} for classes (several outputs, or Discretise). range:
 * BoundaryPlot.outputRange's; discrete: Discretise applies (one output, not regression).
 */
export function planeKey(range, discrete) {
  const map = outputMap({ ...range, discrete });
  if (range.kind === "multiclass") {
    return { type: "swatches", items: Array.from({ length: range.hi + 1 }, (_, c) => ({ rgb: map(c), text: `class ${c}` })) };
  }
  if (discrete && Number.isFinite(range.cut)) {
    const c = range.cut;
    return { type: "swatches", items: [{ rgb: map(c), text: `a ≤ ${c}: −` }, { rgb: map(c + 1), text: `a > ${c}: +` }] };
  }
  const stops = Array.from({ length: 11 }, (_, i) => map(range.lo + (i / 10) * (range.hi - range.lo)));
  return { type: "ramp", lo: range.lo, hi: range.hi, stops };
}

const rgbCss = (c) => `rgb(${c.join(",")})`;

export class BoundaryPlot {
  constructor(div, { onProbe }) {
    this.div = div;
    this.onProbe = onProbe;
    this.image = null;
    this.imageKey = null;
    this.pointTraces = null;
    this.pointsKey = null;
    this.lastKey = null;
    this.bound = false;
    this.caption = document.createElement("div");
    this.caption.className = "neuron-caption";
    this.caption.setAttribute("aria-live", "polite");
    div.after(this.caption);
    new ResizeObserver(() => {
      this.lastKey = null;
      if (this.frame) this.update(this.frame, this.store);
    }).observe(div);
  }

  outputRange(frame, data) {
    const act = frame.activations[frame.activations.length - 1];
    // Several outputs (multiclass, or softmax on two classes): the grid holds the argmax class.
    const nOut = frame.sizes[frame.sizes.length - 1];
    if (frame.kind === "multiclass" || nOut > 1) return { lo: 0, hi: Math.max(nOut, data.n_classes) - 1, mid: 0, kind: "multiclass" };
    const about = actAbout(act);
    const cut = about?.cut; // the class rule's cut (colors.js isPositive): the server's, from the registry
    const bounds = about?.bounds; // a bounded output (sigmoid: 0..1, tanh: −1..1)
    if (bounds) return { lo: bounds[0], hi: bounds[1], mid: (bounds[0] + bounds[1]) / 2, cut };
    const m = Math.max(1e-9, maxAbs(data.train.labels));
    return { lo: -m, hi: m, mid: 0, cut };
  }

  /** The Discretise box says what it does for this output (kind: range.kind or the frame's). */
  titleDiscretise(kind, act, cut) {
    const label = document.querySelector('[data-control="discretize"]');
    if (!label) return;
    const text = discretiseTitle(kind, ACT_LABEL[act] ?? act, cut);
    // A lock note (controls.js) stands in for the title while the box is locked: keep ours for after.
    for (const el of [label, label.querySelector("input")]) {
      if (!el) continue;
      if ("titleUnlocked" in el.dataset) el.dataset.titleUnlocked = text;
      else el.title = text;
    }
  }

  pointColor(label, data, range) {
    if (data.kind === "multiclass") return CLASS_COLORS[Math.round(label) % CLASS_COLORS.length];
    if (data.kind === "classification") return colorOf(label > 0 ? 0.9 : -0.9);
    return colorOf((label - range.mid) / (range.hi - range.mid));
  }

  makePoints(data, range, showTest) {
    const mk = (set, which) => {
      const pts = set.points;
      return {
        type: "scatter",
        mode: "markers",
        name: which,
        x: pts.map((p) => p[0]),
        y: pts.map((p) => p[1]),
        hovertext: pts.map((p, i) => `${which} #${i}: (${fmt(p[0], 3)}, ${fmt(p[1], 3)}) → y = ${fmt(set.labels[i], 3)}${which === "train" ? "<br>click: make it the probe" : ""}`),
        hoverinfo: "text",
        marker: {
          size: which === "train" ? 6 : 6,
          color: set.labels.map((y) => this.pointColor(y, data, range)),
          line: { color: which === "train" ? "#ffffff" : "#111111", width: which === "train" ? 0.8 : 1.2 },
        },
      };
    };
    const traces = [mk(data.train, "train")];
    if (showTest && data.test.points.length) traces.push(mk(data.test, "test"));
    return traces;
  }

  update(frame, store) {
    this.frame = frame;
    this.store = store;
    const data = store.data;
    if (!data || !data.train) return;
    const s = store.settings;
    const twoD = (data.train.points[0]?.length ?? 2) === 2;
    const range = this.outputRange(frame, data);
    const pk = `${data.__rev}|${s.test}|${range.lo}|${range.hi}`;
    if (pk !== this.pointsKey) {
      this.pointsKey = pk;
      this.pointTraces = twoD ? this.makePoints(data, range, s.test) : [];
    }
    const grid = frame.grid;
    const act = frame.activations[frame.activations.length - 1];
    const tk = `${range.kind ?? frame.kind}|${act}|${range.cut}`;
    if (tk !== this.titleKey) {
      this.titleKey = tk;
      this.titleDiscretise(range.kind ?? frame.kind, act, range.cut);
    }
    const ik = `${s.discretize}|${frame.kind}|${range.kind}|${range.lo}|${range.hi}|${range.cut}`;
    const discrete = s.discretize && frame.kind !== "regression";
    if (`${ik}|${twoD}` !== this.keyKey) {
      this.keyKey = `${ik}|${twoD}`;
      this.key = twoD ? planeKey(range, discrete) : null; // no plane drawn: nothing to key
      if (!this.overlay) this.showKey();
    }
    if (grid && grid.output && (grid !== this.gridRef || ik !== this.imageKey)) {
      this.gridRef = grid;
      this.imageKey = ik;
      const map = outputMap({ ...range, discrete });
      const x1 = grid.x1;
      const x2 = grid.x2;
      this.image = planeImage(grid.output, map, x1, x2);
      this.extent = [[x1[0], x1[x1.length - 1]], [x2[0], x2[x2.length - 1]]];
    }
    const p = twoD ? frame.probe.point : null; // no ring on a plot that is not drawn
    const key = `${pk}|${this.image?.source.length}|${this.gridRef === grid}|${p?.[0]}|${p?.[1]}|${this.div.clientWidth}x${this.div.clientHeight}|${this.overlay?.key ?? ""}`;
    if (key === this.lastKey && !this.imageChanged(grid)) return;
    this.lastKey = key;
    const probe = {
      type: "scatter",
      mode: "markers",
      name: "probe",
      x: p ? [p[0]] : [],
      y: p ? [p[1]] : [],
      hovertext: p ? [`probe: train #${frame.probe.index}`] : [],
      hoverinfo: "text",
      marker: { size: 15, symbol: "circle-open", color: "#111", line: { width: 2.6, color: "#111" } },
    };
    const ext = this.extent ?? data.extent;
    const nIn = data.train.points[0]?.length ?? 0;
    const axis = { fixedrange: true, zeroline: false, tickfont: { size: 10 }, showgrid: false, constrain: "domain", visible: twoD };
    const drawn = plot(
      this.div,
      [...this.pointTraces, probe],
      {
        width: this.div.clientWidth,
        height: this.div.clientHeight,
        margin: { l: 30, r: 8, t: 6, b: 26 },
        xaxis: { ...axis, range: ext[0], title: { text: "x₁", standoff: 2, font: { size: 11 } } },
        yaxis: { ...axis, range: ext[1], title: { text: "x₂", standoff: 2, font: { size: 11 } }, scaleanchor: "x", scaleratio: 1 },
        images: twoD && (this.overlay?.image ?? this.image) ? [this.overlay?.image ?? this.image] : [],
        annotations: twoD ? [] : [{ text: `<b>No 2-D plot for ${nIn} inputs</b><br>The output over the input plane<br>needs data with exactly 2 input columns.`, showarrow: false, xref: "paper", yref: "paper", x: 0.5, y: 0.5, font: { size: 12, color: "#555" } }],
        showlegend: false,
        hovermode: "closest",
        dragmode: false,
        // No datarevision: Plotly.react then compares the traces' arrays by identity, so new
        // data (another data set, a moved probe) is always drawn. A constant datarevision made
        // it skip the data and keep the first data set's markers (issue 9, items 1 and 2).
        paper_bgcolor: "rgba(0,0,0,0)",
      },
      { displayModeBar: false, doubleClick: false },
    );
    this.lastImage = this.image;
    if (drawn && !this.bound) {
      this.bound = true;
      this.div.on("plotly_click", (ev) => {
        const pt = ev.points?.[0];
        if (pt && pt.data.name === "train") this.onProbe(pt.pointNumber);
      });
    }
  }

  /** Hovering a neuron (neuron_hover.js): its output over the input plane, grid = {l, j, x1,
   * x2, values}, replaces the decision boundary until showNeuron(null). */
  showNeuron(g) {
    if (!g) {
      this.overlay = null;
    } else {
      const M = Math.max(1e-9, ...g.values.map((r) => maxAbs(r)));
      const x1 = g.x1;
      const x2 = g.x2;
      const image = planeImage(g.values, outputMap({ lo: -M, hi: M, mid: 0 }), x1, x2);
      this.overlay = { key: `${g.l},${g.j},${image.source.length}`, image, l: g.l, j: g.j, max: M };
    }
    this.div.dataset.showing = this.overlay ? `neuron ${g.l},${g.j}` : "output";
    // Under the plot, in its own line (kept when empty, so the plot never jumps): not over
    // the axis title, and wrapped rather than cut where the panel is narrow.
    if (this.overlay) this.caption.textContent = `Hovered: neuron ${g.j + 1} of layer ${g.l} over the plane (±${fmt(this.overlay.max, 2)})`;
    else this.showKey();
    this.lastKey = null;
    if (this.frame) this.update(this.frame, this.store);
  }

  /** Under the plot, while no neuron is hovered: what the plane's colours mean (planeKey). */
  showKey() {
    const k = this.key;
    if (!k) {
      this.caption.textContent = "";
      return;
    }
    if (k.type === "swatches") {
      setHTML(this.caption, html`<span class="plane-key" data-key="swatches">${k.items.map((it) => html`<span class="pk-item"><i style="background: ${rgbCss(it.rgb)}"></i>${it.text}</span>`)}</span>`);
      return;
    }
    const ramp = k.stops.map((c, i) => `${rgbCss(c)} ${i * 10}%`).join(", ");
    setHTML(
      this.caption,
      html`<span class="plane-key" data-key="ramp"><span class="dim">output</span> <span data-end="lo">${fmt(k.lo, 3)}</span><span class="pk-ramp" style="background: linear-gradient(to right, ${ramp})"></span><span data-end="hi">${fmt(k.hi, 3)}</span></span>`,
    );
  }

  /** Forget what was drawn, so the next update redraws everything (benchmark, resize). */
  invalidate() {
    this.lastKey = null;
    this.gridRef = null;
  }

  /** Viewport position of training point i (tests click it), on Plotly's plot or its stand-in. */
  clientPos(i) {
    const p = this.store.data.train.points[i];
    const fl = this.div._fullLayout;
    const r = this.div.getBoundingClientRect();
    if (!fl) {
      const q = standInPixel(this.div, p[0], p[1]);
      return q && { x: r.left + q.x, y: r.top + q.y };
    }
    return { x: r.left + fl.xaxis._offset + fl.xaxis.l2p(p[0]), y: r.top + fl.yaxis._offset + fl.yaxis.l2p(p[1]) };
  }

  imageChanged() {
    return this.lastImage !== this.image;
  }
}
