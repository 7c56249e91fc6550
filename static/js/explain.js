// The explain panel: click a neuron for BP2 (hidden) or BP1 (output) written out with the live
// numbers; click an edge for its three numbers, BP4 and the update the next step makes.
// The numbers are the frame's `explain` object (float64, docs/frames.md), never the frame's
// 4-digit tensors: a Sheet (digits.js) gives each number the digits its equations need, so
// every "=" written holds to the digits shown, and "≈" says where it cannot.
// Probe mode shows BP2 for the probe example; batch-mean mode shows the batch-mean δ as what
// it is, the mean of the per-example BP2 (BP2 does not hold between the means).

import { bp2Matrix } from "./bp2_matrix.js";
import { Sheet } from "./digits.js";
import { classOf, imageShape } from "./digit_views.js";
import { eq, math, mi, mo, num, odot, paren, row, sum, sym, times } from "./mathml.js";
import { NudgePanel } from "./nudge.js";
import { ABOUT, ACT_LABEL, COST_LABEL, FEEDBACK_LABEL, REG_LABEL, actAbout, costAbout, evalTokens, explainFor, formulaMath, layer, nodeVector, regAbout, sheetTokens } from "./quantities.js";
import { fmt, html, name, setHTML } from "./util.js";



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
  /** onSetWeight({l, j, k, value}) with j, k 0-based: the page sends set_weight;
   * inputLabel(j): the feature input neuron j carries ("x₂", "sin(x₁)"), or null. */
  constructor(root, { onSelect, onSetWeight, inputLabel = () => null }) {
    this.body = root.querySelector(".explain-body");
    this.title = root.querySelector(".explain-title");
    this.title.tabIndex = -1; // focused after a term opens its edge from the keyboard
    this.onSelect = onSelect;
    this.onSetWeight = onSetWeight;
    this.inputLabel = inputLabel;
    this.edit = null; // {key, error}: the edit box's message, per edge
    this.nudge = new NudgePanel(this.body); // "Nudge it": measured slope vs backprop
    this.body.addEventListener("click", (ev) => {
      const cell = ev.target.closest("[data-select]");
      if (cell) this.onSelect(JSON.parse(cell.dataset.select));
    });
    this.body.addEventListener("input", (ev) => {
      if (ev.target.matches("[data-weight-input]")) ev.target.dataset.dirty = "1";
    });
    this.body.addEventListener("keydown", (ev) => {
      // A BP2 term that names an edge is a button: Enter or Space opens the edge as a click
      // does, and the reading goes on from the panel's title (the term is drawn anew).
      const term = ev.target.closest?.("[data-select][tabindex]");
      if (term && (ev.key === "Enter" || ev.key === " ")) {
        ev.preventDefault();
        this.onSelect(JSON.parse(term.dataset.select));
        this.title.focus();
        return;
      }
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
    this.edit = { key, error: "" };
    this.showError("");
    this.onSetWeight({ l, j, k, value });
  }

  /** A stream error answering `sent` (the message its id names): shown by the edit box if
   * it refused a set_weight of the weight being edited (returns true). */
  weightError(detail, sent) {
    if (sent?.type !== "set_weight" || !this.edit) return false;
    const key = `${sent.l},${sent.j},${sent.k}`;
    if (this.edit.key !== key) return false;
    this.setError(key, `The server said: ${detail}`);
    return true;
  }

  setError(key, text) {
    this.edit = { key, error: text };
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
    const ex = sel ? explainFor(frame, sel) : null;
    const mean = store.settings.over === "mean";
    const note = sel ? probeNote(frame, store) : ""; // the probe line of a neuron or edge view
    const rule = ruleOf(frame, store); // null under the transpose
    if (!sel) [title, content] = intro(frame);
    else if (sel.type !== "edge" && sel.l === 1) [title, content] = inputView(frame, sel, note, this.inputLabel(sel.j));
    else if (!ex) [title, content] = waiting(sel);
    else if (sel.type === "edge") [title, content] = edgeView(frame, ex, this.edgeEdit(sel), note, rule);
    else if (sel.l === frame.sizes.length) [title, content] = (mean ? bp1MeanView : bp1View)(frame, ex, note, rule);
    else [title, content] = (mean ? bp2MeanView : bp2View)(frame, ex, note, rule);
    if (sel && ex && sel.l > 1) content = html`${content}${this.nudge.render(frame, sel)}`;
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

/** Which training example the probe is, true for every shape of data: on the plane (2 inputs)
 * a point of the output plot, which a click there changes; the digits (an image) the digit and
 * its label as their views name it, changed from their strip; other CSV data (d ≠ 2 inputs,
 * no plot) its d values, the first few when there are many, with no click to offer. */
function probeNote(frame, store) {
  const { index, point = [], y = [] } = frame.probe;
  if (imageShape(store, frame)) {
    const truth = y.length > 1 ? classOf(y) : store.data?.train?.labels?.[index];
    return html`<p class="note">Probe example: training digit #${index}, a “${truth}”. Pick another in the strip of training digits at the foot of the Output panel (click one, or ◀ ▶).</p>`;
  }
  const d = point.length;
  if (d === 2) return html`<p class="note">Probe example: training point #${index} at (${fmt(point[0], 3)}, ${fmt(point[1], 3)}). Click a point in the output plot to change it.</p>`;
  const shown = d > PROBE_ALL ? point.slice(0, PROBE_FIRST) : point;
  const values = shown.map((v) => fmt(v, 3)).join(", ");
  return html`<p class="note">Probe example: training point #${index} at (${values}${d > PROBE_ALL ? html`, …), ${d} values in all` : ")"}.</p>`;
}
const PROBE_ALL = 8; // a probe with up to this many inputs is written in full,
const PROBE_FIRST = 4; // a longer one as its first few values

/** The run's feedback rule when it is not the transpose (the frame then carries backprop's δ
 * as `true_delta` beside the rule's): {label} as the Model panel names it; else null. */
function ruleOf(frame, store) {
  if (!frame.layers.some((x) => x.true_delta !== undefined)) return null;
  const name = store.settings.feedback;
  const about = ABOUT.feedback[name];
  return { label: about && !about.exact ? FEEDBACK_LABEL[name] : null };
}

/** The rule as the page names it (quoted), or `otherwise` without a label. */
const ruleName = (rule, otherwise) => (rule.label ? html`“${rule.label}”` : otherwise);

/** What the BP2 section says first under a rule: which rule trains, and whose numbers follow. */
function ruleNote(rule, l, L) {
  const who = ruleName(rule, "another rule than the transpose");
  return html`<p class="note rule-note" data-rule-note><b>This run trains with ${who}</b>: its δ is ${math(paren(mi("B"), sym.delta(l + 1)), odot(), sym.sigmaPrime(sym.z(l)))}, the rule's matrix B in place of ${math(sym.wT(l + 1))}, and the network shows that δ. Below: <b>backprop's BP2 with backprop's numbers</b>, same weights and probe (${l + 1 === L ? html`${math(sym.delta(l + 1, "j"))} is the output's δ, the same under every rule` : html`${math(sym.delta(l + 1, "j"))} is backprop's too, not the rule's`}).</p>`;
}

/** Backprop's δ^l_k beside the rule's, each as the frame carries it (4 significant digits). */
function ruleCompare(frame, rule, l, k) {
  const cur = layer(frame, l);
  const who = ruleName(rule, "the run's rule");
  return html`<div class="rule-compare" data-rule-compare>
    <p data-rule-row>backprop's ${math(sym.delta(l, k), eq())} <b data-backprop-delta="${cur.true_delta[k]}">${fmt(cur.true_delta[k])}</b> <span class="dim">(the transpose's, as in the equation above)</span></p>
    <p data-rule-row>this run's ${math(sym.delta(l, k), eq())} <b data-rule-delta="${cur.delta[k]}">${fmt(cur.delta[k])}</b> <span class="dim">(the rule's, ${who}, as the network shows it; the next update uses this one)</span></p>
  </div>`;
}

const DIGITS_NOTE = html`<p class="note digits-note">The server sends these numbers unrounded; each is shown with as many significant digits as its equation needs for the “=” to hold to the last digit shown.</p>`;

function waiting(sel) {
  const what = sel.type === "edge" ? `edge ${name.w(sel.l, sel.j, sel.k)}` : `neuron ${sel.j + 1} of layer ${sel.l}`;
  return [html`Asking the server for the ${what}…`, html`<p class="note">The exact numbers of the selection arrive with the next frame (none while they are not finite: a diverging run).</p>`];
}

const OPS = new Set(["+", "−", "·", "/", "(", ")"]);

/** Equation e of the sheet as MathML that reads back as plain arithmetic (tests parse it).
 * A long sum wraps: each top-level "+ term" (and the "= result") is its own inline <math>,
 * with a break opportunity (<wbr>, no text) before it, so a narrow column breaks the line at
 * the operators instead of cutting the result off. */
function arith(sheet, e, label) {
  const E = sheet.eqs[e];
  const pieces = [[]];
  let prev = null;
  let depth = 0;
  for (const t of E.lhs) {
    if (OPS.has(t)) {
      if (t === "(") depth += 1;
      if (t === ")") depth -= 1;
      const lead = depth === 0 && (t === "+" || t === "−") && prev !== null && pieces.at(-1).length;
      if (lead) pieces.push([]);
      pieces.at(-1).push(lead ? html`<mo form="infix">${t}</mo>` : mo(t)); // spaced as in a + b
    } else {
      const text = sheet.text(t);
      const cell = html`<mn data-term="${t}" data-v="${sheet.nums.get(t).v}">${text}</mn>`; // data-term: which quantity (tests read w here)
      pieces.at(-1).push(text.startsWith("−") && prev !== null && prev !== "(" ? paren(cell) : cell);
    }
    prev = t;
  }
  const rhs = sheet.text(E.rhs);
  pieces.push([html`<mo form="infix">${E.approx ? "≈" : "="}</mo>`, html`<mn data-term="${E.rhs}" data-result data-v="${sheet.nums.get(E.rhs).v}">${rhs}</mn>`]);
  const maths = pieces.map((p, n) => html`${n ? html`<wbr>` : ""}<math display="inline">${p}</math>`);
  return html`<span class="arith" data-eq="${label}"${E.approx ? html` data-approx="1"` : ""}>${maths}</span>`;
}

/** Why an equation could only be written with ≈ (nothing when all hold). */
function approxNote(sheet, why) {
  if (!sheet.eqs.some((e) => e.approx)) return "";
  return html`<p class="note approx-note">≈: ${why}</p>`;
}
const CANCEL_WHY = "the terms cancel to far below their own size, past the 16–17 significant digits a float64 carries, so the rounded terms cannot reproduce the result to its digits.";

/** σ′ from a as an equation, from the registry's tokens (tanh: 1 − a·a, sigmoid: a·(1 − a));
 * null when the activation has no such formula. */
function primeEq(sheet, act, aId, spId) {
  const tokens = actAbout(act)?.prime_from_a;
  if (!tokens) return null;
  if (tokens.includes("1")) sheet.num("one", 1, { exact: true });
  return sheet.eq(tokens.map((t) => (t === "a" ? aId : t === "1" ? "one" : t)), spId);
}

/** The σ′ row: always "σ′(z) = value", with the registry's formula on a where it has one
 * (tanh: 1 − a·a), the side of the kink (ReLU), or z itself; the value is the sheet's number,
 * with the digits the δ equation below uses. */
function primeRow(sheet, e, act, l, j, z, spId) {
  const S = sym.sigmaPrime(sym.z(l, j));
  const about = actAbout(act);
  const value = html`<mn data-v="${sheet.nums.get(spId).v}" data-sigma-prime>${sheet.text(spId)}</mn>`;
  let how;
  if (e !== null) how = html`${math(S, mo("="))} ${arith(sheet, e, "sigma-prime")}`;
  else if (about?.kink) how = html`${math(sym.z(l, j))} ${z > 0 ? "> 0" : "≤ 0"}, so ${math(S, eq(), value)}`;
  else how = html`${math(S, eq(), value)} at ${math(sym.z(l, j), eq(), num(z))}`;
  return html`<tr data-sigma-prime-row><td>${math(S)}</td><td colspan="2">${how}</td></tr>`;
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
    ${introHint(L)}`,
  ];
}

/** What to click, for a network of L layers: without a hidden layer (L = 2) there is no BP2. */
function introHint(L) {
  if (L < 3)
    return html`<p class="hint" data-hint="no-hidden">This network has no hidden layer, so there is no BP2 to see: click an output neuron (layer ${L}) for BP1 with this network's numbers, or an edge for BP4 and its update. <b>Why the transpose?</b> walks through BP2, so it has nothing to show until a hidden layer is added (the + above the network).</p>`;
  return html`<p class="hint">Click a neuron to see BP2 (BP1 on the output, layer ${L}) with this network's numbers, or an edge for BP4 and its update. <b>Why the transpose?</b> walks through BP2 step by step.</p>`;
}

/** An input neuron: the feature it carries (label: "x₂", "sin(x₁)", …; else x_{j+1}) and its value. */
function inputView(frame, sel, note, label = null) {
  const x = nodeVector(frame, 1, "a");
  const feature = label ? html`<mtext>${label}</mtext>` : msubX(sel.j);
  return [
    html`Input neuron ${sel.j + 1} (layer 1)${label ? `: ${label}` : ""}`,
    html`<p>${math(sym.a(1, sel.j), eq(), feature, eq(), num(x[sel.j]))}</p>
      <p class="note">Inputs are given, not computed, so they have no error δ and nothing to learn: backpropagation stops at layer 2. The weights leaving this neuron still learn, through BP4 with ${math(sym.a(1, sel.j))}.</p>${note}`,
  ];
}

const msubX = (j) => html`<msub><mi>x</mi><mn>${j + 1}</mn></msub>`;

function bp2View(frame, ex, note, rule = null) {
  const { l, j: k } = ex;
  const P = ex.probe;
  const actName = frame.activations[l - 2];
  const act = ACT_LABEL[actName] ?? actName;
  const sh = new Sheet();
  const rowEqs = P.terms.map((t) => {
    sh.num(`w${t.i}`, t.w);
    sh.num(`d${t.i}`, t.delta);
    sh.num(`p${t.i}`, t.product);
    return sh.eq([`w${t.i}`, "·", `d${t.i}`], `p${t.i}`);
  });
  sh.num("S", P.sum);
  const sumTokens = P.terms.flatMap((t, n) => (n ? ["+", `p${t.i}`] : [`p${t.i}`]));
  const sumEq = sh.eq(sumTokens, "S");
  sh.num("a", P.a);
  sh.num("sp", P.sigma_prime);
  const spEq = primeEq(sh, actName, "a", "sp");
  sh.num("delta", P.delta);
  const deltaEq = sh.eq(["sp", "·", "S"], "delta");
  sh.fit();
  // Each term names an edge, w^{l+1}_jk: a click, or Enter or Space on it (it is a button for
  // the keyboard too), opens that edge's numbers, BP4 and step.
  const rows = P.terms.map(
    (t, n) => html`<tr data-bp2-row="${t.i}">
      <td class="term-edge" data-select="${JSON.stringify({ type: "edge", l: l + 1, j: t.i, k })}" tabindex="0" role="button" aria-label="edge ${name.w(l + 1, t.i, k)}: its numbers, BP4 and step" title="open the edge ${name.w(l + 1, t.i, k)}: its numbers, BP4 and step">${math(sym.w(l + 1, t.i, k), times(), sym.delta(l + 1, t.i))}</td>
      <td colspan="2" data-bp2-term="${t.product}">${arith(sh, rowEqs[n], "bp2-term")}</td></tr>`,
  );
  const title = html`BP2 for neuron k = ${k + 1} in layer l = ${l} (${act})`;
  const content = html`<div class="explain-cols"><div class="explain-left">
    ${rule ? ruleNote(rule, l, frame.sizes.length) : ""}
    <p class="eq-head">${math(sym.delta(l, k), eq(), sym.sigmaPrime(sym.z(l, k)), times(), sum(row(mi("j"))), sym.w(l + 1, "j", k), sym.delta(l + 1, "j"))}</p>
    <p class="note">${rule ? "In backprop, each" : "Each"} neuron j of layer ${l + 1} sends its error back along the edge it was fed by, weighted by the same weight (select a term to open its edge):</p>
    <table class="terms">${rows}
      <tr class="sumrow"><td>${math(sum(mi("j")), sym.w(l + 1, "j", k), sym.delta(l + 1, "j"))}</td>
        <td colspan="2" data-bp2-sum="${P.sum}">${arith(sh, sumEq, "bp2-sum")}</td></tr>
      ${primeRow(sh, spEq, actName, l, k, P.z, "sp")}
      <tr class="result"><td>${rule ? html`<span class="dim">backprop's</span> ` : ""}${math(sym.delta(l, k))}</td>
        <td colspan="2" data-bp2-delta="${P.delta}">${arith(sh, deltaEq, "bp2-delta")}</td></tr>
    </table>
    ${rule ? ruleCompare(frame, rule, l, k) : ""}
    ${approxNote(sh, CANCEL_WHY)}${DIGITS_NOTE}
    ${note}</div>
    <div class="explain-right">${bp2Matrix(frame, l, k, rule?.label)}</div></div>`;
  return [title, content];
}

const MAX_ROWS = 64;

/** The batch-mean δ as the mean of per-example rows: an identity that holds. */
function meanRows(sh, rows, makeRow) {
  const shown = rows.slice(0, MAX_ROWS);
  const eqs = shown.map((r, x) => makeRow(r, x));
  return { shown, eqs };
}

function bp2MeanView(frame, ex, _note, rule = null) {
  const { l, j: k, m } = ex;
  const actName = frame.activations[l - 2];
  const sh = new Sheet();
  const { shown, eqs } = meanRows(sh, ex.batch.rows, (r, x) => {
    sh.num(`sp${x}`, r.sigma_prime);
    sh.num(`S${x}`, r.sum);
    sh.num(`d${x}`, r.delta);
    return sh.eq([`sp${x}`, "·", `S${x}`], `d${x}`);
  });
  sh.num("m", m, { exact: true });
  sh.num("mean", ex.batch.mean_delta);
  const all = shown.length === ex.batch.rows.length;
  const meanEq = all ? sh.eq(["(", ...shown.flatMap((_, x) => (x ? ["+", `d${x}`] : [`d${x}`])), ")", "/", "m"], "mean") : null;
  const B = ex.batch_means;
  sh.num("msp", B.sigma_prime);
  sh.num("mS", B.sum);
  sh.num("pom", B.product_of_means);
  const pomEq = sh.eq(["msp", "·", "mS"], "pom");
  sh.fit();
  const title = html`Batch mean of BP2 for neuron k = ${k + 1} in layer l = ${l} (${ACT_LABEL[actName] ?? actName}), batch of ${m}`;
  const rel = ex.batch.mean_delta === 0 ? null : Math.abs(B.product_of_means / ex.batch.mean_delta - 1);
  const content = html`<div class="explain-cols flow"><div class="explain-left">
    ${rule ? ruleNote(rule, l, frame.sizes.length) : ""}
    <p class="eq-head">${math(html`<mover>${sym.delta(l, k)}<mo>‾</mo></mover>`, eq(), mfrac1(m), sum(mi("x")), sym.sigmaPrime(sym.z(l, k)), times(), html`<msub>${paren(sym.wT(l + 1), sym.delta(l + 1))}<mi>k</mi></msub>`)}</p>
    <p class="note">BP2 holds for each example x of the batch; the batch-mean δ is the mean of those per-example products, row by row:</p>
    <div class="mean-rows"><table class="terms compact"><tr><th>x</th><th>σ′(z) · Σ w δ = δ</th></tr>${shown.map(
      (r, x) => html`<tr data-mean-row="${x}"><td>${x + 1}</td><td>${arith(sh, eqs[x], "mean-row")}</td></tr>`,
    )}</table></div>
    ${meanEq !== null ? html`<p class="result">mean δ:</p><div class="mean-eq" data-mean-delta="${ex.batch.mean_delta}">${arith(sh, meanEq, "mean-delta")}</div>` : html`<p class="note">The first ${MAX_ROWS} of ${m} rows are shown; their mean over all ${m} is <b data-mean-delta="${ex.batch.mean_delta}">${sh.text("mean")}</b>.</p>`}
    <p class="note"><b>Not BP2 on the means.</b> The mean of a product is not the product of the means: mean σ′ times the sum over the mean δ of layer ${l + 1} gives ${arith(sh, pomEq, "product-of-means")}, which is not the batch-mean δ${rel === null ? "" : html` (it is off by ${fmt(100 * rel, 2)} %)`}. ${rule ? html`And the network view's batch-mean colours are the rule's δ, not these.` : html`So the network view's batch-mean colours do not obey BP2 between layers; each example's numbers do.`}</p>
    ${approxNote(sh, CANCEL_WHY)}${DIGITS_NOTE}</div>
    <div class="explain-right"><p class="note">The matrix form of BP2 holds per example: it is drawn for the probe.</p>${bp2Matrix(frame, l, k, rule?.label)}</div></div>`;
  return [title, content];
}

const mfrac1 = (m) => html`<mfrac><mn>1</mn><mn>${m}</mn></mfrac>`;

/**
 * BP1's lines for one example: δ = a − y where σ′ cancels; else, when the cost registry
 * gives ∇ₐC as a formula (GET /api/options → costs.grad_a), g = ∇ₐC and δ = g·σ′; else only δ.
 */
function bp1Lines(sh, frame, ex, P, prefix) {
  const act = frame.activations[ex.l - 2];
  const id = (v) => `${prefix}${v}`;
  sh.num(id("a"), P.a);
  sh.num(id("y"), P.y, { exact: Number.isInteger(P.y) }); // a class target (±1, 0) is exact; a regression target is a float like any other
  sh.num(id("d"), P.delta);
  if (ex.cancels) return { gEq: null, spEq: null, dEq: sh.eq([id("a"), "−", id("y")], id("d")) };
  const grad = costAbout(frame.cost_name)?.grad_a;
  if (!grad) return { gEq: null, spEq: null, dEq: null };
  sh.num(id("g"), evalTokens(grad, { a: P.a, y: P.y }));
  const gEq = sh.eq(sheetTokens(sh, grad, { a: id("a"), y: id("y") }), id("g"));
  sh.num(id("sp"), P.sigma_prime);
  const spEq = primeEq(sh, act, id("a"), id("sp"));
  return { gEq, spEq, dEq: sh.eq([id("g"), "·", id("sp")], id("d")) };
}

function bp1View(frame, ex, note, rule = null) {
  const { l, j } = ex;
  const P = ex.probe;
  const act = frame.activations[l - 2];
  const cost = frame.cost_name;
  const sh = new Sheet();
  const { gEq, spEq, dEq } = bp1Lines(sh, frame, ex, P, "");
  sh.fit();
  const gradTokens = costAbout(cost)?.grad_a;
  const grad = gradTokens ? formulaMath(gradTokens, { a: sym.a(l, j), y: sym.y(j) }) : null;
  const title = html`BP1 for output neuron j = ${j + 1} (layer L = ${l}, ${ACT_LABEL[act] ?? act}, ${COST_LABEL[cost] ?? cost} cost)`;
  let lines;
  if (ex.cancels) {
    lines = html`<p class="eq-head">${math(sym.delta(l, j), eq(), sym.a(l, j), mo("−"), sym.y(j))}</p>
      <p class="note">With the ${COST_LABEL[cost] ?? cost} cost and a ${ACT_LABEL[act] ?? act} output, ${math(sym.sigmaPrime(sym.z(l, j)))} cancels against the cost's derivative (the reason these pairs go together).</p>
      <table class="terms"><tr class="result"><td>${math(sym.delta(l, j), eq(), sym.a(l, j), mo("−"), sym.y(j))}</td><td data-bp1-delta="${P.delta}">${arith(sh, dEq, "bp1-delta")}</td></tr></table>`;
  } else if (dEq === null) {
    lines = html`<p class="note">Cost ${COST_LABEL[cost] ?? cost}: δ = ${P.delta}.</p>`;
  } else {
    lines = html`<p class="eq-head">${math(sym.delta(l, j), eq(), row(mfracD(sym.a(l, j))), times(), sym.sigmaPrime(sym.z(l, j)))}</p>
      <p class="note">With the ${COST_LABEL[cost] ?? cost} cost, ${math(mfracD(sym.a(l, j)), eq(), grad)}.</p>
      <table class="terms">
      <tr><td>${math(grad)}</td><td data-bp1-grad="${sh.nums.get("g").v}">${arith(sh, gEq, "bp1-grad")}</td></tr>
      ${primeRow(sh, spEq, act, l, j, P.z, "sp")}
      <tr class="result"><td>${math(sym.delta(l, j))}</td><td data-bp1-delta="${P.delta}">${arith(sh, dEq, "bp1-delta")}</td></tr></table>`;
  }
  const content = html`<div class="explain-cols"><div class="explain-left">${lines}${approxNote(sh, CANCEL_WHY)}${DIGITS_NOTE}
    <p class="note">${l > 2 ? html`This error is where backpropagation starts: BP2 carries it back to layer ${l - 1}.` : html`With no hidden layer there is no BP2: BP4 turns this δ straight into the gradients of the weights into the output.`}</p>${note}</div>
    <div class="explain-right">${l > 2 ? bp2Matrix(frame, l - 1, null, rule?.label) : html``}</div></div>`;
  return [title, content];
}

function bp1MeanView(frame, ex) {
  const { l, j, m } = ex;
  const sh = new Sheet();
  const { shown, eqs } = meanRows(sh, ex.batch.rows, (r, x) => bp1Lines(sh, frame, ex, r, `r${x}`).dEq);
  sh.num("m", m, { exact: true });
  sh.num("mean", ex.batch.mean_delta);
  const all = shown.length === ex.batch.rows.length;
  const meanEq = all ? sh.eq(["(", ...shown.flatMap((_, x) => (x ? ["+", `r${x}d`] : [`r${x}d`])), ")", "/", "m"], "mean") : null;
  sh.fit();
  const title = html`Batch mean of BP1 for output neuron j = ${j + 1} (layer L = ${l}), batch of ${m}`;
  const content = html`<div class="explain-left">
    <p class="note">BP1 holds for each example x of the batch; the batch-mean δ is the mean of the per-example δ (not BP1 applied to the mean output):</p>
    <div class="mean-rows"><table class="terms compact">${shown.map(
      (r, x) => html`<tr data-mean-row="${x}"><td>${x + 1}</td><td>${eqs[x] === null ? html`δ = ${r.delta}` : arith(sh, eqs[x], "mean-row")}</td></tr>`,
    )}</table></div>
    ${meanEq !== null ? html`<p class="result">mean δ:</p><div class="mean-eq" data-mean-delta="${ex.batch.mean_delta}">${arith(sh, meanEq, "mean-delta")}</div>` : html`<p class="note">The first ${MAX_ROWS} of ${m} rows are shown; the mean over all ${m} is <b data-mean-delta="${ex.batch.mean_delta}">${sh.text("mean")}</b>.</p>`}
    ${approxNote(sh, CANCEL_WHY)}${DIGITS_NOTE}</div>`;
  return [title, content];
}

const mfracD = (s) => html`<mfrac><mrow><mo>∂</mo><mi>C</mi></mrow><mrow><mo>∂</mo>${s}</mrow></mfrac>`;

function edgeView(frame, ex, edit, note, rule = null) {
  const { l, j, k, m } = ex;
  const P = ex.probe;
  const U = ex.update;
  const w = ex.w;
  const sh = new Sheet();
  sh.num("w", w);
  sh.num("a", P.a_prev);
  sh.num("d", P.delta);
  sh.num("fw", P.forward);
  sh.num("bw", P.backward);
  sh.num("g1", P.gradient);
  const fwEq = sh.eq(["w", "·", "a"], "fw");
  const bwEq = sh.eq(["w", "·", "d"], "bw");
  const g1Eq = sh.eq(["a", "·", "d"], "g1");
  sh.num("bp4", U.bp4_mean);
  sh.num("grad", U.grad);
  sh.num("eta", U.learning_rate, { exact: true });
  sh.num("dw", U.delta_w);
  sh.num("wn", U.w_next);
  const rPrime = regAbout(U.regulariser)?.grad_w ?? null; // r′(w) as a formula; null: no regulariser
  const reg = rPrime !== null && U.lambda > 0;
  let regEq = null;
  let gradEq = null;
  if (reg) {
    sh.num("lam", U.lambda, { exact: true });
    sh.num("n", U.n, { exact: true });
    sh.num("r", U.reg_grad);
    const r = evalTokens(rPrime, { w });
    sh.num("wr", r, { exact: Number.isInteger(r) }); // sgn(w) is exactly ±1 or 0
    regEq = sh.eq(["lam", "/", "n", "·", "wr"], "r");
    gradEq = sh.eq(["bp4", "+", "r"], "grad");
  }
  const g = reg ? "grad" : "bp4";
  let dwEq;
  if (U.momentum > 0) {
    sh.num("mu", U.momentum, { exact: true });
    sh.num("v", U.velocity);
    dwEq = sh.eq(["mu", "·", "v", "−", "eta", "·", g], "dw");
  } else {
    dwEq = sh.eq(["−", "eta", "·", g], "dw");
  }
  const wnEq = sh.eq(["w", "+", "dw"], "wn");
  sh.fit();
  const title = html`Edge ${name.w(l, j, k)}: from neuron k = ${k + 1} (layer ${l - 1}) to neuron j = ${j + 1} (layer ${l})`;
  const W = sym.w(l, j, k);
  const regTerm = reg ? row(mfrac(mi("λ"), mi("n")), formulaMath(rPrime, { w: W })) : null;
  const regName = reg ? html`${math(regTerm)} (${REG_LABEL[U.regulariser] ?? U.regulariser})` : "";
  // Under a rule the explain numbers are backprop's; below the output layer its δ and step differ.
  const ruled = rule && l < frame.sizes.length;
  const into = layer(frame, l);
  const ruleEdge = ruled
    ? html`<p class="note rule-note" data-rule-note><b>This run trains with ${ruleName(rule, "another rule than the transpose")}</b>: the δ, BP4 and step below are <b>backprop's</b> (same weights, probe and batch). This run's rule gives ${math(sym.delta(l, j))} = <b data-rule-delta="${into.delta[j]}">${fmt(into.delta[j])}</b> (backprop's: ${fmt(into.true_delta[j])}), and its next update applies ${math(sym.dC(sym.w(l, j, k)))} = <b data-rule-grad="${into.grad_w[j][k]}">${fmt(into.grad_w[j][k])}</b>, not the one below.</p>`
    : "";
  const content = html`<div class="explain-cols flow"><div class="explain-left">
    ${ruleEdge}
    <p class="eq-head weight-edit"><label>${math(W, eq())}<input type="text" inputmode="decimal" spellcheck="false" autocomplete="off" size="9"
      data-weight-input="${edit.key}" data-shown="${weightText(w)}" value="${weightText(w)}" aria-label="${name.w(l, j, k)}: type a new weight, then Enter"></label>
      <span class="dim">|w| ≤ 100, Enter sets it</span></p>
    <p class="weight-error" data-weight-error role="alert">${edit.error}</p>
    <table class="terms">
      <tr><td>forward</td><td>${math(W, times(), sym.a(l - 1, k))}</td><td data-edge-forward="${P.forward}">${arith(sh, fwEq, "edge-forward")}</td></tr>
      <tr><td>backward</td><td>${math(W, times(), sym.delta(l, j))}</td><td data-edge-backward="${P.backward}">${arith(sh, bwEq, "edge-backward")}</td></tr>
      <tr><td>gradient</td><td>${math(sym.a(l - 1, k), times(), sym.delta(l, j))}</td><td data-edge-gradient="${P.gradient}">${arith(sh, g1Eq, "edge-gradient")}</td></tr>
    </table>
    <p class="note">Forward: this edge's share of ${math(sym.z(l, j))}. Backward: its share of the error sent back to ${math(sym.a(l - 1, k))}. Gradient: BP4 for the probe.</p>
    ${approxNote(sh, CANCEL_WHY)}${DIGITS_NOTE}
    ${note}</div>
    <div class="explain-right">
    <p class="eq-head">${ruled ? "Backprop's SGD step, not this run's" : "The next SGD step"} (batch of ${m})</p>
    <div class="update">
      <p>${math(sym.dC(W), eq(), html`<mi>mean</mi>`, paren(sym.a(l - 1, k), sym.delta(l, j)), ...(reg ? [mo("+"), regTerm] : []))}</p>
      <p class="dim">the mean of ${math(sym.a(l - 1, k), sym.delta(l, j))} over the batch (BP4)${reg ? html`, plus the ${regName} term: ${arith(sh, regEq, "edge-reg")}` : ""}</p>
      <p data-edge-grad="${U.grad}">${reg ? arith(sh, gradEq, "edge-grad") : html`${math(html`<mn data-v="${U.bp4_mean}">${sh.text("bp4")}</mn>`)}`}</p>
      <p>${U.momentum > 0 ? math(mo("Δ"), W, eq(), mi("μ"), mi("v"), mo("−"), mi("η"), sym.dC(W)) : math(mo("Δ"), W, eq(), mo("−"), mi("η"), sym.dC(W))}</p>
      <p class="result" data-edge-dw="${U.delta_w}">${arith(sh, dwEq, "edge-dw")}</p>
      <p class="dim">${U.momentum > 0 ? html`Momentum μ = ${sh.text("mu")}: v = ${sh.text("v")} is this weight's last step; μv keeps a share of it and the gradient step is added (η = ${sh.text("eta")}). The result becomes the next v.` : html`Plain SGD with η = ${sh.text("eta")}.`}</p>
      <p data-edge-wnext="${U.w_next}">${math(W, html`<mo>→</mo>`)} ${arith(sh, wnEq, "edge-wnext")}</p>
    </div>
    <p class="note">The bias learns the same way: ${math(sym.dC(sym.b(l, j)), eq(), sym.delta(l, j))} (BP3), batch mean ${math(num(ex.bias.grad))}.</p>
    </div></div>`;
  return [title, content];
}

const mfrac = (a, b) => html`<mfrac>${a}${b}</mfrac>`;
