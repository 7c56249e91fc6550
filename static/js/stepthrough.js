// Step-through mode: training paused, one frame's numbers replayed in order: forward layer by
// layer (z, then a), backward (BP1 at the output, then BP2 layer by layer), the update
// (BP3/BP4 with the batch gradients), then one real SGD step for the next batch.
// Every number in an equation is the server's unrounded `explain` for that neuron or edge
// (fetched over REST, a layer at a time) with the digits its "=" needs (digits.js); the
// update is the one the next step makes, momentum and regularisation included.

import { Sheet, show } from "./digits.js";
import { eq, math, mi, mn, mo, msub, num, odot, paren, sum, sym, times } from "./mathml.js";
import { edgeKey, nodeKey } from "./network_geom.js";
import { ACT_LABEL, COST_LABEL, ExplainCache, REG_LABEL, actAbout, activationEq, approxNote, arith, costAbout, evalTokens, formulaMath, layer, regAbout, sheetTokens, shownNum, sigmaCancels } from "./quantities.js";
import { fmt, html, name, setHTML } from "./util.js";

export class StepThrough {
  /** onChange({highlight}): what the page should show after the learner moved here (or the
   * exact numbers arrived); onExit(): closed; step(): train one batch; runId(): the run;
   * locked(): why training a batch is locked by the page's link (lock=step), or null. */
  constructor(root, { onChange, onExit, step, runId, locked = () => null }) {
    this.root = root;
    this.onChange = onChange;
    this.onExit = onExit;
    this.stepServer = step;
    this.locked = locked;
    this.active = false;
    // Exact numbers per neuron/edge over REST; one redraw per animation frame as they arrive.
    this.cache = new ExplainCache(runId, () => {
      if (this.raf || !this.active) return;
      this.raf = requestAnimationFrame(() => {
        this.raf = 0;
        if (this.active) this.onChange(this.render());
      });
    });
    this.i = 0;
    this.frame = null;
    this.waiting = false;
    root.addEventListener("click", (ev) => {
      if (!this.active) return;
      const b = ev.target.closest("[data-st]");
      if (!b) return;
      const what = b.dataset.st;
      if (what === "next") this.advance();
      else if (what === "prev") this.go(this.i - 1);
      else if (what === "close") this.onExit();
    });
  }

  /** Begin at the first stage of this frame; returns {highlight} as update() does. */
  start(frame) {
    this.frame = frame;
    this.i = 0;
    this.waiting = false;
    this.active = true;
    return this.render();
  }

  stop() {
    this.active = false;
  }

