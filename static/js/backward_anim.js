// The backward pass, animated on the network's own wires (issue 12, item 4): δ flows from the
// output layer back to the first hidden layer, one layer per beat; and the forward pass the
// other way (a beat on layer l lights the edges of w^l, coloured by w^l_jk·a^{l−1}_k, and
// writes z then a = σ(z) for one neuron of layer l). A beat on layer l < L lights
// every edge of w^{l+1}, coloured by its backward contribution w^{l+1}_jk·δ^{l+1}_j (the frame's
// numbers), and writes BP2 for one neuron of layer l with its live numbers; the first beat is
// the output layer's δ^L (BP1). Play at a chosen speed, or step. With prefers-reduced-motion the
// beats never advance on their own (Play steps one layer) and the wires do not move.
// A guide: it draws its own panel and returns {highlight} for the network.

import { math, mi, mo, odot, paren, sum, sym } from "./mathml.js";
import { edgeKey, nodeKey } from "./network_geom.js";
import { layer } from "./quantities.js";
import { fmt, html, name, setHTML } from "./util.js";

/** Edges labelled with their number in a BP2 beat, at most (more crowd the picture). */
const LABELLED = 8;

/** The layers a backward pass visits, in order: L, L−1, …, 2. */
export const beatLayers = (L) => Array.from({ length: L - 1 }, (_, i) => L - i);

/** The layers a forward pass visits, in order: 2, …, L. */
export const forwardLayers = (L) => Array.from({ length: L - 1 }, (_, i) => i + 2);

/** The layers visited by a pass ("forward" | "backward"), in order. */
export const passLayers = (pass, L) => (pass === "forward" ? forwardLayers(L) : beatLayers(L));

/** Milliseconds per beat for each speed the learner can choose. */
export const SPEEDS = { slow: 3200, normal: 1900, fast: 900 };

/** The neuron of layer l whose BP2 is written: the selected one if it is in layer l, else the
 * one with the largest |δ| (the error the eye goes to). */
export function neuronOf(delta, l, selection) {
  if (selection?.type === "neuron" && selection.l === l && selection.j < delta.length) return selection.j;
  return delta.reduce((b, v, j) => (Math.abs(v) > Math.abs(delta[b]) ? j : b), 0);
}

const reducedMotion = () => typeof matchMedia === "function" && matchMedia("(prefers-reduced-motion: reduce)").matches;

export class BackwardAnim {
  constructor(root, { onChange, onExit }) {
    this.root = root;
    this.onChange = onChange;
    this.onExit = onExit;
    this.active = false;
    this.beat = 0;
    this.timer = 0;
    this.playing = false;
    this.speed = "normal";
    this.pass = "backward";
    root.addEventListener("click", (ev) => {
      if (!this.active) return;
      const b = ev.target.closest("[data-ba]");
      const p = ev.target.closest("[data-ba-pass]");
      if (p) {
        this.pause();
        this.pass = p.dataset.baPass;
        this.beat = 0;
        return this.onChange(this.update(this.frame, this.selection));
      }
      if (!b) return;
      const what = b.dataset.ba;
      if (what === "close") return this.onExit();
      if (what === "play") return this.togglePlay();
      this.pause();
      this.go(this.beat + (what === "next" ? 1 : -1));
    });
    root.addEventListener("change", (ev) => {
      if (!this.active || !ev.target.matches("[data-ba-speed]")) return;
      this.speed = ev.target.value;
    });
  }

  start(frame, selection) {
    this.active = true;
    this.beat = 0;
    this.playing = false;
    return this.update(frame, selection);
  }

  stop() {
    this.pause();
    this.active = false;
  }

  pause() {
    clearTimeout(this.timer);
    this.timer = 0;
    this.playing = false;
  }

  togglePlay() {
    if (this.playing) {
      this.pause();
      return this.onChange(this.update(this.frame, this.selection));
    }
    const last = passLayers(this.pass, this.frame.sizes.length).length - 1;
    if (reducedMotion()) return this.go(this.beat >= last ? 0 : this.beat + 1); // one layer per press
    this.playing = true;
    this.go(this.beat >= last ? 0 : this.beat);
  }

  go(beat) {
    const n = passLayers(this.pass, this.frame.sizes.length).length;
    this.beat = Math.max(0, Math.min(n - 1, beat));
    clearTimeout(this.timer);
    if (this.playing) {
      if (this.beat >= n - 1) this.timer = setTimeout(() => this.finish(), SPEEDS[this.speed]);
      else this.timer = setTimeout(() => this.go(this.beat + 1), SPEEDS[this.speed]);
    }
    this.onChange(this.update(this.frame, this.selection));
  }

  finish() {
    this.playing = false;
    this.onChange(this.update(this.frame, this.selection));
  }

