// Step-through mode: training paused, one frame's numbers replayed in order: forward layer by
// layer (z, then a), backward (BP1 at the output, then BP2 layer by layer), the update
// (BP3/BP4 with the batch gradients), then one real SGD step for the next batch.

import { eq, math, mi, mn, mo, msub, num, numP, odot, paren, sum, sym, times } from "./mathml.js";
import { edgeKey, nodeKey } from "./network_geom.js";
import { ACT_LABEL, layer, nodeVector, sigmaCancels } from "./quantities.js";
import { fmt, html, name, setHTML } from "./util.js";

export class StepThrough {
  constructor(root, { store, onHighlight, onExit, step }) {
    this.root = root;
    this.store = store;
    this.onHighlight = onHighlight;
    this.onExit = onExit;
    this.stepServer = step;
    this.i = 0;
    this.frame = null;
    this.waiting = false;
    root.addEventListener("click", (ev) => {
      if (this.store.mode !== "stepthrough") return;
      const b = ev.target.closest("[data-st]");
      if (!b) return;
      const what = b.dataset.st;
      if (what === "next") this.advance();
      else if (what === "prev") this.go(this.i - 1);
      else if (what === "close") this.onExit();
    });
  }

  start(frame) {
    this.frame = frame;
    this.i = 0;
    this.waiting = false;
    this.render();
  }

  stop() {
    this.store.highlight = null;
  }

  /** A new frame: only the one our "next batch" asked for restarts the walk. */
  update(frame) {
    // Our "next batch" step, or frames still in flight when the walk began: start from them.
    if ((this.waiting || this.i === 0) && frame.step !== this.frame.step) {
      this.waiting = false;
      this.frame = frame;
      this.i = 0;
    }
    if (frame.sizes.join() !== this.frame?.sizes.join()) {
      this.frame = frame;
      this.i = 0;
    }
    this.render();
  }

  advance() {
    const stages = this.stages();
    if (stages[this.i].kind === "next") {
      this.waiting = true;
      this.stepServer();
      this.render();
      return;
    }
    this.go(this.i + 1);
  }

  go(i) {
    this.i = Math.max(0, Math.min(this.stages().length - 1, i));
    this.render();
    this.onHighlight();
  }

  stages() {
    const L = this.frame.sizes.length;
    const s = [];
    for (let l = 2; l <= L; l++) s.push({ kind: "z", l }, { kind: "a", l });
    s.push({ kind: "bp1", l: L });
    for (let l = L - 1; l >= 2; l--) s.push({ kind: "bp2", l });
    s.push({ kind: "update" }, { kind: "next" });
    return s;
  }

  render() {
    const f = this.frame;
    if (!f) return;
    const stages = this.stages();
    const st = stages[Math.min(this.i, stages.length - 1)];
    const { title, body, highlight } = this.describe(st, f);
    this.store.highlight = highlight;
    const id = st.l ? `${st.kind}-${st.l}` : st.kind;
    const phase = st.kind === "z" || st.kind === "a" ? "forward" : st.kind === "update" || st.kind === "next" ? "update" : "backward";
    setHTML(
      this.root,
      html`<div class="guide-head" data-guide="stepthrough" data-stage="${id}"><b>Step through</b>
        <span class="phase ${phase}">${phase}</span>
        <span class="dim">${this.i + 1} / ${stages.length} · step ${f.step} · probe #${f.probe.index}</span>
        <span class="grow"></span>
        <button data-st="prev" ${this.i === 0 || this.waiting ? "disabled" : ""}>◀ Back</button>
        <button data-st="next" class="primary" ${this.waiting ? "disabled" : ""}>${st.kind === "next" ? "Train this batch ▶" : "Next ▶"}</button>
        <button data-st="close" class="x" aria-label="close">×</button></div>
        <h3>${title}</h3><div class="guide-body">${this.waiting ? html`<p>Training one step…</p>` : body}</div>`,
    );
  }

