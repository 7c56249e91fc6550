// "Nudge it": δ is a slope you can measure. For the selected neuron (z, a, b) or edge (w) the
// server changes that one number by ±ε on the probe example, runs the network forward, and
// answers the measured slope of the probe's cost beside backprop's value (POST .../nudge,
// docs/api.md). Both are shown to the digits where they agree and two more, the shared
// digits marked, so the learner sees how far they agree. For a weight, "Nudge every weight of
// this layer" counts the forward passes that takes and its time against backprop's one
// forward and one backward pass (POST .../nudge_layer).

import { ApiError } from "./api.js";
import { show } from "./digits.js";
import { eq, math, mfrac, mi, mn, mo, paren, row, sum, sym } from "./mathml.js";
import { actAbout, nodeVector } from "./quantities.js";
import { wPlus } from "./shapes.js";
import { html, name, setHTML } from "./util.js";

const MAX_DIGITS = 17;

/** Significant digits to which x and y agree: the largest d (0..17) such that both round to
 * the same d-digit text for every d' ≤ d. */
export function agreeDigits(x, y) {
  let d = 0;
  while (d < MAX_DIGITS && show(x, d + 1) === show(y, d + 1)) d += 1;
  return d;
}

/** x and y as the page writes them side by side: with the fewest significant digits (at least
 * 4, more than `agree`) at which their texts differ, so the first digit that differs is on
 * screen; numbers equal to all 17 digits are written in full (shortest round trip). `common`:
 * the length of the text they share from the start (the marked part). */
export function sideBySide(x, y, agree) {
  let digits = Math.max(4, agree + 1);
  while (digits < MAX_DIGITS && show(x, digits) === show(y, digits)) digits += 1;
  if (show(x, digits) === show(y, digits)) {
    digits = 1;
    while (digits < MAX_DIGITS && Number(show(x, digits).replace(/−/g, "-")) !== x) digits += 1;
  }
  const a = show(x, digits);
  const b = show(y, digits);
  let common = 0;
  while (common < a.length && a[common] === b[common]) common += 1;
  // mark digits only: not a shared lone sign or "0.", nor a mantissa whose exponents differ
  if (agree === 0 || !/\d/.test(a.slice(0, common).replace(/^[−]?0?\.?0*/, ""))) common = 0;
  return { digits, a, b, common };
}

/** How many significant digits the marked text (a number's first characters) holds: the
 * digits after the sign, the leading "0." and zeros, up to an exponent. */
export function sharedDigits(marked) {
  const mant = marked.split("e")[0].replace(/^[−-]?[0.]*/, "");
  return (mant.match(/\d/g) ?? []).length;
}

/** Why a slope is exactly 0 here, from the registry (a unit that can die, off for the probe). */
function zeroWhy(frame, sel) {
  const L = frame.sizes.length;
  const off = (l, j) => {
    if (l < 2) return false;
    const act = actAbout(frame.activations[l - 2]);
    const z = nodeVector(frame, l, "z")?.[j];
    return Boolean(act?.dies) && z !== undefined && z <= 0 ? act.label ?? frame.activations[l - 2] : null;
  };
  const own = off(sel.l, sel.j);
  if (own) return ` This ${own} unit is off for the probe (${name.z(sel.l, sel.j)} ≤ 0, so σ′ = 0 and a = 0): a nudge too small to turn it on changes nothing after it.`;
  if (sel.type === "edge" && nodeVector(frame, sel.l - 1, "a")?.[sel.k] === 0) return ` The input to this weight, ${name.a(sel.l - 1, sel.k)}, is 0 for the probe, so the weight has no effect on it.`;
  if (sel.l < L) return " No change here reaches the probe's cost: every path from it passes a unit that is off for the probe.";
  return "";
}

async function post(path, body) {
  let res;
  try {
    res = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  } catch {
    throw new ApiError(0, "the server cannot be reached");
  }
  let payload = null;
  try {
    payload = await res.json();
  } catch {
    payload = null;
  }
  if (!res.ok) throw new ApiError(res.status, payload?.detail ?? res.statusText);
  return payload;
}

const runPath = (id) => `/api/runs/${encodeURIComponent(id)}`;

/** The quantity's symbol, for the selection sel = {type, l, j, k} (j, k 0-based). */
function symbolOf(of, sel) {
  if (of === "w") return sym.w(sel.l, sel.j, sel.k);
  return sym[of](sel.l, sel.j);
}