  update(frame, selection) {
    if (!frame) return { highlight: null };
    this.frame = frame;
    this.selection = selection;
    const L = frame.sizes.length;
    const fwd = this.pass === "forward";
    const layers = passLayers(this.pass, L);
    this.beat = Math.min(this.beat, layers.length - 1);
    const l = layers[this.beat];
    const reduced = reducedMotion();
    const playLabel = this.playing ? "❚❚ Pause" : reduced ? "Next layer ▶" : this.beat === layers.length - 1 ? "▶ Play again" : "▶ Play";
    const beat = fwd ? this.forwardBeat(frame, l, selection) : l === L ? this.outputBeat(frame, L) : this.hiddenBeat(frame, l, selection);
    beat.highlight.flow = this.pass; // network_svg.js: the lit wires' dashes run this way
    setHTML(
      this.root,
      html`<div class="guide-head" data-guide="backward" data-anim-layer="${l}" data-anim-pass="${this.pass}" data-anim-playing="${this.playing}"><b>The ${this.pass} pass</b>
        <span class="ba-pass" role="group" aria-label="which pass">${["forward", "backward"].map((p) => html`<button data-ba-pass="${p}" class="${p === this.pass ? "active" : ""}" aria-pressed="${p === this.pass}">${p === "forward" ? "forward →" : "← backward"}</button>`)}</span>
        <span class="dim">layer ${l} · beat ${this.beat + 1} of ${layers.length} · probe #${frame.probe.index}</span>
        <span class="grow"></span>
        <button data-ba="play" class="primary">${playLabel}</button>
        <button data-ba="prev" ${this.beat === 0 ? "disabled" : ""} aria-label="previous layer">◀</button>
        <button data-ba="next" ${this.beat === layers.length - 1 ? "disabled" : ""} aria-label="next layer">▶</button>
        <label class="small">speed <select data-ba-speed>${Object.keys(SPEEDS).map((s) => html`<option value="${s}" ${s === this.speed ? "selected" : ""}>${s}</option>`)}</select></label>
        <button data-ba="close" class="x" aria-label="close">×</button></div>
        <ol class="ba-track">${layers.map((x, i) => html`<li class="${i === this.beat ? "now" : i < this.beat ? "done" : ""}">l = ${x}</li>`)}</ol>
        <div class="guide-body">${beat.body}</div>
        ${reduced ? html`<p class="note">Your system asks for reduced motion: the pass moves one layer per press, and the wires stay still.</p>` : html``}`,
    );
    return { highlight: beat.highlight };
  }

  /** Layer l of the forward pass: the edges of w^l carry w^l_jk·a^{l−1}_k into layer l; one
   * neuron j adds them and its bias (z), then applies its activation (a = σ(z)). */
  forwardBeat(frame, l, selection) {
    const cur = layer(frame, l);
    const fwd = cur.edges.probe.forward; // w^l_jk · a^{l−1}_k, the frame's numbers (n_l × n_{l−1})
    const K = fwd[0].length;
    const j = neuronOf(cur.z, l, selection);
    const edges = new Set();
    for (let jj = 0; jj < cur.z.length; jj++) for (let k = 0; k < K; k++) edges.add(edgeKey(l, jj, k));
    const labels = [
      ...Array.from({ length: Math.min(K, 8) }, (_, k) => ({ edge: [l, j, k], t: 0.26, text: `${fmt(fwd[j][k])}` })),
      { node: [l, j], text: `${name.z(l, j)} = ${fmt(cur.z[j])}, ${name.a(l, j)} = ${fmt(cur.a[j])}` },
    ];
    const prev = new Set(Array.from({ length: K }, (_, k) => nodeKey(l - 1, k)));
    const highlight = { edges, nodes: new Set([nodeKey(l, j)]), context: prev, color: "forward", fill: "a", labels };
    const terms = fwd[j];
    const total = terms.reduce((s, v) => s + v, 0);
    const paren1 = (v) => (v < 0 ? `(${fmt(v)})` : fmt(v));
    return {
      highlight,
      body: html`<p><b>Layer ${l}: forward.</b> Each edge into layer ${l} carries ${math(sym.w(l, "j", "k"), sym.a(l - 1, "k"))} forward (the numbers on the lit edges); neuron j adds them and its bias, then applies its activation (${frame.activations[l - 2]}). For j = ${j + 1}:</p>
        <p class="ba-eq" data-ba-z="${l},${j}">${math(sym.z(l, j), mo("="), sum(mi("k")), sym.w(l, j, "k"), sym.a(l - 1, "k"), mo("+"), sym.b(l, j))}
          = (${terms.map((v, k) => html`${k ? " + " : ""}${paren1(v)}`)}) + ${paren1(cur.b[j])}
          ≈ ${paren1(total)} + ${paren1(cur.b[j])} ≈ <b data-ba-zval>${fmt(cur.z[j])}</b></p>
        <p class="ba-eq" data-ba-a="${l},${j}">${math(sym.a(l, j), mo("="), mi("σ"), paren(sym.z(l, j)))} = <b data-ba-aval>${fmt(cur.a[j])}</b></p>
        <p class="note">The frame's numbers, rounded to 4 significant digits, hence ≈. The backward pass runs along the same wires the other way, with the same weights.</p>`,
    };
  }