  describe(st, f) {
    const L = f.sizes.length;
    const all = (l) => new Set(Array.from({ length: f.sizes[l - 1] }, (_, j) => nodeKey(l, j)));
    const edgesInto = (l) => new Set(layer(f, l).w.flatMap((row, j) => row.map((_, k) => edgeKey(l, j, k))));
    const upTo = (l) => new Set(Array.from({ length: l }, (_, i) => [...all(i + 1)]).flat());
    const after = (l) => new Set(Array.from({ length: L - l }, (_, i) => [...all(l + i + 1)]).flat());
    const labels = (l, key, nm) => layer(f, l)[key].map((v, j) => ({ node: [l, j], text: `${nm(l, j)} = ${fmt(v)}` }));
    if (st.kind === "z" || st.kind === "a") {
      const { l } = st;
      const Lr = layer(f, l);
      const aPrev = nodeVector(f, l - 1, "a");
      const pend = after(st.kind === "z" ? l - 1 : l);
      const act = ACT_LABEL[f.activations[l - 2]] ?? f.activations[l - 2];
      const rows = Lr.z.map((z, j) =>
        st.kind === "z"
          ? html`<tr><td>${math(sym.z(l, j))}</td><td>${math(eq(), sum(mi("k")), sym.w(l, j, "k"), sym.a(l - 1, "k"), mo("+"), sym.b(l, j), eq(), numP(Lr.w[j].reduce((s, w, k) => s + w * aPrev[k], 0)), mo("+"), numP(Lr.b[j]))}</td><td class="num">${math(eq(), num(z))}</td></tr>`
          : html`<tr><td>${math(sym.a(l, j))}</td><td>${math(eq(), applied(f.activations[l - 2], num(z), j))}</td><td class="num">${math(eq(), num(Lr.a[j]))}</td></tr>`,
      );
      return {
        title: st.kind === "z" ? html`Forward, layer ${l}: weighted inputs ${math(sym.z(l), eq(), sym.w(l), sym.a(l - 1), mo("+"), sym.b(l))}` : html`Forward, layer ${l}: activations ${math(sym.a(l), eq(), applied(f.activations[l - 2], sym.z(l)))} (${act}: the σ of BP1 and BP2 stands for it)`,
        highlight: { edges: st.kind === "z" ? edgesInto(l) : new Set(), nodes: all(l), context: upTo(l), pending: pend, color: "forward", fill: st.kind, labels: labels(l, st.kind, st.kind === "z" ? name.z : name.a) },
        body: html`<table class="terms compact">${rows}</table><p class="note">Values for the probe example #${f.probe.index}; edge colours are the forward contributions ${math(sym.w(l, "j", "k"), sym.a(l - 1, "k"))}.</p>`,
      };
    }
    if (st.kind === "bp1") {
      const Lr = layer(f, L);
      const cancels = sigmaCancels(f);
      const rows = Lr.delta.map((d, j) => html`<tr><td>${math(sym.delta(L, j))}</td><td>${cancels ? math(eq(), sym.a(L, j), mo("−"), sym.y(j), eq(), numP(Lr.a[j]), mo("−"), numP(f.probe.y[j])) : math(eq(), paren(sym.a(L, j), mo("−"), sym.y(j)), times(), sym.sigmaPrime(sym.z(L, j)), eq(), paren(num(Lr.a[j] - f.probe.y[j])), times(), numP(Lr.sigma_prime[j]))}</td><td class="num">${math(eq(), num(d))}</td></tr>`);
      return {
        title: html`Backward, BP1 at the output (layer ${L}): ${math(sym.delta(L), eq(), row2(cancels))}`,
        highlight: { edges: new Set(), nodes: all(L), context: upTo(L), pending: new Set([...upTo(L - 1)].filter((k) => !k.startsWith("1,"))), color: "backward", fill: "delta", labels: labels(L, "delta", name.delta) },
        body: html`<table class="terms compact">${rows}</table><p class="note">${f.cost_name === "quadratic" ? "Quadratic cost: ∂C/∂a = a − y." : cancels ? "σ′ cancels against this cost's derivative." : ""} Backpropagation starts here.</p>`,
      };
    }
    if (st.kind === "bp2") {
      const { l } = st;
      const cur = layer(f, l);
      const back = layer(f, l + 1).edges.probe.backward;
      const rows = cur.delta.map((d, k) => {
        const s = back.reduce((acc, row) => acc + row[k], 0);
        return html`<tr><td>${math(sym.delta(l, k))}</td><td>${math(eq(), sum(mi("j")), sym.w(l + 1, "j", k), sym.delta(l + 1, "j"), times(), sym.sigmaPrime(sym.z(l, k)), eq(), numP(s), times(), numP(cur.sigma_prime[k]))}</td><td class="num">${math(eq(), num(d))}</td></tr>`;
      });
      return {
        title: html`Backward, BP2 into layer ${l}: ${math(sym.delta(l), eq(), paren(sym.wT(l + 1), sym.delta(l + 1)), odot(), sym.sigmaPrime(sym.z(l)))}`,
        highlight: { edges: edgesInto(l + 1), nodes: all(l), context: new Set([...all(l + 1), ...after(l)]), pending: new Set([...upTo(l - 1)].filter((k) => !k.startsWith("1,"))), color: "backward", fill: "delta", labels: labels(l, "delta", name.delta) },
        body: html`<table class="terms compact">${rows}</table><p class="note">Edge colours: backward contributions ${math(sym.w(l + 1, "j", "k"), sym.delta(l + 1, "j"))}; each neuron k adds those on its outgoing edges, then multiplies by its own σ′.</p>`,
      };
    }
    if (st.kind === "update") {
      const eta = f.hyper.learning_rate;
      const rows = f.layers.map((Lr) => {
        let best = [0, 0];
        Lr.grad_w.forEach((row, j) => row.forEach((g, k) => { if (Math.abs(g) > Math.abs(Lr.grad_w[best[0]][best[1]])) best = [j, k]; }));
        const [j, k] = best;
        const g = Lr.grad_w[j][k];
        return html`<tr><td>layer ${Lr.l}</td><td>${math(mo("‖"), mfracText("w"), mo("‖"), eq(), num(Lr.norms.grad_w))}</td><td>largest: ${math(mo("Δ"), sym.w(Lr.l, j, k), eq(), mo("−"), num(eta), times(), numP(g), eq(), num(-eta * g))}</td></tr>`;
      });
      return {
        title: html`Update: BP3 ${math(mfracText("b"), eq(), sym.delta("l", "j"))}, BP4 ${math(mfracText("w"), eq(), sym.a("l-1", "k"), sym.delta("l", "j"))}, then ${math(mi("w"), mo("←"), mi("w"), mo("−"), mi("η"), mfracText("w"))}`,
        highlight: { edges: new Set(f.layers.flatMap((Lr) => [...edgesInto(Lr.l)])), nodes: new Set(), context: upTo(L), color: "gradient", fill: "delta", labels: [] },
        body: html`<table class="terms compact">${rows}</table><p class="note">The step uses the <b>batch mean</b> of these gradients over the ${f.hyper.batch_size} examples of this batch (the probe is one example; its own a·δ colours the edges). η = ${fmt(eta)}.</p>`,
      };
    }
    return {
      title: html`Next batch`,
      highlight: { edges: new Set(), nodes: new Set(), context: upTo(L), color: "backward", fill: "delta", labels: [] },
      body: html`<p>Apply the update and move to the next batch: the server trains one SGD step, then this walk starts again with the new weights.</p>`,
    };
  }
}

