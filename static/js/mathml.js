// Native MathML (no library, works offline): tiny builders that return html`` fragments.
// Symbols are written with the notation's letters; indices are 1-based as in the book.

import { fmt, html, raw } from "./util.js";

export const mi = (x) => html`<mi>${x}</mi>`;
export const mn = (x) => html`<mn>${x}</mn>`;
export const mo = (x) => html`<mo>${x}</mo>`;
export const row = (...xs) => html`<mrow>${xs}</mrow>`;
export const math = (...xs) => html`<math display="inline">${xs}</math>`;
export const block = (...xs) => html`<math display="block">${xs}</math>`;
export const msub = (b, s) => html`<msub>${b}${s}</msub>`;
export const msup = (b, s) => html`<msup>${b}${s}</msup>`;
export const msubsup = (b, s, p) => html`<msubsup>${b}${s}${p}</msubsup>`;
export const paren = (...xs) => row(mo("("), ...xs, mo(")"));

/** An index: a number (0-based → shown 1-based) or a letter. */
const idx = (i) => (typeof i === "number" ? mn(i + 1) : mi(i));
function lay(l) {
  if (typeof l === "number") return mn(l);
  const m = /^(\w)([+-])(\d)$/.exec(l);
  return m ? row(mi(m[1]), mo(m[2] === "-" ? "−" : "+"), mn(m[3])) : mi(l);
}

export const sym = {
  w: (l, j, k) => msubsup(mi("w"), row(idx(j), idx(k)), lay(l)),
  b: (l, j) => msubsup(mi("b"), idx(j), lay(l)),
  delta: (l, j) => (j === undefined ? msup(mi("δ"), lay(l)) : msubsup(mi("δ"), idx(j), lay(l))),
  a: (l, j) => (j === undefined ? msup(mi("a"), lay(l)) : msubsup(mi("a"), idx(j), lay(l))),
  z: (l, j) => (j === undefined ? msup(mi("z"), lay(l)) : msubsup(mi("z"), idx(j), lay(l))),
  y: (j) => msub(mi("y"), idx(j)),
  wT: (l) => msup(row(mo("("), msup(mi("w"), lay(l)), mo(")")), mi("T")),
  sigmaPrime: (zsym) => row(msup(mi("σ"), mo("′")), paren(zsym)),
  eta: () => mi("η"),
  dC: (s) => row(mfrac(row(mo("∂"), mi("C")), row(mo("∂"), s))),
};

export const mfrac = (a, b) => html`<mfrac>${a}${b}</mfrac>`;

/** A live number; data-v keeps the exact value the frame sent (tests read it). */
export const num = (v, cls = "") => html`<mn class="${cls}" data-v="${v}">${fmt(v)}</mn>`;

export const times = () => mo("·");
export const eq = () => mo("=");
export const plus = () => mo("+");
export const odot = () => mo("⊙");
export const sum = (under) => html`<munder><mo movablelimits="false">∑</mo>${under}</munder>`;

export { raw };

/** A number in a product: negatives in parentheses, 0.431 · (−0.0123). */
export const numP = (v, cls = "") => (v < 0 ? paren(num(v, cls)) : num(v, cls));
