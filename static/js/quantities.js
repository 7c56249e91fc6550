// Read the numbers of a frame (docs/frames.md) by the notation's names. layers[i] is layer
// l = i + 2; layer 1 is the input. j, k are 0-based here and shown 1-based on screen.
// Also the guides' exact numbers: `explain` objects fetched per neuron or edge over REST, and
// a digits.js equation written as MathML that reads back as plain arithmetic.

import { api } from "./api.js";
import { show } from "./digits.js";
import { mi, mn, mo, paren } from "./mathml.js";
import { html } from "./util.js";

export const layer = (frame, l) => frame.layers[l - 2];

/** Is frame the first of a rebuilt run, after prev (the frame drawn before)? Another run
 * (an opened document), the stream's first frame after a rebuild (data_changed: the server
 * sends it after every `set` or PATCH that rebuilt the run), or other sizes or activations.
 * A redraw of the same frame is not. */
export function rebuiltBetween(prev, frame) {
  if (!prev) return false;
  if (prev === frame) return false;
  return (
    prev.run_id !== frame.run_id ||
    !!frame.data_changed ||
    prev.sizes.join() !== frame.sizes.join() ||
    prev.activations.join() !== frame.activations.join()
  );
}

/** Edge quantity matrix (n_l × n_{l-1}) of layer l. mode: backward | forward | gradient | weight. */
export function edgeMatrix(frame, l, mode, over = "probe") {
  const L = layer(frame, l);
  if (mode === "weight") return L.w;
  return L.edges[over][mode];
}

/** Node vector of layer l for fill = delta | a | z | sigma_prime (input: a = z = x; no δ). */
export function nodeVector(frame, l, fill, over = "probe") {
  if (l === 1) {
    if (fill === "delta" || fill === "sigma_prime") return null;
    return over === "mean" ? frame.input.mean_a : frame.input.a;
  }
  const L = layer(frame, l);
  return over === "mean" ? L.mean[fill] : L[fill];
}

/** a^l_k of the probe (l = 1: the input x). */
export const activation = (frame, l, over = "probe") => nodeVector(frame, l, "a", over);

export const EDGE_LABEL = {
  backward: "backward contribution w·δ",
  forward: "forward contribution w·a",
  gradient: "gradient a·δ (∂C/∂w)",
  weight: "weight w",
};
export const NODE_LABEL = { delta: "error δ", a: "activation a", z: "weighted input z" };

/**
 * What the server's registries (app/core/activations.py, costs.py, regularisers.py) say about
 * each choice: GET /api/options → `about`, learned once with learnChoices before any frame.
 * The page keeps no list of activations of its own: labels, symbols, ranges and σ′ formulas
 * all come from here.
 */
export const ABOUT = { activations: {}, costs: {}, regularisers: {}, feedback: {} };
/** name → label for people ("leaky ReLU"), filled by learnChoices. */
export const ACT_LABEL = {};
export const COST_LABEL = {};
export const REG_LABEL = {};
/** A feedback rule's label ("random (feedback alignment)"), from the Model panel's options. */
export const FEEDBACK_LABEL = {};

/** Learn the labels and properties of every choice from /api/options' `about`. */
export function learnChoices(about) {
  for (const key of ["activations", "costs", "regularisers", "feedback"]) Object.assign(ABOUT[key], about?.[key] ?? {});
  for (const [n, a] of Object.entries(ABOUT.activations)) ACT_LABEL[n] = a.label;
  for (const [n, c] of Object.entries(ABOUT.costs)) COST_LABEL[n] = c.label;
  for (const [n, r] of Object.entries(ABOUT.regularisers)) REG_LABEL[n] = r.label;
  for (const [n, r] of Object.entries(ABOUT.feedback)) FEEDBACK_LABEL[n] = r.label;
}

/** The registry's entry for an activation ({label, symbol, elementwise, bounds, cut, kink, prime_from_a, ...}), or null. */
export const actAbout = (name) => ABOUT.activations[name] ?? null;

/** The registry's entry for a cost ({label, cancels_on, grad_a: ∇ₐC as tokens | null}). */
export const costAbout = (name) => ABOUT.costs[name] ?? null;

/** The registry's entry for a regulariser ({label, grad_w: r′(w) as tokens | null (none)}). */
export const regAbout = (name) => ABOUT.regularisers[name] ?? null;

/**
 * A registry formula (tokens: variables, "1", "+", "−", "·", "/", "(", ")", "sgn" "(" … ")")
 * evaluated in float64 in the order it is written: ["a", "−", "y"] with {a, y}.
 */
