// The network view's tooltip: the hovered edge or neuron named in the notation, with its
// values from the latest frame (probe example or batch mean, as the view shows).

import { layer, nodeVector, sigmaCancels } from "./quantities.js";
import { fmt, html, name, sub } from "./util.js";

/** h: {type: "edge", l, j, k} | {type: "neuron", l, j}; returns html`` or null. */
export function tipContent(f, h, over, inputLabels) {
  const which = over === "mean" ? "batch mean" : `probe #${f.probe.index}`;
  let body;
  if (h.type === "edge") {
    const L = layer(f, h.l);
    if (!L || !L.w[h.j]) return null;
    const E = L.edges[over];
    body = html`<b>${name.w(h.l, h.j, h.k)} = ${fmt(L.w[h.j][h.k])}</b>
      <div class="dim">edge k=${h.k + 1} (layer ${h.l - 1}) → j=${h.j + 1} (layer ${h.l})</div>
      <div>${over === "mean" ? "w·mean δ" : "w·δ"} = ${fmt(E.backward[h.j][h.k])} <span class="dim">backward</span></div>
      <div>${over === "mean" ? "w·mean a" : "w·a"} = ${fmt(E.forward[h.j][h.k])} <span class="dim">forward</span></div>
      <div>${over === "mean" ? "mean of a·δ" : "a·δ"} = ${fmt(E.gradient[h.j][h.k])} <span class="dim">gradient</span></div>
      <div>∂C/∂${name.w(h.l, h.j, h.k)} = ${fmt(L.grad_w[h.j][h.k])} <span class="dim">batch mean</span></div>
      <div class="dim">${which} · click for BP4</div>`;
  } else if (h.l === 1) {
    const v = nodeVector(f, 1, "a", over);
    if (!v) return null;
    // the feature input j carries (x₂, sin(x₁), …: the network's own label), not x_{j+1}
    const feature = inputLabels?.[h.j] ?? `x${sub(h.j + 1)}`;
    body = html`<b>${name.a(1, h.j)} = ${feature} = ${fmt(v[h.j])}</b><div class="dim">input ${h.j + 1} · ${which}</div>`;
  } else {
    const L = layer(f, h.l);
    if (!L || L.delta[h.j] === undefined) return null;
    const mean = over === "mean";
    const V = mean ? L.mean : L;
    // Batch means are written as means ("mean σ′(z)", not "σ′(z)": the mean of σ′ is not σ′
    // of anything), and BP2 does not hold between them (explain panel, batch-mean mode).
    const m = (s) => (mean ? `mean ${s}` : s);
    body = html`<b>${m(name.delta(h.l, h.j))} = ${fmt(V.delta[h.j])}</b>
      <div>${m(name.a(h.l, h.j))} = ${fmt(V.a[h.j])}</div>
      <div>${m(name.z(h.l, h.j))} = ${fmt(V.z[h.j])}</div>
      ${sigmaRow(f, h, m, V)}
      <div>${name.b(h.l, h.j)} = ${fmt(L.b[h.j])}</div>
      <div class="dim">${which}${mean ? ", 4 significant digits (BP2 holds per example, not between means)" : ", 4 significant digits"} · click for ${h.l === f.sizes.length ? "BP1" : "BP2"}</div>`;
  }
  if (f.status === "diverged") {
    // docs/frames.md: a diverged frame's values that overflowed are sent as ±1e30, NaN as 0
    return html`${body}<div class="tip-warn">Diverged: a value that overflowed shows as ±1e30, one that is not a number (NaN) as 0.</div>`;
  }
  return body;
}

/** The σ′ line of a neuron's tooltip. At an output where σ′ cancels in BP1 (the frame sends
 * 1 there, docs/frames.md) it is not σ′'s value: the line says so instead of "σ′(z) = 1". */
function sigmaRow(f, h, m, V) {
  const sp = m(`σ′(${name.z(h.l, h.j)})`);
  if (h.l === f.sizes.length && sigmaCancels(f)) {
    return html`<div>${sp}: cancels in BP1 (${name.delta(h.l, h.j)} = a − y), not used</div>`;
  }
  return html`<div>${sp} = ${fmt(V.sigma_prime[h.j])}</div>`;
}
