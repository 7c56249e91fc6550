// "Why the transpose?": a short guided walk through BP2 on the learner's own network and
// numbers (the question in shared/seed/). Each step highlights the edges and neurons it
// talks about and labels them with the live values of the probe example.
// The neuron it follows is the page's selection, so the stream sends that neuron's unrounded
// terms (frame.explain) as it does for the explain panel; every "=" holds to the digits shown
// (digits.js).

import { bp2Matrix } from "./bp2_matrix.js";
import { Sheet } from "./digits.js";
import { eq, math, mi, mo, num, odot, paren, sum, sym, times } from "./mathml.js";
import { edgeKey, nodeKey } from "./network_geom.js";
import { NudgePanel } from "./nudge.js";
import { approxNote, arith, explainFor, layer, nodeVector, shownNum } from "./quantities.js";
import { allShapes, dims, shapeOf, shapeSentence, wName, wPlus } from "./shapes.js";
import { fmt, html, name, setHTML } from "./util.js";

export class Walkthrough {
  /** onChange({highlight, selection}): what the page should show after a step the learner
   * took here (Next, Back); onExit(): the learner closed the walk. */
  constructor(root, { onChange, onExit, onCompare }) {
    this.root = root;
    this.onChange = onChange;
    this.onExit = onExit;
    this.nudge = new NudgePanel(root); // step 7: measure the slope beside both rules' numbers
    this.active = false;
    this.frame = null;
    this.i = 0;
    root.addEventListener("click", (ev) => {
      if (!this.active) return;
      const b = ev.target.closest("[data-wt]");
      if (!b) return;
      if (b.dataset.wt === "next") this.go(this.i + 1);
      else if (b.dataset.wt === "prev") this.go(this.i - 1);
      else if (b.dataset.wt === "close") this.onExit();
      else if (b.dataset.wt === "compare") onCompare?.();
    });
  }

  /** Begin at step 1 on the selected hidden neuron (else neuron 1 of the last hidden layer). */
  start(frame, selection) {
    const L = frame.sizes.length;
    if (selection && selection.type === "neuron" && selection.l > 1 && selection.l < L) [this.l, this.k] = [selection.l, selection.j];
    else [this.l, this.k] = [L - 1, 0];
    this.i = 0;
    this.active = true;
    return this.update(frame, selection);
  }

  /** The neuron followed, as the page's selection: the stream then sends its exact terms. */
  get sel() {
    return { type: "neuron", l: this.l, j: this.k };
  }

  stop() {
    this.active = false;
  }

  go(i) {
    this.i = Math.max(0, Math.min(this.steps.length - 1, i));
    this.onChange(this.update(this.frame, this.sel));
  }

  /**
   * Draw the current step for this frame and selection; returns what the page should show:
   * {highlight, selection} (the neuron followed: a hidden neuron selected meanwhile becomes
   * it, anything else gives way to it).
   */
  update(frame, selection) {
    if (!frame) return { highlight: null };
    this.frame = frame;
    const L = frame.sizes.length;
    if (L < 3) {
      this.steps = [null];
      setHTML(this.root, html`<div class="guide-head"><b>Why the transpose?</b><button data-wt="close" class="x" aria-label="close">×</button></div>
        <p>This network has no hidden layer, so there is no BP2 to explain: the output error δ goes straight into the weights (BP4). Add a hidden layer (the + above the network) and open this again.</p>`);
      return { highlight: null };
    }
    if (this.l >= L || this.k >= frame.sizes[this.l - 1]) [this.l, this.k] = [L - 1, 0];
    const s0 = selection;
    if (s0 && s0.type === "neuron" && s0.l > 1 && s0.l < L) [this.l, this.k] = [s0.l, s0.j];
    this.steps = this.buildSteps(frame, explainFor(frame, this.sel));
    const s = this.steps[this.i];
    setHTML(
      this.root,
      html`<div class="guide-head" data-guide="walkthrough" data-guide-step="${this.i + 1}"><b>Why the transpose?</b>
        <span class="dim">step ${this.i + 1} of ${this.steps.length} · layer l = ${this.l}, neuron k = ${this.k + 1}, probe #${frame.probe.index}</span>
        <span class="grow"></span>
        <button data-wt="prev" ${this.i === 0 ? "disabled" : ""}>◀ Back</button>
        <button data-wt="next" class="primary" ${this.i === this.steps.length - 1 ? "disabled" : ""}>Next ▶</button>
        <button data-wt="close" class="x" aria-label="close">×</button></div>
        <h3>${s.title}</h3><div class="guide-body"${this.pending ? html` data-pending="1"` : ""}>${s.body}</div>`,
    );
    return { highlight: s.highlight, selection: this.sel };
  }

