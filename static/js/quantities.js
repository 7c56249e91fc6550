// Read the numbers of a frame (docs/frames.md) by the notation's names. layers[i] is layer
// l = i + 2; layer 1 is the input. j, k are 0-based here and shown 1-based on screen.

export const layer = (frame, l) => frame.layers[l - 2];

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

export const ACT_LABEL = {
  tanh: "tanh",
  sigmoid: "sigmoid",
  relu: "ReLU",
  leaky_relu: "leaky ReLU",
  linear: "linear",
  softmax: "softmax",
};

/** BP2 for neuron k of layer l (per example: the probe). Terms come from the frame's edges. */
export function bp2(frame, l, k) {
  const next = layer(frame, l + 1);
  const back = next.edges.probe.backward; // [j][k] = w^{l+1}_jk δ^{l+1}_j
  const terms = next.w.map((row, j) => ({ j, w: row[k], delta: next.delta[j], term: back[j][k] }));
  const sum = terms.reduce((s, t) => s + t.term, 0);
  const cur = layer(frame, l);
  return { terms, sum, sigmaPrime: cur.sigma_prime[k], delta: cur.delta[k], z: cur.z[k] };
}

/** Does σ' cancel in BP1 for this output (cross-entropy + sigmoid, log-likelihood + softmax)? */
export function sigmaCancels(frame) {
  const act = frame.activations[frame.activations.length - 1];
  return (
    (frame.cost_name === "cross_entropy" && act === "sigmoid") ||
    (frame.cost_name === "log_likelihood" && act === "softmax")
  );
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