const row2 = (cancels) => (cancels ? html`<msup><mi>a</mi><mi>L</mi></msup><mo>−</mo><mi>y</mi>` : html`<msub><mo>∇</mo><mi>a</mi></msub><mi>C</mi><mo>⊙</mo><msup><mi>σ</mi><mo>′</mo></msup><mo>(</mo><msup><mi>z</mi><mi>L</mi></msup><mo>)</mo>`);
const mfracText = (v) => html`<mfrac><mrow><mo>∂</mo><mi>C</mi></mrow><mrow><mo>∂</mo><mi>${v}</mi></mrow></mfrac>`;

/** The layer's own activation function written out: tanh(2.825), σ(z), ReLU(z), softmax(z)ⱼ. */
const FN = { sigmoid: "σ", tanh: "tanh", relu: "ReLU", leaky_relu: "leaky ReLU", linear: "id", softmax: "softmax" };
function applied(activation, arg, j = null) {
  const f = paren(arg);
  const name = mi(FN[activation] ?? activation);
  // softmax is not applied neuron by neuron: a_j = softmax(z)_j, of the whole layer.
  if (activation === "softmax") return j === null ? html`${name}${f}` : msub(html`<mrow>${name}${paren(mi("z"))}</mrow>`, mn(j + 1));
  return html`${name}${f}`;
}