  buildSteps(frame, ex) {
    const { l, k } = this;
    const next = layer(frame, l + 1);
    const cur = layer(frame, l);
    const a = nodeVector(frame, l, "a");
    const J = next.delta.length;
    const js = Array.from({ length: J }, (_, j) => j);
    const out = new Set(js.map((j) => edgeKey(l + 1, j, k)));
    const kNode = nodeKey(l, k);
    const jNodes = new Set(js.map((j) => nodeKey(l + 1, j)));
    const fw = next.edges.probe.forward;
    const bw = next.edges.probe.backward;
    const jStar = js.reduce((b, j) => (Math.abs(next.delta[j]) > Math.abs(next.delta[b]) ? j : b), 0);
    const into = new Set(Array.from({ length: a.length }, (_, kk) => edgeKey(l + 1, jStar, kk)));
    const ctx = new Set([kNode, ...jNodes]);
    const list = (f) => html`<table class="terms compact">${js.map((j) => html`<tr>${f(j)}</tr>`)}</table>`;
    // One sheet for the whole walk, so a number reads the same in every step.
    this.pending = !ex;
    const sh = new Sheet();
    const E = {};
    if (ex) {
      const P = ex.probe;
      sh.num("a", P.a);
      for (const t of P.terms) {
        sh.num(`w${t.i}`, t.w);
        sh.num(`d${t.i}`, t.delta);
        sh.num(`f${t.i}`, t.w * P.a); // w·a in float64, as the forward pass multiplies
        sh.num(`p${t.i}`, t.product);
      }
      E.fw = P.terms.map((t) => sh.eq([`w${t.i}`, "·", "a"], `f${t.i}`));
      E.bw = P.terms.map((t) => sh.eq([`w${t.i}`, "·", `d${t.i}`], `p${t.i}`));
      sh.num("S", P.sum);
      E.sum = sh.eq(P.terms.flatMap((t, n) => (n ? ["+", `p${t.i}`] : [`p${t.i}`])), "S");
      sh.num("sp", P.sigma_prime);
      sh.num("delta", P.delta);
      E.delta = sh.eq(["S", "·", "sp"], "delta");
      sh.fit();
    }
    const wait = html`<p class="dim">Asking the server for this neuron's unrounded numbers…</p>`;
    const aShown = ex ? shownNum(sh, "a") : num(a[k]);
    return [
      {
        title: html`1 · Forward: edge k → j carries ${math(sym.a(l, k))} into ${math(sym.z(l + 1, "j"))}, weighted by ${math(sym.w(l + 1, "j", k))}`,
        highlight: { edges: out, nodes: new Set([kNode]), context: ctx, color: "forward", fill: "a", labels: js.map((j) => ({ edge: [l + 1, j, k], t: 0.62, text: `${name.w(l + 1, j, k)}·${name.a(l, k)} = ${ex ? sh.text(`f${j}`) : fmt(fw[j][k])}` })) },
        body: html`<p>Neuron k = ${k + 1} of layer ${l} has ${math(sym.a(l, k), eq(), aShown)}. It feeds every neuron j of layer ${l + 1}; each edge multiplies it by its own weight and adds it into ${math(sym.z(l + 1, "j"), eq(), sum(mi("k")), sym.w(l + 1, "j", "k"), sym.a(l, "k"), mo("+"), sym.b(l + 1, "j"))}.</p>
          ${ex ? list((j) => html`<td>${math(sym.w(l + 1, j, k), times(), sym.a(l, k), eq())}</td><td>${arith(sh, E.fw[j], "wt-forward")}</td>`) : wait}${approxNote(sh)}`,
      },
      {
        title: html`2 · Forward, all neurons: ${math(sym.z(l + 1), eq(), sym.w(l + 1), sym.a(l), mo("+"), sym.b(l + 1))}`,
        highlight: { edges: into, nodes: new Set([nodeKey(l + 1, jStar)]), color: "forward", fill: "z", labels: [{ node: [l + 1, jStar], text: `${name.z(l + 1, jStar)} = ${fmt(next.z[jStar])}` }] },
        body: html`<p>Row j of ${math(sym.w(l + 1))} holds the weights <em>entering</em> neuron j (row = destination, column = source: ${math(sym.w(l + 1, "j", "k"))}). Here row j = ${jStar + 1} collects all of layer ${l}: ${math(sym.z(l + 1, jStar), eq(), num(next.z[jStar]))}.</p>
          <p>So in the forward pass ${math(sym.w(l + 1))} is read <b>by rows</b>. Column k (the weights <em>leaving</em> neuron k) is the one we met in step 1.</p>`,
      },
      {
        title: html`3 · Backward: the same edge carries ${math(sym.delta(l + 1, "j"))} back to k, weighted by the same ${math(sym.w(l + 1, "j", k))}`,
        highlight: { edges: out, nodes: new Set([kNode, ...jNodes]), color: "backward", fill: "delta", labels: js.map((j) => ({ edge: [l + 1, j, k], t: 0.62, text: `${name.w(l + 1, j, k)}·${name.delta(l + 1, j)} = ${ex ? sh.text(`p${j}`) : fmt(bw[j][k])}` })) },
        body: html`<p>${math(sym.delta(l + 1, "j"))} is how fast the cost changes with ${math(sym.z(l + 1, "j"))}. Nudging ${math(sym.a(l, k))} by a small amount ε moves each ${math(sym.z(l + 1, "j"))} by ${math(sym.w(l + 1, "j", k), mi("ε"))}: the <b>same weight</b>. So the cost moves by ${math(sym.w(l + 1, "j", k), sym.delta(l + 1, "j"), mi("ε"))} through neuron j (the chain rule).</p>
          ${ex ? list((j) => html`<td>${math(sym.w(l + 1, j, k), times(), sym.delta(l + 1, j), eq())}</td><td>${arith(sh, E.bw[j], "wt-backward")}</td>`) : wait}${approxNote(sh)}
          <p class="note">Nothing is divided or undone: the weight multiplies again, now on the way back.</p>`,
      },
      {
        title: html`4 · Add over j: column k of ${math(sym.w(l + 1))} is row k of ${math(sym.wT(l + 1))}`,
        highlight: { edges: out, nodes: new Set([kNode]), context: ctx, color: "backward", fill: "delta", labels: [{ node: [l, k], text: `Σ = ${ex ? sh.text("S") : "…"}` }] },
        body: html`<div class="explain-cols"><div class="explain-left"><p>Neuron k collects the errors of all neurons it feeds: ${math(sum(mi("j")), sym.w(l + 1, "j", k), sym.delta(l + 1, "j"), eq())} ${ex ? arith(sh, E.sum, "wt-sum") : wait}${approxNote(sh)}</p>
          <p>The weights ${math(sym.w(l + 1, "j", k))} for fixed k are <b>column k</b> of ${math(sym.w(l + 1))}. A matrix product reads rows, so to use column k as a row we transpose: the sum is entry k of ${math(sym.wT(l + 1), sym.delta(l + 1))}. That is all the transpose does: it makes each neuron use the weights leaving it, not the ones entering it.</p></div>
          <div class="explain-right">${bp2Matrix(frame, l, k)}</div></div>`,
      },
      {
        title: html`5 · Through the activation: ${math(odot(), sym.sigmaPrime(sym.z(l)))}`,
        highlight: { edges: new Set(), nodes: new Set([kNode]), context: ctx, color: "backward", fill: "delta", labels: [{ node: [l, k], text: `${name.delta(l, k)} = ${ex ? sh.text("delta") : fmt(cur.delta[k])}` }] },
        body: html`<p>The sum is the error in ${math(sym.a(l, k))}. To get the error in ${math(sym.z(l, k))} we go back through ${math(sym.a(l, k), eq(), mi("σ"), paren(sym.z(l, k)))}, which scales changes by its slope ${math(sym.sigmaPrime(sym.z(l, k)), eq(), ex ? shownNum(sh, "sp") : mi("…"))}:</p>
          <p class="eq-head">${math(sym.delta(l, k), eq(), sum(mi("j")), sym.w(l + 1, "j", k), sym.delta(l + 1, "j"), times(), sym.sigmaPrime(sym.z(l, k)), eq())} ${ex ? arith(sh, E.delta, "wt-delta") : wait}</p>${approxNote(sh)}
          <p class="note">This δ is the one backpropagation computed (the frame's δ), not a recomputation: the numbers are the server's, unrounded, each shown with the digits its “=” needs.</p>
          <p>Each neuron uses only its own slope (its activation depends only on its own ${math(sym.z(l, k))}), so for the whole layer it is an element-wise product ⊙, not a matrix product.</p>`,
      },
      {
        title: html`6 · All of layer ${l} at once: BP2`,
        highlight: { edges: new Set(js.flatMap((j) => cur.delta.map((_, kk) => edgeKey(l + 1, j, kk)))), nodes: new Set(cur.delta.map((_, kk) => nodeKey(l, kk))), color: "backward", fill: "delta", labels: [] },
        body: html`<p class="eq-head">${math(sym.delta(l), eq(), paren(sym.wT(l + 1), sym.delta(l + 1)), odot(), sym.sigmaPrime(sym.z(l)))}</p>
          <p>Every edge colour in the network (backward w·δ) is one term of these sums. ${hiddenRange(frame.sizes.length)} With the δs, BP3 and BP4 give every gradient. Click any neuron later to see its own BP2.</p>`,
      },
      whyNotInverse(this.nudge, frame, l, k, out, ex ? sh.text("S") : null),
    ];
  }
}

