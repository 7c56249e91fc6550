// The explain panel: click a neuron for BP2 (hidden) or BP1 (output) written out with the live
// numbers of the probe example; click an edge for its three numbers, BP4 and the update.
// BP2 holds per example (σ′ multiplies inside the batch mean), so the panel always shows the
// probe, whatever the network view's probe / batch-mean switch says.

import { bp2Matrix } from "./bp2_matrix.js";
import { block, eq, math, mi, mn, mo, num, numP, odot, paren, row, sum, sym, times } from "./mathml.js";
import { ACT_LABEL, bp2, layer, nodeVector, sigmaCancels } from "./quantities.js";
import { fmt, html, name, setHTML } from "./util.js";

const COST_LABEL = { quadratic: "quadratic", cross_entropy: "cross-entropy", log_likelihood: "log-likelihood" };

const WEIGHT_ERROR_WINDOW_MS = 5000; // a stream error this soon after a set_weight is its answer

/** A weight as the edit box shows it: 4 significant digits, plain ASCII (so it parses back). */
export const weightText = (w) => String(Number(Number(w).toPrecision(4)));

/** What the learner typed, as a number (a real minus sign and spaces allowed), or null. */
export function parseWeight(text) {
  const t = String(text).replace(/−/g, "-").replace(/\s/g, "");
  if (!/^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(t)) return null;
  const v = Number(t);
  return Number.isFinite(v) ? v : null;
}

export class ExplainPanel {
  /** onSetWeight({l, j, k, value}) with j, k 0-based: the page sends set_weight. */
  constructor(root, { onSelect, onSetWeight }) {
    this.body = root.querySelector(".explain-body");
    this.title = root.querySelector(".explain-title");
    this.onSelect = onSelect;
    this.onSetWeight = onSetWeight;
    this.edit = null; // {key, error, sentAt}: the edit box's message and last send, per edge
    this.body.addEventListener("click", (ev) => {
      const cell = ev.target.closest("[data-select]");
      if (cell) this.onSelect(JSON.parse(cell.dataset.select));
    });
    this.body.addEventListener("input", (ev) => {
      if (ev.target.matches("[data-weight-input]")) ev.target.dataset.dirty = "1";
    });
    this.body.addEventListener("keydown", (ev) => {
      const input = ev.target.closest("[data-weight-input]");
      if (!input) return;
      if (ev.key === "Enter") {
        ev.preventDefault();
        this.commit(input);
      } else if (ev.key === "Escape") {
        input.value = input.dataset.shown;
        delete input.dataset.dirty;
        this.setError(input.dataset.weightInput, "");
      }
    });
    this.body.addEventListener("change", (ev) => {
      if (ev.target.matches("[data-weight-input]")) this.commit(ev.target);
    });
  }

  /** Send the typed weight if it changed and is a finite number; else say what is wrong. */
  commit(input) {
    if (!input.dataset.dirty) return;
    delete input.dataset.dirty;
    const key = input.dataset.weightInput;
    const value = parseWeight(input.value);
    if (value === null) {
      input.dataset.dirty = "1"; // keep the text on screen to correct it
      this.setError(key, "Type a finite number, such as 0.5 or −1.2e−3.");
      return;
    }
    const [l, j, k] = key.split(",").map(Number);
    this.edit = { key, error: "", sentAt: performance.now() };
    this.showError("");
    this.onSetWeight({ l, j, k, value });
  }

  /** A stream error: shown by the edit box if it answers the last set_weight (returns true). */
  weightError(detail) {
    const e = this.edit;
    if (!e || !e.sentAt || performance.now() - e.sentAt > WEIGHT_ERROR_WINDOW_MS) return false;
    e.sentAt = 0;
    this.setError(e.key, `The server said: ${detail}`);
    return true;
  }

  setError(key, text) {
    this.edit = { key, error: text, sentAt: this.edit?.key === key ? this.edit.sentAt : 0 };
    this.showError(text);
  }

  showError(text) {
    const el = this.body.querySelector("[data-weight-error]");
    if (el) el.textContent = text; // server text: textContent, never HTML
  }