  /** A new frame: only the one our "next batch" asked for restarts the walk. Returns
   * {highlight}: what the network view should show for the stage drawn. */
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
    return this.render();
  }

  advance() {
    const stages = this.stages();
    if (stages[this.i].kind === "next") {
      if (this.locked()) return; // the button is disabled and says why
      this.waiting = true;
      this.stepServer();
      this.onChange(this.render());
      return;
    }
    this.go(this.i + 1);
  }

  go(i) {
    this.i = Math.max(0, Math.min(this.stages().length - 1, i));
    this.onChange(this.render());
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

  /** Draw the current stage; returns {highlight} for the network view. */
  render() {
    const f = this.frame;
    if (!f) return { highlight: null };
    const stages = this.stages();
    const st = stages[Math.min(this.i, stages.length - 1)];
    this.pending = false;
    this.refused = false;
    const { title, body, highlight } = this.describe(st, f);
    const id = st.l ? `${st.kind}-${st.l}` : st.kind;
    const lockedNote = st.kind === "next" ? this.locked() : null; // "Train this batch" is the step button
    const phase = st.kind === "z" || st.kind === "a" ? "forward" : st.kind === "update" || st.kind === "next" ? "update" : "backward";
    setHTML(
      this.root,
      html`<div class="guide-head" data-guide="stepthrough" data-stage="${id}"><b>Step through</b>
        <span class="phase ${phase}">${phase}</span>
        <span class="dim">${this.i + 1} / ${stages.length} · step ${f.step} · probe #${f.probe.index}</span>
        <span class="grow"></span>
        <button data-st="prev" ${this.i === 0 || this.waiting ? "disabled" : ""}>◀ Back</button>
        <button data-st="next" class="primary" ${this.waiting || lockedNote ? "disabled" : ""}${lockedNote ? html` title="${lockedNote}" aria-description="${lockedNote}"` : ""}>${st.kind === "next" ? "Train this batch ▶" : "Next ▶"}</button>
        <button data-st="close" class="x" aria-label="close">×</button></div>
        <h3>${title}</h3><div class="guide-body"${this.pending ? html` data-pending="1"` : ""}>${this.waiting ? html`<p>Training one step…</p>` : body}${this.refused ? html`<p class="note">The server could not send some of these numbers (a diverged run has none that are finite).</p>` : ""}</div>`,
    );
    return { highlight };
  }

  /** The exact numbers of sel ("l,j" or "l,j,k") for this frame; undefined while asked. */
  exact(f, sel) {
    const e = this.cache.get(f, sel);
    if (e === undefined) this.pending = true;
    else if (e === null) this.refused = true;
    return e ?? null;
  }

  describe(st, f) {
    const L = f.sizes.length;
    const all = (l) => new Set(Array.from({ length: f.sizes[l - 1] }, (_, j) => nodeKey(l, j)));
    const edgesInto = (l) => new Set(layer(f, l).w.flatMap((row, j) => row.map((_, k) => edgeKey(l, j, k))));
    const upTo = (l) => new Set(Array.from({ length: l }, (_, i) => [...all(i + 1)]).flat());
    const after = (l) => new Set(Array.from({ length: L - l }, (_, i) => [...all(l + i + 1)]).flat());
    const labels = (l, key, nm) => layer(f, l)[key].map((v, j) => ({ node: [l, j], text: `${nm(l, j)} = ${fmt(v)}` }));
    const sh = new Sheet();
    const js = (l) => Array.from({ length: f.sizes[l - 1] }, (_, j) => j);
    const wait = html`<span class="dim">asking the server…</span>`;
    if (st.kind === "z" || st.kind === "a") {
      const { l } = st;
      const pend = after(st.kind === "z" ? l - 1 : l);
      const actName = f.activations[l - 2];
      const act = ACT_LABEL[actName] ?? actName;
      // z: the neuron's z and the bias b (both unrounded); Σ w·a is z − b.
      const ex = js(l).map((j) => ({ n: this.exact(f, `${l},${j}`), e: st.kind === "z" ? this.exact(f, `${l},${j},0`) : null }));
      const eqs = ex.map(({ n, e }, j) => {
        if (!n || (st.kind === "z" && !e)) return null;
        if (st.kind === "a") return null;
        sh.num(`S${j}`, n.probe.z - e.bias.b);
        sh.num(`b${j}`, e.bias.b);
        sh.num(`z${j}`, n.probe.z);
        return sh.eq([`S${j}`, "+", `b${j}`], `z${j}`);
      });
      sh.fit();
      const rows = ex.map(({ n }, j) => {
        if (st.kind === "z") return html`<tr><td>${math(sym.z(l, j))}</td><td>${math(eq(), sum(mi("k")), sym.w(l, j, "k"), sym.a(l - 1, "k"), mo("+"), sym.b(l, j), eq())}</td><td class="num">${eqs[j] === null ? wait : arith(sh, eqs[j], "z")}</td></tr>`;
        const fn = n ? activationEq(actName, n.probe.z, n.probe.a) : null;
        const aText = n ? html`${math(applied(actName, mi("z"), j), eq(), html`<mn data-v="${n.probe.a}">${show(n.probe.a, 4)}</mn>`)}` : wait;
        return html`<tr><td>${math(sym.a(l, j))}</td><td>${math(eq(), applied(actName, sym.z(l, j), j))}</td><td class="num">${fn ?? aText}</td></tr>`;
      });
      return {
        title: st.kind === "z" ? html`Forward, layer ${l}: weighted inputs ${math(sym.z(l), eq(), sym.w(l), sym.a(l - 1), mo("+"), sym.b(l))}` : html`Forward, layer ${l}: activations ${math(sym.a(l), eq(), applied(actName, sym.z(l)))} (${act}: the σ of BP1 and BP2 stands for it)`,
        highlight: { edges: st.kind === "z" ? edgesInto(l) : new Set(), nodes: all(l), context: upTo(l), pending: pend, color: "forward", flow: "forward", fill: st.kind, labels: labels(l, st.kind, st.kind === "z" ? name.z : name.a) },
        body: html`<table class="terms compact">${rows}</table>${approxNote(sh)}<p class="note">Values for the probe example #${f.probe.index}, unrounded from the server and shown with the digits each “=” needs${st.kind === "z" ? html` (the sum ${math(sum(mi("k")), sym.w(l, "j", "k"), sym.a(l - 1, "k"))} is written as ${math(mi("z"), mo("−"), mi("b"))})` : ""}; edge colours are the forward contributions ${math(sym.w(l, "j", "k"), sym.a(l - 1, "k"))}.</p>`,
      };
    }
    if (st.kind === "bp1") {
      const cancels = sigmaCancels(f);
      const grad = costAbout(f.cost_name)?.grad_a ?? null; // ∇ₐC as a formula, from the cost registry
      const rows = js(L).map((j) => {
        const n = this.exact(f, `${L},${j}`);
        if (!n) return html`<tr><td>${math(sym.delta(L, j))}</td><td class="num">${wait}</td></tr>`;
        const P = n.probe;
        sh.num(`a${j}`, P.a);
        sh.num(`y${j}`, P.y, { exact: true });
        sh.num(`sp${j}`, P.sigma_prime);
        sh.num(`d${j}`, P.delta);
        if (cancels) return { j, d: sh.eq([`a${j}`, "−", `y${j}`], `d${j}`) };
        if (!grad) return { j };
        sh.num(`g${j}`, evalTokens(grad, { a: P.a, y: P.y }));
        return { j, g: sh.eq(sheetTokens(sh, grad, { a: `a${j}`, y: `y${j}` }), `g${j}`), d: sh.eq([`g${j}`, "·", `sp${j}`], `d${j}`) };
      });
      sh.fit();
      const out = rows.map((r) => {
        if (!r || r.j === undefined) return r;
        const { j } = r;
        if (cancels) return html`<tr><td>${math(sym.delta(L, j))}</td><td>${math(eq(), sym.a(L, j), mo("−"), sym.y(j), eq())}</td><td class="num">${arith(sh, r.d, "bp1-delta")}</td></tr>`;
        if (r.d === undefined) return html`<tr><td>${math(sym.delta(L, j))}</td><td></td><td class="num">${math(eq(), shownNum(sh, `d${j}`))}</td></tr>`;
        const g = formulaMath(grad, { a: sym.a(L, j), y: sym.y(j) });
        return html`<tr><td>${math(g)}</td><td></td><td class="num">${arith(sh, r.g, "bp1-grad")}</td></tr>
          <tr><td>${math(sym.delta(L, j))}</td><td>${math(eq(), paren(g), times(), sym.sigmaPrime(sym.z(L, j)), eq())}</td><td class="num">${arith(sh, r.d, "bp1-delta")}</td></tr>`;
      });
      return {
        title: html`Backward, BP1 at the output (layer ${L}): ${math(sym.delta(L), eq(), row2(cancels))}`,
        highlight: { edges: new Set(), nodes: all(L), context: upTo(L), pending: new Set([...upTo(L - 1)].filter((k) => !k.startsWith("1,"))), color: "backward", fill: "delta", labels: labels(L, "delta", name.delta) },
        body: html`<table class="terms compact">${out}</table>${approxNote(sh)}<p class="note">${cancels ? "σ′ cancels against this cost's derivative." : grad ? html`${COST_LABEL[f.cost_name] ?? f.cost_name} cost: ${math(mfracText("a"), eq(), formulaMath(grad))}.` : ""} Backpropagation starts here.</p>`,
      };
    }
    if (st.kind === "bp2") {
      const { l } = st;
      const rows = js(l).map((k) => {
        const n = this.exact(f, `${l},${k}`);
        if (!n) return null;
        sh.num(`S${k}`, n.probe.sum);
        sh.num(`sp${k}`, n.probe.sigma_prime);
        sh.num(`d${k}`, n.probe.delta);
        return sh.eq([`S${k}`, "·", `sp${k}`], `d${k}`);
      });
      sh.fit();
      const out = rows.map((e, k) => html`<tr><td>${math(sym.delta(l, k))}</td><td>${math(eq(), sum(mi("j")), sym.w(l + 1, "j", k), sym.delta(l + 1, "j"), times(), sym.sigmaPrime(sym.z(l, k)), eq())}</td><td class="num">${e === null ? wait : arith(sh, e, "bp2-delta")}</td></tr>`);
      return {
        title: html`Backward, BP2 into layer ${l}: ${math(sym.delta(l), eq(), paren(sym.wT(l + 1), sym.delta(l + 1)), odot(), sym.sigmaPrime(sym.z(l)))}`,
        highlight: { edges: edgesInto(l + 1), nodes: all(l), context: new Set([...all(l + 1), ...after(l)]), pending: new Set([...upTo(l - 1)].filter((k) => !k.startsWith("1,"))), color: "backward", flow: "backward", fill: "delta", labels: labels(l, "delta", name.delta) },
        body: html`<table class="terms compact">${out}</table>${approxNote(sh)}<p class="note">Edge colours: backward contributions ${math(sym.w(l + 1, "j", "k"), sym.delta(l + 1, "j"))}; each neuron k adds those on its outgoing edges, then multiplies by its own σ′.</p>`,
      };
    }
    if (st.kind === "update") {
      const h = f.hyper;
      const mom = h.momentum > 0;
      const rPrime = regAbout(h.regulariser)?.grad_w ?? null; // r′(w) as a formula; null: no regulariser
      const reg = rPrime !== null && h.lambda > 0;
      const picks = f.layers.map((Lr) => {
        let best = [0, 0];
        Lr.grad_w.forEach((r, j) => r.forEach((g, k) => { if (Math.abs(g) > Math.abs(Lr.grad_w[best[0]][best[1]])) best = [j, k]; }));
        const [j, k] = best;
        const e = this.exact(f, `${Lr.l},${j},${k}`);
        if (!e) return { Lr, j, k, e };
        const U = e.update;
        const p = `${Lr.l}_`;
        sh.num(`${p}w`, e.w);
        sh.num(`${p}bp4`, U.bp4_mean);
        sh.num("eta", U.learning_rate, { exact: true });
        sh.num(`${p}dw`, U.delta_w);
        sh.num(`${p}wn`, U.w_next);
        const out = { Lr, j, k, e };
        const uPrime = regAbout(U.regulariser)?.grad_w ?? null;
        const r = uPrime !== null && U.lambda > 0;
        if (r) {
          sh.num("lam", U.lambda, { exact: true });
          sh.num("n", U.n, { exact: true });
          sh.num(`${p}r`, U.reg_grad);
          const rw = evalTokens(uPrime, { w: e.w });
          sh.num(`${p}wr`, rw, { exact: Number.isInteger(rw) }); // sgn(w) is exactly ±1 or 0
          sh.num(`${p}g`, U.grad);
          out.reg = sh.eq(["lam", "/", "n", "·", `${p}wr`], `${p}r`);
          out.grad = sh.eq([`${p}bp4`, "+", `${p}r`], `${p}g`);
        }
        const g = r ? `${p}g` : `${p}bp4`;
        if (U.momentum > 0) {
          sh.num("mu", U.momentum, { exact: true });
          sh.num(`${p}v`, U.velocity);
          out.dw = sh.eq(["mu", "·", `${p}v`, "−", "eta", "·", g], `${p}dw`);
        } else out.dw = sh.eq(["−", "eta", "·", g], `${p}dw`);
        out.wn = sh.eq([`${p}w`, "+", `${p}dw`], `${p}wn`);
        return out;
      });
      sh.fit();
      const rows = picks.map(({ Lr, j, k, e, reg: regEq, grad, dw, wn }) => {
        const W = sym.w(Lr.l, j, k);
        const head = html`<tr class="sumrow"><td colspan="2"><b>layer ${Lr.l}</b>: ${math(mo("‖"), mfracText("w"), mo("‖"), eq(), num(Lr.norms.grad_w))}; its largest gradient is that of ${math(W)}</td></tr>`;
        if (!e) return html`${head}<tr><td></td><td>${wait}</td></tr>`;
        const p = `${Lr.l}_`;
        const gradRow = regEq !== undefined
          ? html`<tr><td>${math(sym.dC(W), eq())}</td><td>${arith(sh, grad, "update-grad")} <span class="dim">(BP4 batch mean + ${arith(sh, regEq, "update-reg")})</span></td></tr>`
          : html`<tr><td>${math(sym.dC(W), eq())}</td><td>${math(shownNum(sh, `${p}bp4`))} <span class="dim">(BP4, batch mean)</span></td></tr>`;
        const dwRule = e.update.momentum > 0 ? [mi("μ"), mi("v"), mo("−")] : [mo("−")];
        return html`${head}${gradRow}
          <tr data-update-edge="${Lr.l},${j},${k}"><td>${math(mo("Δ"), W, eq(), ...dwRule, mi("η"), sym.dC(W), eq())}</td><td data-update-dw="${e.update.delta_w}">${arith(sh, dw, "update-dw")}</td></tr>
          <tr><td>${math(W, mo("→"))}</td><td>${arith(sh, wn, "update-wnext")}</td></tr>`;
      });
      const rule = mom
        ? html`${math(mi("v"), mo("←"), mi("μ"), mi("v"), mo("−"), mi("η"), mfracText("w"))}, ${math(mi("w"), mo("←"), mi("w"), mo("+"), mi("v"))}`
        : math(mi("w"), mo("←"), mi("w"), mo("−"), mi("η"), mfracText("w"));
      const regWords = reg ? html` plus the ${REG_LABEL[h.regulariser] ?? h.regulariser} term ${math(mfrac(mi("λ"), mi("n")), formulaMath(rPrime))}` : "";
      return {
        title: html`Update: BP3 ${math(mfracText("b"), eq(), sym.delta("l", "j"))}, BP4 ${math(mfracText("w"), eq(), sym.a("l-1", "k"), sym.delta("l", "j"))}, then ${rule}`,
        highlight: { edges: new Set(f.layers.flatMap((Lr) => [...edgesInto(Lr.l)])), nodes: new Set(), context: upTo(L), color: "gradient", fill: "delta", labels: [] },
        body: html`<table class="terms compact">${rows}</table>${approxNote(sh)}<p class="note">${math(mfracText("w"))} is the <b>batch mean</b> of ${math(sym.a("l-1", "k"), sym.delta("l", "j"))} over the ${f.hyper.batch_size} examples of this batch${regWords} (the probe is one example; its own a·δ colours the edges). η = ${sh.nums.has("eta") ? sh.text("eta") : fmt(h.learning_rate)}${mom ? html`; momentum μ = ${h.momentum}: v is each weight's last step, and μv keeps a share of it` : ""}. Each Δw shown is the change “Train this batch” makes.</p>`,
      };
    }
    return {
      title: html`Next batch`,
      highlight: { edges: new Set(), nodes: new Set(), context: upTo(L), color: "backward", fill: "delta", labels: [] },
      body: html`<p>Apply the update and move to the next batch: the server trains one SGD step, then this walk starts again with the new weights.</p>`,
    };
  }
}

