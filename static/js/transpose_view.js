// "w and wᵀ, side by side, linked" (issue 12, item 3): a guide that shows the weight matrix
// w^m (n_m × n_{m−1}) of the learner's network next to its transpose (w^m)ᵀ (n_{m−1} × n_m),
// the same numbers (the frame's, 4 significant digits) in both. Hovering (or tapping) an entry
// lights the same number in both matrices and its edge in the network; a row of w lights the
// edges entering neuron j, a row of wᵀ the edges leaving neuron k. It says what the shapes
// say: only a square w can have an inverse. Like every guide, it draws its own panel and
// returns {highlight} for the network; it never writes the store.

import { colorOf } from "./colors.js";
import { math, sym } from "./mathml.js";
import { edgeKey, nodeKey } from "./network_geom.js";
import { layer } from "./quantities.js";
import { dims, shapeOf, shapeSentence, wName } from "./shapes.js";
import { $$, fmt, html, maxAbs, name, setHTML, sub } from "./util.js";

/** The matrix a selection points at: the edge's own w^l; a neuron of layer l < L: w^{l+1}
 * (the matrix that carries its error back); else w^{L−1} when there is one (a hidden
 * layer's incoming weights), w^L otherwise. */
export function matrixFor(selection, L) {
  if (selection?.type === "edge") return selection.l;
  if (selection?.type === "neuron") return Math.min(L, Math.max(2, selection.l + (selection.l < L ? 1 : 0)));
  return Math.max(2, L - 1);
}

/** What a hover over entry (j, k), row j of w or row k of wᵀ lights: the cells (as [j, k])
 * and the edges of w^m. n = [n_m, n_{m−1}]. */
export function litBy(hover, [rows, cols]) {
  if (!hover) return [];
  if (hover.kind === "cell") return [[hover.j, hover.k]];
  if (hover.kind === "row") return Array.from({ length: cols }, (_, k) => [hover.j, k]); // entering j
  return Array.from({ length: rows }, (_, j) => [j, hover.k]); // leaving k
}

export class TransposeView {
  /** onChange({highlight}): the network's highlight after a hover; onExit(): closed. */
  constructor(root, { onChange, onExit }) {
    this.root = root;
    this.onChange = onChange;
    this.onExit = onExit;
    this.active = false;
    this.hover = null;
    this.m = 2;
    this.selKey = null;
    const pick = (ev) => {
      const c = ev.target.closest("[data-tw]");
      if (!this.active || !c || !this.root.contains(c)) return;
      const d = c.dataset;
      const hover = d.tw === "cell" ? { kind: "cell", j: +d.j, k: +d.k } : d.tw === "row" ? { kind: "row", j: +d.j } : { kind: "col", k: +d.k };
      if (JSON.stringify(hover) === JSON.stringify(this.hover)) return;
      this.hover = hover;
      this.light();
      this.onChange({ highlight: this.highlight() });
    };
    root.addEventListener("pointerover", pick);
    root.addEventListener("focusin", pick);
    root.addEventListener("pointerout", (ev) => {
      if (!this.active || !this.hover || ev.relatedTarget?.closest?.(".tw-mats")) return;
      this.hover = null;
      this.light();
      this.onChange({ highlight: this.highlight() });
    });
    root.addEventListener("click", (ev) => {
      if (!this.active) return;
      const b = ev.target.closest("[data-tv]");
      if (!b) return;
      if (b.dataset.tv === "close") this.onExit();
      else {
        this.m += b.dataset.tv === "next" ? 1 : -1;
        this.hover = null;
        this.onChange(this.update(this.frame, this.selection));
      }
    });
  }

  start(frame, selection) {
    this.active = true;
    this.hover = null;
    this.selKey = null;
    return this.update(frame, selection);
  }

  stop() {
    this.active = false;
  }

  update(frame, selection) {
    if (!frame) return { highlight: null };
    this.frame = frame;
    this.selection = selection;
    const L = frame.sizes.length;
    const key = JSON.stringify(selection ?? null);
    if (key !== this.selKey) {
      this.selKey = key;
      this.m = matrixFor(selection, L);
      this.hover = null;
    }
    this.m = Math.min(L, Math.max(2, this.m));
    this.render();
    return { highlight: this.highlight() };
  }

