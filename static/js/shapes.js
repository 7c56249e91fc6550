// What the shapes of the learner's weight matrices say about "why not the inverse?" (issue
// 12): w^m is n_m × n_{m−1} (row j = neuron j of layer m, column k = neuron k of layer m−1),
// so going back from layer m to m−1 needs an n_{m−1} × n_m matrix; only a square w can have
// an inverse. Pure functions of the frame's sizes, plus the symbols they are written with.

import { mi, mn, mo, msup, row } from "./mathml.js";
import { sub, sup } from "./util.js";

/** w^m's shape [rows, columns] = [n_m, n_{m−1}] for sizes [n_1, …, n_L] (m = 2..L). */
export function shapeOf(sizes, m) {
  return [sizes[m - 1], sizes[m - 2]];
}

/** "w³" as plain text. */
export const wName = (m) => `w${sup(m)}`;

/** "2×4". */
export const dims = ([r, c]) => `${r}×${c}`;

/** (w^m)⁺: the Moore-Penrose pseudo-inverse, as MathML. */
export const wPlus = (m) => msup(row(mo("("), msup(mi("w"), m === undefined ? mi("l") : mn(m)), mo(")")), mo("+"));

/**
 * The shape argument for w^m in one plain sentence: "w³ is 2×4: it has no inverse" when it
 * is not square, or that it is square (an inverse can exist) when it is.
 */
export function shapeSentence(sizes, m) {
  const [r, c] = shapeOf(sizes, m);
  const n = (l) => `n${sub(l)}`;
  const head = `${wName(m)} is ${dims([r, c])}: it maps the ${n(m - 1)} = ${c} numbers of layer ${m - 1} to the ${n(m)} = ${r} of layer ${m}.`;
  const back = `Going back needs a ${dims([c, r])} matrix; (${wName(m)})ᵀ is one, made of the same weights.`;
  if (r !== c) return { square: false, text: `${head} ${back} ${wName(m)} is ${dims([r, c])}, not square: it has no inverse.` };
  return { square: true, text: `${head} ${back} ${wName(m)} is square, so an inverse can exist (when no row is a combination of the others), yet BP2 still uses the transpose.` };
}

/** Every weight matrix of the network with its shape and whether it is square. */
export function allShapes(sizes) {
  return sizes.slice(1).map((_, i) => {
    const m = i + 2;
    const s = shapeOf(sizes, m);
    return { m, shape: s, square: s[0] === s[1] };
  });
}
