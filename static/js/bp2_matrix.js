// BP2 as matrices for one layer l: (w^{l+1})^T as a heatmap, times δ^{l+1}, ⊙ σ′(z^l), = δ^l.
// The same numbers as the network view (probe example); row k of (w^{l+1})^T is column k of
// w^{l+1}, the weights *leaving* neuron k. Clicking a matrix cell selects that edge.

import { colorOf } from "./colors.js";
import { math, mo, sym } from "./mathml.js";
import { layer } from "./quantities.js";
import { fmt, html, maxAbs, name } from "./util.js";

function cell(v, max, { cls = "", select = null, title = "" } = {}) {
  const t = max > 0 ? v / max : 0;
  const dark = Math.abs(t) > 0.62;
  const sel = select ? html` data-select="${JSON.stringify(select)}"` : "";
  return html`<td class="mcell ${cls}${dark ? " dark" : ""}" style="background:${colorOf(t)}" title="${title}" data-v="${v}"${sel}>${fmt(v, 2)}</td>`;
}

function column(values, label, { highlight = null, cls = "" } = {}) {
  const max = maxAbs(values);
  return html`<div class="mcol ${cls}"><div class="mlabel">${label}</div><table class="mvec">${values.map(
    (v, i) => html`<tr class="${i === highlight ? "hl" : ""}">${cell(v, max, { title: String(v) })}</tr>`,
  )}</table></div>`;
}

/** k: the selected neuron of layer l (0-based) or null. */
export function bp2Matrix(frame, l, k) {
  const next = layer(frame, l + 1);
  const cur = layer(frame, l);
  if (!next || !cur) return html``;
  const nl = cur.delta.length;
  const nNext = next.delta.length;
  const max = maxAbs(next.w);
  const back = next.edges.probe.backward;
  const wtd = Array.from({ length: nl }, (_, kk) => back.reduce((s, row) => s + row[kk], 0));
  const head = html`<tr><th></th>${Array.from({ length: nNext }, (_, j) => html`<th>j=${j + 1}</th>`)}</tr>`;
  const rows = Array.from(
    { length: nl },
    (_, kk) => html`<tr class="${kk === k ? "hl" : ""}"><th>k=${kk + 1}</th>${Array.from({ length: nNext }, (_, j) =>
      cell(next.w[j][kk], max, { select: { type: "edge", l: l + 1, j, k: kk }, title: `${name.w(l + 1, j, kk)} = ${next.w[j][kk]}` }),
    )}</tr>`,
  );
  return html`<div class="bp2m" data-bp2-matrix="${l}">
    <div class="mcaption">BP2 as matrices, layer ${l} (probe):</div>
    <div class="mrow">
      <div class="mcol"><div class="mlabel">${math(sym.wT(l + 1))}</div><table class="mmat">${head}${rows}</table></div>
      <div class="mop">${math(mo("×"))}</div>
      ${column(next.delta, math(sym.delta(l + 1)))}
      <div class="mop">${math(mo("≈"))}</div>
      ${column(wtd, math(sym.wT(l + 1), sym.delta(l + 1)), { highlight: k })}
      <div class="mop">${math(mo("⊙"))}</div>
      ${column(cur.sigma_prime, math(sym.sigmaPrime(sym.z(l))), { highlight: k })}
      <div class="mop">${math(mo("≈"))}</div>
      ${column(cur.delta, math(sym.delta(l)), { highlight: k, cls: "result" })}
    </div>
    <div class="mnote">Row k of ${math(sym.wT(l + 1))} holds the weights leaving neuron k. Multiplying it by ${math(sym.delta(l + 1))} adds up ${math(sym.w(l + 1, "j", "k"), sym.delta(l + 1, "j"))} over j: the backward contributions of k's outgoing edges. Click a cell to see that edge. Cells show 2 significant digits of the frame's rounded numbers, so the matrix equation is written with ≈; the exact arithmetic for the selected neuron is on the left.</div>
  </div>`;
}