export function evalTokens(tokens, vars) {
  let i = 0;
  const peek = () => tokens[i];
  const take = (t) => {
    if (tokens[i] !== t) throw new Error(`formula ${tokens.join(" ")}: expected ${t} at ${i}`);
    i += 1;
  };
  const primary = () => {
    const t = tokens[i++];
    if (t === "(") {
      const v = sum();
      take(")");
      return v;
    }
    if (t === "sgn") {
      take("(");
      const v = Math.sign(sum());
      take(")");
      return v;
    }
    if (/^\d/.test(t)) return Number(t);
    if (Object.hasOwn(vars, t)) return vars[t];
    throw new Error(`formula ${tokens.join(" ")}: unknown ${t}`);
  };
  const unary = () => (peek() === "−" ? (i++, -unary()) : primary());
  const product = () => {
    let v = unary();
    while (peek() === "·" || peek() === "/") v = tokens[i++] === "·" ? v * unary() : v / unary();
    return v;
  };
  const sum = () => {
    let v = product();
    while (peek() === "+" || peek() === "−") v = tokens[i++] === "+" ? v + product() : v - product();
    return v;
  };
  const v = sum();
  if (i !== tokens.length) throw new Error(`formula ${tokens.join(" ")}: unread ${tokens.slice(i).join(" ")}`);
  return v;
}

/** A registry formula's tokens for a digits.js Sheet: its variables as the sheet's number
 * ids (ids: {a: "a0", y: "y0"}), its 1 as the exact number "one". */
export function sheetTokens(sheet, tokens, ids) {
  if (tokens.includes("1")) sheet.num("one", 1, { exact: true });
  return tokens.map((t) => (Object.hasOwn(ids, t) ? ids[t] : t === "1" ? "one" : t));
}

/** A registry formula as MathML (no <math> around it); symbols: {variable: MathML}. */
export function formulaMath(tokens, symbols = {}) {
  return html`${tokens.map((t) => (Object.hasOwn(symbols, t) ? symbols[t] : /^\d/.test(t) ? mn(t) : /^[a-z]+$/i.test(t) ? mi(t) : mo(t)))}`;
}

/** BP2 for neuron k of layer l (per example: the probe). Terms come from the frame's edges. */
export function bp2(frame, l, k) {
  const next = layer(frame, l + 1);
  const back = next.edges.probe.backward; // [j][k] = w^{l+1}_jk δ^{l+1}_j
  const terms = next.w.map((row, j) => ({ j, w: row[k], delta: next.delta[j], term: back[j][k] }));
  const sum = terms.reduce((s, t) => s + t.term, 0);
  const cur = layer(frame, l);
  return { terms, sum, sigmaPrime: cur.sigma_prime[k], delta: cur.delta[k], z: cur.z[k] };
}

/** Does σ' cancel in BP1 for this output? The cost registry says on which output it does. */
export function sigmaCancels(frame) {
  const act = frame.activations[frame.activations.length - 1];
  const on = ABOUT.costs[frame.cost_name]?.cancels_on;
  return on != null && on === act;
}

/** The frame's full-precision `explain` object if it is for this selection, else null. */
export function explainFor(frame, sel) {
  const e = frame.explain;
  if (!e || !sel || e.l !== sel.l || e.j !== sel.j) return null;
  if (sel.type === "edge") return e.type === "edge" && e.k === sel.k ? e : null;
  return e.type === "neuron" ? e : null;
}

/** The stream message that asks for a selection's `explain` (docs/frames.md). */
export function selectMessage(sel) {
  if (!sel) return { type: "select" };
  return sel.type === "edge" ? { type: "select", l: sel.l, j: sel.j, k: sel.k } : { type: "select", l: sel.l, j: sel.j };
}

const OPS = new Set(["+", "−", "·", "/", "(", ")"]);

/** Equation e of a digits.js Sheet as `.arith` MathML (tests parse its text as arithmetic). */
export function arith(sheet, e, label, attrs = "") {
  const E = sheet.eqs[e];
  const parts = [];
  let prev = null;
  for (const t of E.lhs) {
    if (OPS.has(t)) parts.push(mo(t));
    else {
      const text = sheet.text(t);
      const cell = html`<mn data-v="${sheet.nums.get(t).v}">${text}</mn>`;
      parts.push(text.startsWith("−") && prev !== null && prev !== "(" ? paren(cell) : cell);
    }
    prev = t;
  }
  const rhs = html`<mn data-v="${sheet.nums.get(E.rhs).v}">${sheet.text(E.rhs)}</mn>`;
  return html`<math display="inline" class="arith" data-eq="${label}"${E.approx ? html` data-approx="1"` : ""} ${attrs}>${parts}${mo(E.approx ? "≈" : "=")}${rhs}</math>`;
}