const mfrac = (a, b) => html`<mfrac>${a}${b}</mfrac>`;
const row2 = (cancels) => (cancels ? html`<msup><mi>a</mi><mi>L</mi></msup><mo>−</mo><mi>y</mi>` : html`<msub><mo>∇</mo><mi>a</mi></msub><mi>C</mi><mo>⊙</mo><msup><mi>σ</mi><mo>′</mo></msup><mo>(</mo><msup><mi>z</mi><mi>L</mi></msup><mo>)</mo>`);
const mfracText = (v) => html`<mfrac><mrow><mo>∂</mo><mi>C</mi></mrow><mrow><mo>∂</mo><mi>${v}</mi></mrow></mfrac>`;

/** The layer's own activation function written out: tanh(2.825), σ(z), ReLU(z), softmax(z)ⱼ
 * (the symbol is the registry's, GET /api/options → about). */
function applied(activation, arg, j = null) {
  const f = paren(arg);
  const about = actAbout(activation);
  const name = mi(about?.symbol ?? activation);
  // softmax is not applied neuron by neuron: a_j = softmax(z)_j, of the whole layer.
  if (about && !about.elementwise) return j === null ? html`${name}${f}` : msub(html`<mrow>${name}${paren(mi("z"))}</mrow>`, mn(j + 1));
  return html`${name}${f}`;
}