  update(frame, store) {
    const sel = store.selection;
    let title;
    let content;
    // The introduction has no live numbers: draw it once per network depth.
    const introKey = sel ? null : frame.sizes.length;
    if (introKey !== null && introKey === this.introKey) return;
    this.introKey = introKey;
    if (!sel) [title, content] = intro(frame);
    else if (sel.type === "edge") [title, content] = edgeView(frame, sel, this.edgeEdit(sel));
    else if (sel.l === 1) [title, content] = inputView(frame, sel);
    else if (sel.l === frame.sizes.length) [title, content] = bp1View(frame, sel);
    else [title, content] = bp2View(frame, sel);
    // Frames keep coming while the learner types: keep the typed text, the focus and the caret.
    const input = this.body.querySelector("[data-weight-input]");
    const typing = input && document.activeElement === input ? { key: input.dataset.weightInput, value: input.value, dirty: input.dataset.dirty, from: input.selectionStart, to: input.selectionEnd } : null;
    setHTML(this.title, title);
    setHTML(this.body, content);
    const next = this.body.querySelector("[data-weight-input]");
    if (typing && next && next.dataset.weightInput === typing.key) {
      if (typing.dirty) {
        next.value = typing.value;
        next.dataset.dirty = "1";
      }
      next.focus();
      if (typing.value === next.value) next.setSelectionRange(typing.from, typing.to);
    }
  }

  /** The edit box's state for this edge (a message from an earlier edit of another edge goes). */
  edgeEdit(sel) {
    const key = `${sel.l},${sel.j},${sel.k}`;
    if (this.edit && this.edit.key !== key) this.edit = null;
    return { key, error: this.edit?.error ?? "" };
  }
}

function probeNote(frame) {
  return html`<p class="note">Probe example: training point #${frame.probe.index} at (${fmt(frame.probe.point?.[0], 3)}, ${fmt(frame.probe.point?.[1], 3)}). Click a point in the output plot to change it.</p>`;
}

function intro(frame) {
  const L = frame.sizes.length;
  return [
    html`The four equations of backpropagation`,
    html`<div class="eqs">
      <div><span class="tag">BP1</span>${math(sym.delta("L"), eq(), html`<msub><mo>∇</mo><mi>a</mi></msub>`, mi("C"), odot(), sym.sigmaPrime(sym.z("L")))}</div>
      <div><span class="tag">BP2</span>${math(sym.delta("l"), eq(), paren(sym.wT("l+1"), sym.delta("l+1")), odot(), sym.sigmaPrime(sym.z("l")))}</div>
      <div><span class="tag">BP3</span>${math(sym.dC(sym.b("l", "j")), eq(), sym.delta("l", "j"))}</div>
      <div><span class="tag">BP4</span>${math(sym.dC(sym.w("l", "j", "k")), eq(), sym.a("l-1", "k"), sym.delta("l", "j"))}</div>
    </div>
    <p class="hint">Click a neuron to see BP2 (BP1 on the output, layer ${L}) with this network's numbers, or an edge for BP4 and its update. <b>Why the transpose?</b> walks through BP2 step by step.</p>`,
  ];
}

function inputView(frame, sel) {
  const x = nodeVector(frame, 1, "a");
  return [
    html`Input neuron ${sel.j + 1} (layer 1)`,
    html`<p>${math(sym.a(1, sel.j), eq(), msubX(sel.j), eq(), num(x[sel.j]))}</p>
      <p class="note">Inputs are given, not computed, so they have no error δ and nothing to learn: backpropagation stops at layer 2. The weights leaving this neuron still learn, through BP4 with ${math(sym.a(1, sel.j))}.</p>${probeNote(frame)}`,
  ];
}

const msubX = (j) => html`<msub><mi>x</mi><mn>${j + 1}</mn></msub>`;