/** Backprop's value for it, as the book writes it. */
function backpropSymbol(of, sel, L) {
  const { l, j, k } = sel;
  if (of === "z" || of === "b") return sym.delta(l, j);
  if (of === "w") return row(sym.a(l - 1, k), sym.delta(l, j));
  if (l === L) return sym.dC(sym.a(l, j));
  return row(sum(mi("i")), msubsupW(l + 1, j), sym.delta(l + 1, "i"));
}
const msubsupW = (l, j) => sym.w(l, "i", j);

export class NudgePanel {
  /** body: the explain panel's body (its content is redrawn by every frame). */
  constructor(body) {
    this.body = body;
    this.key = null; // the selection the results belong to
    this.out = new Map(); // "z" | "a" | "b" | "w" | "layer" → {busy, result, error}
    this.frame = null;
    this.sel = null;
    body.addEventListener("click", (ev) => {
      const button = ev.target.closest("[data-nudge]");
      if (button && !button.disabled) this.press(button.dataset.nudge);
    });
  }

  /** The "Nudge" section for a hidden or output neuron or an edge (html``). */
  render(frame, sel) {
    const key = `${frame.run_id}:${sel.l},${sel.j}${sel.type === "edge" ? `,${sel.k}` : ""}`;
    if (key !== this.key) {
      this.key = key;
      this.out = new Map();
    }
    this.frame = frame;
    this.sel = sel;
    return html`<section class="nudge" data-nudge-box>${this.inner()}</section>`;
  }

  inner() {
    const { frame, sel } = this;
    const qs = sel.type === "edge" ? ["w"] : ["z", "a", "b"];
    const buttons = qs.map(
      (of) => html`<button type="button" data-nudge="${of}" ${this.out.get(of)?.busy ? "disabled" : ""} title="change ${name[of](sel.l, sel.j, sel.k)} by ±ε on the probe example and measure the slope of its cost">Nudge ${name[of](sel.l, sel.j, sel.k)}</button>`,
    );
    if (sel.type === "edge") {
      buttons.push(html`<button type="button" data-nudge="layer" ${this.out.get("layer")?.busy ? "disabled" : ""}>Nudge every weight of this layer</button>`);
    }
    const results = [...qs, "layer"].filter((q) => this.out.has(q)).map((q) => (q === "layer" ? this.layerView(this.out.get(q)) : this.resultView(q, this.out.get(q))));
    const what = sel.type === "edge" ? sym.dC(sym.w(sel.l, sel.j, sel.k)) : sym.delta(sel.l, sel.j);
    return html`<p class="eq-head">Nudge it: ${math(what)} is a slope you can measure</p>
      <p class="note">The server changes one number by ±ε on the probe example, runs the network forward from there, and measures how the probe's cost ${math(mi("C"))} changes: ${math(mfrac(row(mi("C"), paren(mi("q"), mo("+"), mi("ε")), mo("−"), mi("C"), paren(mi("q"), mo("−"), mi("ε"))), row(mn(2), mi("ε"))))}. Backprop's number beside it came from one forward and one backward pass.</p>
      <p class="nudge-buttons">${buttons}</p>${results}${staleNote(frame, [...this.out.values()])}`;
  }