  outputBeat(frame, L) {
    const out = layer(frame, L);
    const nodes = new Set(out.delta.map((_, j) => nodeKey(L, j)));
    const labels = out.delta.slice(0, 8).map((v, j) => ({ node: [L, j], text: `${name.delta(L, j)} = ${fmt(v)}` }));
    return {
      highlight: { edges: new Set(), nodes, color: "backward", fill: "delta", labels },
      body: html`<p><b>Output layer ${L}: BP1.</b> The error starts where the cost is: ${math(sym.delta(L), mo("="), mi("∇"), mi("C"), odot(), sym.sigmaPrime(sym.z(L)))}, for the probe example:
        ${out.delta.map((v, j) => html`<span class="ba-num" data-ba-delta="${L},${j}">${name.delta(L, j)} = ${fmt(v)}</span> `)}</p>
        <p class="note">Next beat: these errors travel back along the edges into layer ${L - 1}, each multiplied by the same weight that carried the signal forward.</p>`,
    };
  }

  hiddenBeat(frame, l, selection) {
    const next = layer(frame, l + 1);
    const cur = layer(frame, l);
    const k = neuronOf(cur.delta, l, selection);
    const back = next.edges.probe.backward; // w^{l+1}_jk · δ^{l+1}_j, the frame's (rule's) numbers
    const J = next.delta.length;
    const edges = new Set();
    for (let j = 0; j < J; j++) for (let kk = 0; kk < cur.delta.length; kk++) edges.add(edgeKey(l + 1, j, kk));
    const labels = [...Array.from({ length: Math.min(J, LABELLED) }, (_, j) => ({ edge: [l + 1, j, k], t: 0.74, text: `${fmt(back[j][k])}` })), { node: [l, k], text: `${name.delta(l, k)} = ${fmt(cur.delta[k])}` }];
    const highlight = { edges, nodes: new Set([nodeKey(l, k)]), context: new Set(next.delta.map((_, j) => nodeKey(l + 1, j))), color: "backward", fill: "delta", labels };
    const rule = cur.true_delta !== undefined; // a feedback rule other than the transpose: δ is not BP2's
    if (rule) {
      return {
        highlight,
        body: html`<p><b>Layer ${l}.</b> This run carries δ back with another rule than the transpose (the Model panel's “BP2 carries δ back with”), so its δ is ${math(paren(mi("B"), sym.delta(l + 1)), odot(), sym.sigmaPrime(sym.z(l)))}, not BP2: the edges still show ${math(sym.w(l + 1, "j", "k"), sym.delta(l + 1, "j"))}, which is what BP2 would add up. Switch the rule back to the transpose to see BP2 written with its numbers.</p>`,
      };
    }
    const terms = Array.from({ length: J }, (_, j) => back[j][k]);
    const total = terms.reduce((s, v) => s + v, 0);
    return {
      highlight,
      body: html`<p><b>Layer ${l}: BP2.</b> Each edge from neuron k of layer ${l} carries ${math(sym.w(l + 1, "j", "k"), sym.delta(l + 1, "j"))} back (the numbers on the lit edges${J > LABELLED ? `, the first ${LABELLED} of ${J} labelled` : ""}); neuron k adds them and scales by its own slope. For k = ${k + 1}:</p>
        <p class="ba-eq" data-ba-bp2="${l},${k}">${math(sym.delta(l, k), mo("="), sym.sigmaPrime(sym.z(l, k)), mo("·"), sum(mi("j")), sym.w(l + 1, "j", k), sym.delta(l + 1, "j"))}
          = ${fmt(cur.sigma_prime[k])} · (${terms.map((v, j) => html`${j ? " + " : ""}${v < 0 ? `(${fmt(v)})` : fmt(v)}`)})
          ≈ ${fmt(cur.sigma_prime[k])} · ${total < 0 ? `(${fmt(total)})` : fmt(total)} ≈ <b data-ba-result>${fmt(cur.delta[k])}</b></p>
        <p class="note">The frame's numbers, rounded to 4 significant digits, hence ≈ (the exact arithmetic for a neuron is in “Why the transpose?”). Nothing is inverted: the same weights multiply again on the way back, and each neuron sums over the neurons it feeds, which is what ${math(sym.wT(l + 1))} does.</p>`,
    };
  }
}