function bp2View(frame, sel) {
  const { l, j: k } = sel;
  const r = bp2(frame, l, k);
  const act = ACT_LABEL[frame.activations[l - 2]] ?? frame.activations[l - 2];
  const rows = r.terms.map(
    (t) => html`<tr data-bp2-row="${t.j}">
      <td>${math(sym.w(l + 1, t.j, k), times(), sym.delta(l + 1, t.j))}</td>
      <td>${math(eq(), numP(t.w), times(), numP(t.delta))}</td>
      <td class="num" data-bp2-term="${t.term}">${math(eq(), num(t.term))}</td></tr>`,
  );
  const product = r.sum * r.sigmaPrime;
  const title = html`BP2 for neuron k = ${k + 1} in layer l = ${l} (${act})`;
  const content = html`<div class="explain-cols"><div class="explain-left">
    <p class="eq-head">${math(sym.delta(l, k), eq(), sym.sigmaPrime(sym.z(l, k)), times(), sum(row(mi("j"))), sym.w(l + 1, "j", k), sym.delta(l + 1, "j"), eq(), numP(r.sigmaPrime), times(), numP(r.sum), eq(), num(product))}</p>
    <p class="note">Each neuron j of layer ${l + 1} sends its error back along the edge it was fed by, weighted by the same weight:</p>
    <table class="terms">${rows}
      <tr class="sumrow"><td>${math(sum(mi("j")), mo("="), html`<msub>${paren(sym.wT(l + 1), sym.delta(l + 1))}<mn>${k + 1}</mn></msub>`)}</td><td></td>
        <td class="num" data-bp2-sum="${r.sum}">${math(eq(), num(r.sum))}</td></tr>
      <tr><td>${math(sym.sigmaPrime(sym.z(l, k)))}</td><td class="dim">${math(sym.z(l, k), eq(), num(r.z))}</td>
        <td class="num" data-bp2-sigma="${r.sigmaPrime}">${math(eq(), num(r.sigmaPrime))}</td></tr>
      <tr class="result"><td>${math(sym.delta(l, k))}</td><td>${math(eq(), numP(r.sum), times(), numP(r.sigmaPrime), eq(), num(product))}</td>
        <td class="num" data-bp2-delta="${r.delta}">${math(eq(), num(r.delta))}</td></tr>
    </table>
    <p class="note">The last column is the frame's ${math(sym.delta(l, k))} (4 significant digits); the product of the rounded numbers agrees to rounding.</p>
    ${probeNote(frame)}</div>
    <div class="explain-right">${bp2Matrix(frame, l, k)}</div></div>`;
  return [title, content];
}

function bp1View(frame, sel) {
  const { l, j } = sel;
  const Lr = layer(frame, l);
  const a = Lr.a[j];
  const y = frame.probe.y[j];
  const cancels = sigmaCancels(frame);
  const act = frame.activations[l - 2];
  const cost = frame.cost_name;
  const grad = cost === "quadratic" ? a - y : null;
  const title = html`BP1 for output neuron j = ${j + 1} (layer L = ${l}, ${ACT_LABEL[act] ?? act}, ${COST_LABEL[cost] ?? cost} cost)`;
  let lines;
  if (cancels) {
    lines = html`<p class="eq-head">${math(sym.delta(l, j), eq(), sym.a(l, j), mo("−"), sym.y(j))}</p>
      <p class="note">With the ${COST_LABEL[cost]} cost and a ${act} output, ${math(sym.sigmaPrime(sym.z(l, j)))} cancels against the cost's derivative (the reason these pairs go together).</p>
      <table class="terms"><tr><td>${math(sym.a(l, j))}</td><td class="num">${math(eq(), num(a))}</td></tr>
      <tr><td>${math(sym.y(j))}</td><td class="num">${math(eq(), num(y))}</td></tr>
      <tr class="result"><td>${math(sym.delta(l, j))}</td><td class="num" data-bp1-delta="${Lr.delta[j]}">${math(eq(), num(Lr.delta[j]))}</td></tr></table>`;
  } else {
    lines = html`<p class="eq-head">${math(sym.delta(l, j), eq(), row(mfracD(sym.a(l, j))), times(), sym.sigmaPrime(sym.z(l, j)))}</p>
      <p class="note">${cost === "quadratic" ? html`Quadratic cost ${math(mi("C"), eq(), mn("½"), html`<msup><mrow><mo>‖</mo><mi>y</mi><mo>−</mo><msup><mi>a</mi><mi>L</mi></msup><mo>‖</mo></mrow><mn>2</mn></msup>`)}, so ${math(mfracD(sym.a(l, j)), eq(), sym.a(l, j), mo("−"), sym.y(j))}.` : html`Cost ${COST_LABEL[cost] ?? cost}.`}</p>
      <table class="terms">
      <tr><td>${math(sym.a(l, j), mo("−"), sym.y(j))}</td><td>${math(eq(), numP(a), mo("−"), numP(y))}</td><td class="num" data-bp1-grad="${grad}">${grad === null ? "" : math(eq(), num(grad))}</td></tr>
      <tr><td>${math(sym.sigmaPrime(sym.z(l, j)))}</td><td class="dim">${math(sym.z(l, j), eq(), num(Lr.z[j]))}</td><td class="num">${math(eq(), num(Lr.sigma_prime[j]))}</td></tr>
      <tr class="result"><td>${math(sym.delta(l, j))}</td><td>${grad === null ? "" : math(eq(), numP(grad), times(), numP(Lr.sigma_prime[j]), eq(), num(grad * Lr.sigma_prime[j]))}</td><td class="num" data-bp1-delta="${Lr.delta[j]}">${math(eq(), num(Lr.delta[j]))}</td></tr></table>`;
  }
  const content = html`<div class="explain-cols"><div class="explain-left">${lines}
    <p class="note">${l > 2 ? html`This error is where backpropagation starts: BP2 carries it back to layer ${l - 1}.` : html`With no hidden layer there is no BP2: BP4 turns this δ straight into the gradients of the weights into the output.`}</p>${probeNote(frame)}</div>
    <div class="explain-right">${l > 2 ? bp2Matrix(frame, l - 1, null) : html``}</div></div>`;
  return [title, content];
}