  resultView(of, st) {
    const { sel, frame } = this;
    if (st.busy) return html`<p class="dim" data-nudge-result="${of}">Nudging ${name[of](sel.l, sel.j, sel.k)}…</p>`;
    if (st.error) return html`<p class="weight-error" role="alert" data-nudge-result="${of}">The server said: ${st.error}</p>`;
    const r = st.result;
    const agree = agreeDigits(r.measured, r.backprop);
    const s = sideBySide(r.measured, r.backprop, agree);
    const mark = (text) => html`<span class="agree">${text.slice(0, s.common)}</span>${text.slice(s.common)}`;
    const Q = symbolOf(of, sel);
    const L = frame.sizes.length;
    // One story: the marked characters are what both numbers start with, and the note names
    // those digits (not a rounded form, which can differ from both texts in its last digit).
    const shared = sharedDigits(s.a.slice(0, s.common));
    const zero = r.measured === 0 && r.backprop === 0; // −0 too: zero has no significant digits
    const agreeText = zero
      ? html`Both are <b data-nudge-zero>exactly 0</b>: zero has no significant digits to compare.${zeroWhy(frame, sel)}`
      : shared === 0
        ? agree === 0
          ? html`They do not agree even in the first digit (<b data-nudge-agree="0">0</b> shared): the cost is not smooth on the scale of ε here (a ReLU's kink, or an ε too large).`
          : html`They share <b data-nudge-agree="0">0</b> leading digits, yet rounded to ${agree} significant digit${agree === 1 ? "" : "s"} both give ${show(r.measured, agree)}: they sit either side of a rounding boundary.`
        : s.a === s.b
          ? html`They are equal in all <b data-nudge-agree="${shared}">${shared}</b> significant digits written.`
          : html`They agree in their first <b data-nudge-agree="${shared}">${shared}</b> significant digit${shared === 1 ? "" : "s"}, marked: <span data-nudge-shared>${s.a.slice(0, s.common)}</span>…, and part at the next digit.`;
    // an output activation that is not elementwise ties the a^L together (they sum to 1)
    const outAct = actAbout(frame.activations[L - 2]);
    const tied = of === "a" && sel.l === L && outAct?.elementwise === false;
    return html`<div class="nudge-result" data-nudge-result="${of}">
      <table class="terms">
        <tr><td>measured</td><td>${math(mfrac(row(mo("Δ"), mi("C")), row(mo("Δ"), Q)))}</td><td class="num" data-nudge-measured="${r.measured}">${mark(s.a)}</td></tr>
        <tr><td>backprop</td><td>${math(backpropSymbol(of, sel, L))}</td><td class="num" data-nudge-backprop="${r.backprop}">${mark(s.b)}</td></tr>
        ${inverseRow(r, s.digits, sel, L)}${ruleRow(r, s.digits)}
      </table>
      <p class="note">${agreeText} ε = <span data-nudge-epsilon="${r.epsilon}">${show(r.epsilon, 3)}</span>, <span data-nudge-passes>${r.forward_passes} forward passes</span> (${math(mi("C"))} at ${math(Q)} + ε and at ${math(Q)} − ε), cost ${math(mi("C"), eq(), mn(show(r.cost, 6)))}.${tied ? html` Nudging ${math(Q)} alone leaves the ${outAct.label} outputs summing to more or less than 1, so this is the cost's own ${math(sym.dC(Q))}; nudge ${math(sym.z(sel.l, sel.j))} to move them all together, and the slope is δ.` : ""}</p>
      ${inverseNote(r, sel, L)}
    </div>`;
  }

  layerView(st) {
    const { sel } = this;
    if (st.busy) return html`<p class="dim" data-nudge-result="layer">Nudging every weight of layer ${sel.l}…</p>`;
    if (st.error) return html`<p class="weight-error" role="alert" data-nudge-result="layer">The server said: ${st.error}</p>`;
    const r = st.result;
    const ms = (s) => show(s * 1000, 2);
    const ratio = r.seconds / r.backprop.seconds;
    const w = r.worst;
    return html`<div class="nudge-result" data-nudge-result="layer">
      <p>All <b data-nudge-count="${r.count}">${r.count}</b> weights of ${math(html`<msup><mi>w</mi><mn>${sel.l}</mn></msup>`)}: <b data-nudge-layer-passes="${r.forward_passes}">${r.forward_passes}</b> forward passes (2 per weight), <span data-nudge-layer-ms="${r.seconds}">${ms(r.seconds)} ms</span> on the server.</p>
      <p>Backprop: <b>1</b> forward + <b>1</b> backward pass gave all ${r.count} at once, in <span data-nudge-backprop-ms="${r.backprop.seconds}">${ms(r.backprop.seconds)} ms</span>${ratio >= 1.5 ? html` (${show(ratio, 2)} times less time)` : ""}.</p>
      <p class="note">Largest disagreement: ${show(r.max_rel_diff, 2)} relative, at ${math(sym.w(sel.l, w.j, w.k))} (measured ${show(w.measured, 6)}, backprop ${show(w.backprop, 6)}). Times are one run on a shared server: the counts are what do not change.</p>
    </div>`;
  }

  async press(of) {
    const { frame, sel } = this;
    if (!frame || !sel || this.out.get(of)?.busy) return;
    const key = this.key;
    const path = `${runPath(frame.run_id)}/${of === "layer" ? "nudge_layer" : "nudge"}`;
    const body = of === "layer" ? { l: sel.l } : { of, l: sel.l, j: sel.j, ...(of === "w" ? { k: sel.k } : {}) };
    this.out.set(of, { busy: true });
    this.refresh();
    let st;
    try {
      st = { result: await post(path, body) };
    } catch (err) {
      st = { error: err instanceof ApiError ? err.text : String(err) };
    }
    if (key !== this.key) return; // another selection since
    this.out.set(of, st);
    this.refresh();
  }

  /** Redraw the section in place (the panel's next frame redraws it too). */
  refresh() {
    const box = this.body.querySelector("[data-nudge-box]");
    if (box) setHTML(box, this.inner());
  }
}

/** The inverse rule's prediction, written to the same significant digits as the two above. */
function inverseRow(r, digits, sel, L) {
  const v = r.inverse;
  const text = v === null || v === undefined ? "not finite" : show(v, digits);
  const how = sel.l === L ? html`BP1 (no BP2 here)` : html`BP2 through ${math(wPlus(sel.l + 1))}`;
  return html`<tr class="nudge-inverse"><td>inverse rule</td><td class="small">${how}</td><td class="num" data-nudge-inverse="${v ?? ""}">${text}</td></tr>`;
}

/** The run's own rule's prediction, when it is neither backprop's nor the inverse's (a run
 * trained with the random rule): its number beside the others. */
function ruleRow(r, digits) {
  if (r.rule === undefined || r.rule === r.backprop || r.rule === r.inverse) return html``;
  const text = r.rule === null ? "not finite" : show(r.rule, digits);
  return html`<tr class="nudge-rule"><td>this run's rule</td><td class="small">${r.feedback}</td><td class="num" data-nudge-rule="${r.rule ?? ""}">${text}</td></tr>`;
}

/**
 * What the inverse's number says, in plain words, from the three numbers on screen: on the
 * output layer it is backprop's (BP1 uses no BP2); below, it is compared with the measured
 * slope to the digits they share (no claim beyond what they show).
 */
export function inverseVerdict(r, l, L) {
  if (r.inverse === null || r.inverse === undefined) return { kind: "none" };
  if (l === L) return { kind: "output" }; // δ^L (and a^{L−1}δ^L) come from BP1 alone
  const agree = agreeDigits(r.inverse, r.measured);
  if (agree >= 3) return { kind: "agrees", agree };
  const ratio = r.measured !== 0 ? r.inverse / r.measured : null;
  const sign = r.inverse !== 0 && r.measured !== 0 && Math.sign(r.inverse) !== Math.sign(r.measured);
  return { kind: "differs", agree, ratio, sign };
}

function inverseNote(r, sel, L) {
  const v = inverseVerdict(r, sel.l, L);
  const attr = (k) => html` data-nudge-verdict="${k}"`;
  if (v.kind === "none")
    return html`<p class="note"${attr("none")}>The inverse rule has no finite prediction here: the pseudo-inverse of a nearly singular ${math(sym.w(sel.l + 1))} is huge.</p>`;
  if (v.kind === "output")
    return html`<p class="note"${attr("output")}>On the output layer the error comes from BP1, not BP2, so the inverse rule predicts exactly what backprop does. Nudge a hidden neuron or a weight into one to see them part.</p>`;
  if (v.kind === "agrees")
    return html`<p class="note"${attr("agrees")}>Here the inverse rule's prediction happens to agree with the measured slope to ${v.agree} significant digits.</p>`;
  const how = v.sign ? "it even has the wrong sign" : v.ratio !== null && Math.abs(v.ratio) >= 1.5 ? `it is ${show(Math.abs(v.ratio), 2)} times as large` : v.ratio !== null && Math.abs(v.ratio) <= 1 / 1.5 ? `it is ${show(Math.abs(v.ratio), 2)} times as large, so too small` : "it is off in the first digits";
  return html`<p class="nudge-verdict"${attr("differs")}>The inverse rule predicts ${show(r.inverse, 4)}, but the cost actually changes at ${show(r.measured, 4)}: ${how}. Backprop's transpose predicted the slope that was measured; carrying the error back with the inverse would have sent the wrong number.</p>`;
}

/** Results measured at another step or probe than the frame shown say so. */
function staleNote(frame, states) {
  const stale = states.some((s) => s.result && (s.result.step !== frame.step || s.result.probe !== frame.probe.index));
  return stale ? html`<p class="note" data-nudge-stale>Measured at another step or probe than the one shown: the network has changed since. Nudge again to measure it now.</p>` : html``;
}