/**
 * Step 7, "Why not the inverse?", on the learner's own network: the shape argument with their
 * w^{l+1}, what the pseudo-inverse would do (measured by the nudge, trained by Compare rules),
 * and why the chain rule gives the transpose. S: the neuron's Σ_j w_jk δ_j as shown in step 4.
 */
function whyNotInverse(nudge, frame, l, k, out, S) {
  const m = l + 1;
  const [r, c] = shapeOf(frame.sizes, m);
  const shape = shapeSentence(frame.sizes, m);
  const mats = allShapes(frame.sizes);
  const squares = mats.filter((x) => x.square);
  const others = html`Your network's weight matrices: ${mats.map((x, i) => html`${i ? ", " : ""}${wName(x.m)} is ${dims(x.shape)}`)}; ${squares.length === 0 ? "none of them is square, so none has an inverse." : html`only ${squares.map((x, i) => html`${i ? ", " : ""}${wName(x.m)}`)} ${squares.length === 1 ? "is" : "are"} square.`}`;
  const sel = { type: "neuron", l, j: k };
  return {
    title: html`7 · Why not the inverse?`,
    highlight: { edges: out, nodes: new Set([nodeKey(l, k)]), color: "backward", fill: "delta", labels: [] },
    body: html`<p data-why-inverse-shape data-shape="${dims([r, c])}"><b>The shapes.</b> ${shape.text} ${others}</p>
      <p><b>What an inverse would do.</b> The closest thing to an inverse of a ${dims([r, c])} matrix is its pseudo-inverse ${math(wPlus(m))} (${dims([c, r])}): it finds the layer-${l} vector that ${wName(m)} would map closest to ${math(sym.delta(m))}, an “undo” of the forward step. But ${math(sym.delta(l, k))} does not ask which values of layer ${l} would produce ${math(sym.delta(m))}; it asks how fast the cost changes when ${math(sym.z(l, k))} moves. Measure it: the nudge below moves ${math(sym.z(l, k))} by ±ε and shows the slope beside backprop's number and the inverse rule's prediction. Or <button type="button" data-wt="compare">Compare rules</button> to train this network with the transpose, the inverse and a random matrix side by side.</p>
      <p><b>Why the transpose.</b> Moving ${math(sym.a(l, k))} by ε moves each ${math(sym.z(m, "j"))} it feeds by ${math(sym.w(m, "j", k), mi("ε"))}, and the cost through neuron j by ${math(sym.w(m, "j", k), sym.delta(m, "j"), mi("ε"))}. The chain rule adds these contributions back: ${math(sum(mi("j")), sym.w(m, "j", k), sym.delta(m, "j"))}${S ? html` = ${S}` : ""}, entry k of ${math(sym.wT(m), sym.delta(m))}. Each weight multiplies again on the way back and the contributions are summed; nothing is undone, so no inverse is needed${shape.square ? "" : html`, and for this ${dims([r, c])} ${wName(m)} none exists`}.</p>
      ${nudge.render(frame, sel)}`,
  };
}

/**
 * Where BP2 applies in a network of L layers: the hidden layers l = L−1, …, 2 (layer 1 is
 * the input and has no δ; layer L gets its δ from BP1). L ≥ 3 here.
 */
export function hiddenRange(L) {
  if (L === 3) return "Layer 2 is the only hidden layer, so this one BP2 step carries the output error all the way back: layer 1 is the input and needs no δ.";
  const ls = Array.from({ length: L - 2 }, (_, i) => L - 1 - i); // L−1 down to 2
  const layers = `l = ${ls.length <= 4 ? ls.join(", ") : `${ls[0]}, ${ls[1]}, …, 2`}`;
  return `Applying BP2 to each hidden layer in turn, ${layers}, carries the output error back through the whole network (layer 1 is the input and needs no δ).`;
}