  render() {
    const { frame, m } = this;
    const L = frame.sizes.length;
    const w = layer(frame, m).w;
    const [rows, cols] = shapeOf(frame.sizes, m);
    const max = maxAbs(w);
    const cell = (j, k, t) => {
      const v = w[j][k];
      const s = max > 0 ? v / max : 0;
      return html`<td class="mcell tcell${Math.abs(s) > 0.62 ? " dark" : ""}" style="background:${colorOf(s)}" data-tw="cell" data-j="${j}" data-k="${k}" data-${t}="${v}" tabindex="0" title="${name.w(m, j, k)}: from neuron ${k + 1} of layer ${m - 1} to neuron ${j + 1} of layer ${m}">${fmt(v)}</td>`;
    };
    const wTable = html`<table class="mmat tw-w" data-tw-matrix="w"><tr><th></th>${Array.from({ length: cols }, (_, k) => html`<th data-tw="col" data-k="${k}">k=${k + 1}</th>`)}</tr>${Array.from(
      { length: rows },
      (_, j) => html`<tr><th data-tw="row" data-j="${j}" title="row ${j + 1}: the weights entering neuron ${j + 1} of layer ${m}">j=${j + 1}</th>${Array.from({ length: cols }, (_, k) => cell(j, k, "w"))}</tr>`,
    )}</table>`;
    const tTable = html`<table class="mmat tw-t" data-tw-matrix="wT"><tr><th></th>${Array.from({ length: rows }, (_, j) => html`<th data-tw="row" data-j="${j}">j=${j + 1}</th>`)}</tr>${Array.from(
      { length: cols },
      (_, k) => html`<tr><th data-tw="col" data-k="${k}" title="row ${k + 1} of (${wName(m)})ᵀ, the weights leaving neuron ${k + 1} of layer ${m - 1}">k=${k + 1}</th>${Array.from({ length: rows }, (_, j) => cell(j, k, "wt"))}</tr>`,
    )}</table>`;
    const shape = shapeSentence(frame.sizes, m);
    setHTML(
      this.root,
      html`<div class="guide-head" data-guide="matrices" data-tw-m="${m}"><b>w and wᵀ</b>
        <span class="dim">layer ${m - 1} → layer ${m}, probe #${frame.probe.index}, step ${frame.step}</span>
        <span class="grow"></span>
        <button data-tv="prev" ${m <= 2 ? "disabled" : ""}>◀ ${wName(m - 1)}</button>
        <button data-tv="next" ${m >= L ? "disabled" : ""}>${wName(m + 1)} ▶</button>
        <button data-tv="close" class="x" aria-label="close">×</button></div>
        <p class="tw-shape" data-shape-sentence data-square="${shape.square}">${shape.text}</p>
        <div class="tw-mats">
          <div class="tw-mat"><div class="mlabel">${math(sym.w(m))} <span class="dim">${dims([rows, cols])}: row j = neuron j of layer ${m} (edges entering it)</span></div><div class="tw-scroll">${wTable}</div></div>
          <div class="tw-mat"><div class="mlabel">${math(sym.wT(m))} <span class="dim">${dims([cols, rows])}: row k = neuron k of layer ${m - 1} (edges leaving it)</span></div><div class="tw-scroll">${tTable}</div></div>
        </div>
        <p class="note tw-readout" data-tw-readout>${this.readout()}</p>
        <p class="note">Forward, row j of ${math(sym.w(m))} collects layer ${m - 1} into ${math(sym.z(m, "j"))}. Backward, row k of ${math(sym.wT(m))} collects the errors of the neurons k feeds into ${math(sym.delta(m - 1, "k"))} (BP2): the same numbers, read the other way. Numbers: the frame's weights, 4 significant digits; the edges are coloured by the weight.</p>`,
    );
    this.light();
  }

  readout() {
    const h = this.hover;
    const m = this.m;
    if (!h) return "Hover over (or tap) a number, or a row label, to see it in both matrices and in the network.";
    const w = layer(this.frame, m).w;
    if (h.kind === "cell") {
      return `${name.w(m, h.j, h.k)} = ${fmt(w[h.j][h.k])} is row ${h.j + 1}, column ${h.k + 1} of ${wName(m)} and row ${h.k + 1}, column ${h.j + 1} of (${wName(m)})ᵀ: the edge from neuron ${h.k + 1} of layer ${m - 1} to neuron ${h.j + 1} of layer ${m}.`;
    }
    if (h.kind === "row") return `Row ${h.j + 1} of ${wName(m)} = column ${h.j + 1} of (${wName(m)})ᵀ: the weights on the edges entering neuron ${h.j + 1} of layer ${m} (it sums them forward into z${sub(h.j + 1)}).`;
    return `Row ${h.k + 1} of (${wName(m)})ᵀ = column ${h.k + 1} of ${wName(m)}: the weights on the edges leaving neuron ${h.k + 1} of layer ${m - 1} (BP2 sums their w·δ back into its δ).`;
  }

  /** Mark the hovered entries in both matrices, and say what they are. */
  light() {
    const [rows, cols] = shapeOf(this.frame.sizes, this.m);
    const lit = new Set(litBy(this.hover, [rows, cols]).map(([j, k]) => `${j},${k}`));
    for (const c of $$(".tcell", this.root)) c.classList.toggle("lit", lit.has(`${c.dataset.j},${c.dataset.k}`));
    const out = this.root.querySelector("[data-tw-readout]");
    if (out) out.textContent = this.readout();
  }

  /** The network shows w^m's edges coloured by weight, the hovered ones lit. */
  highlight() {
    const { m } = this;
    const [rows, cols] = shapeOf(this.frame.sizes, m);
    const all = [];
    for (let j = 0; j < rows; j++) for (let k = 0; k < cols; k++) all.push([j, k]);
    const lit = this.hover ? litBy(this.hover, [rows, cols]) : all;
    const w = layer(this.frame, m).w;
    const nodes = new Set(lit.flatMap(([j, k]) => [nodeKey(m, j), nodeKey(m - 1, k)]));
    const labels = this.hover && lit.length <= 8 ? lit.map(([j, k]) => ({ edge: [m, j, k], t: 0.55, text: `${name.w(m, j, k)} = ${fmt(w[j][k])}` })) : [];
    return { edges: new Set(lit.map(([j, k]) => edgeKey(m, j, k))), nodes: this.hover ? nodes : new Set(), color: "weight", fill: "a", labels };
  }
}