/** A sheet number alone (no equation), as the sheet shows it. */
export const shownNum = (sheet, id) => html`<mn data-v="${sheet.nums.get(id).v}">${sheet.text(id)}</mn>`;

/** Why a guide wrote "≈" (nothing when every equation holds). */
export function approxNote(sheet) {
  if (!sheet.eqs.some((e) => e.approx)) return "";
  return html`<p class="note approx-note">≈: the terms cancel to far below their own size, past the 16–17 significant digits a float64 carries, so the rounded terms cannot reproduce the result to its digits.</p>`;
}

const LEAKY_SLOPE = 0.01; // app/core/activations.py
// The page's own float64 σ, to find the digits of z that make "a = σ(z)" hold when written.
// This is the one table of activation names in the page (JavaScript cannot run the
// server's): an activation missing here (GELU: JavaScript has no erf) is written without
// that equation, its a shown as the server computed it.
const ACT_FN = {
  tanh: Math.tanh,
  sigmoid: (z) => 1 / (1 + Math.exp(-z)),
  relu: (z) => (z > 0 ? z : 0),
  leaky_relu: (z) => (z > 0 ? z : LEAKY_SLOPE * z),
  swish: (z) => z / (1 + Math.exp(-z)),
  linear: (z) => z,
};

/**
 * a = σ(z) written with digits that make it hold: a to 4 significant digits (more if it sits
 * on a rounding edge), z to as many as σ of the shown z needs to round to the shown a.
 * null for softmax (not neuron by neuron) and unknown activations.
 */
export function activationEq(act, z, a) {
  const fn = ACT_FN[act];
  if (!fn) return null;
  for (let da = 4; da <= 10; da += 1) {
    const aText = show(a, da);
    const aShown = Number(aText.replace(/−/g, "-"));
    const half = a === 0 ? 0 : 0.5 * 10 ** (Math.floor(Math.log10(Math.abs(aShown || a))) - da + 1);
    for (let dz = 4; dz <= 17; dz += 1) {
      const zText = show(z, dz);
      const got = fn(Number(zText.replace(/−/g, "-")));
      if (a === 0 ? got === 0 : Math.abs(got - aShown) <= 0.9 * half) {
        return html`<math display="inline" class="fn-eq" data-fn="${act}">${mi(actAbout(act)?.symbol ?? act)}${paren(html`<mn data-v="${z}">${zText}</mn>`)}${mo("=")}<mn data-v="${a}">${aText}</mn></math>`;
      }
    }
  }
  return null;
}

/** A frame's state: the same key means the same θ, probe, batch and hyper-parameters. */
const stateKey = (f) => JSON.stringify([f.run_id, f.step, f.probe?.index, f.sizes, f.hyper, f.layers.map((L) => [L.w, L.b])]);

/**
 * The `explain` objects a guide needs for one frame, fetched over REST (`?explain=l,j[,k]`),
 * kept while the frame's state stays the same. onReady() runs when one arrives.
 */
export class ExplainCache {
  constructor(runId, onReady) {
    this.runId = runId;
    this.onReady = onReady;
    this.key = null;
    this.map = new Map();
  }

  /** The explain for sel ("l,j" or "l,j,k", 0-based) at this frame; undefined while asked; null if refused. */
  get(frame, sel) {
    const key = stateKey(frame);
    if (key !== this.key) {
      this.key = key;
      this.map = new Map();
    }
    if (this.map.has(sel)) return this.map.get(sel).value;
    const entry = { value: undefined };
    this.map.set(sel, entry);
    const id = this.runId();
    if (!id) return undefined;
    api.explain(id, sel).then(
      (fr) => {
        if (this.key !== key || this.map.get(sel) !== entry) return;
        // The server moved on (a step, an edit): the stream's next frame brings the new state.
        if (stateKey(fr) !== key) return this.map.delete(sel);
        entry.value = fr.explain;
        this.onReady();
      },
      () => {
        if (this.map.get(sel) !== entry) return;
        entry.value = null;
        this.onReady();
      },
    );
    return undefined;
  }
}