const mfracD = (s) => html`<mfrac><mrow><mo>∂</mo><mi>C</mi></mrow><mrow><mo>∂</mo>${s}</mrow></mfrac>`;

function edgeView(frame, sel, edit) {
  const { l, j, k } = sel;
  const Lr = layer(frame, l);
  const w = Lr.w[j][k];
  const aPrev = nodeVector(frame, l - 1, "a")[k];
  const delta = Lr.delta[j];
  const P = Lr.edges.probe;
  const eta = frame.hyper.learning_rate;
  const g = Lr.grad_w[j][k];
  const reg = frame.hyper.regulariser !== "none" && frame.hyper.lambda > 0;
  const title = html`Edge ${name.w(l, j, k)}: from neuron k = ${k + 1} (layer ${l - 1}) to neuron j = ${j + 1} (layer ${l})`;
  const content = html`<div class="explain-cols"><div class="explain-left">
    <p class="eq-head weight-edit"><label>${math(sym.w(l, j, k), eq())}<input type="text" inputmode="decimal" spellcheck="false" autocomplete="off" size="9"
      data-weight-input="${edit.key}" data-shown="${weightText(w)}" value="${weightText(w)}" aria-label="${name.w(l, j, k)}: type a new weight, then Enter"></label>
      <span class="dim">|w| ≤ 100, Enter sets it</span></p>
    <p class="weight-error" data-weight-error role="alert">${edit.error}</p>
    <table class="terms">
      <tr><td>forward</td><td>${math(sym.w(l, j, k), times(), sym.a(l - 1, k))}</td><td class="num" data-edge-forward="${P.forward[j][k]}">${math(eq(), num(P.forward[j][k]))}</td><td class="dim">its share of ${math(sym.z(l, j))}</td></tr>
      <tr><td>backward</td><td>${math(sym.w(l, j, k), times(), sym.delta(l, j))}</td><td class="num" data-edge-backward="${P.backward[j][k]}">${math(eq(), num(P.backward[j][k]))}</td><td class="dim">its share of the error sent back to ${math(sym.a(l - 1, k))}</td></tr>
      <tr><td>gradient</td><td>${math(sym.a(l - 1, k), times(), sym.delta(l, j))}</td><td class="num" data-edge-gradient="${P.gradient[j][k]}">${math(eq(), num(P.gradient[j][k]))}</td><td class="dim">BP4 for the probe</td></tr>
    </table>
    <p class="eq-head"><span class="tag">BP4</span> ${math(sym.dC(sym.w(l, j, k)), eq(), sym.a(l - 1, k), sym.delta(l, j), eq(), numP(aPrev), times(), numP(delta), eq(), num(aPrev * delta))}</p>
    ${probeNote(frame)}</div>
    <div class="explain-right">
    <p class="eq-head">Update (the next SGD step, batch of ${frame.hyper.batch_size})</p>
    <p>${math(sym.dC(sym.w(l, j, k)), eq(), num(g))} <span class="dim">mean of ${math(sym.a(l - 1, k), sym.delta(l, j))} over the batch${reg ? html` + the ${frame.hyper.regulariser.toUpperCase()} term` : ""}</span></p>
    <p>${math(mo("Δ"), sym.w(l, j, k), eq(), mo("−"), mi("η"), times(), sym.dC(sym.w(l, j, k)), eq(), mo("−"), num(eta), times(), numP(g), eq(), num(-eta * g))}</p>
    <p class="note">For the probe alone it would be ${math(mo("−"), mi("η"), sym.a(l - 1, k), sym.delta(l, j), eq(), num(-eta * aPrev * delta))}. The bias learns the same way: ${math(sym.dC(sym.b(l, j)), eq(), sym.delta(l, j))} (BP3), batch mean ${math(num(Lr.grad_b[j]))}.</p>
    ${frame.hyper.momentum > 0 ? html`<p class="note">Momentum μ = ${fmt(frame.hyper.momentum)} adds a share of the previous step.</p>` : ""}
    </div></div>`;
  return [title, content];
}
