// BP2 as matrices for one layer l: (w^{l+1})^T as a heatmap, times δ^{l+1}, ⊙ σ′(z^l), = δ^l.
// The same numbers as the network view (probe example); row k of (w^{l+1})^T is column k of
// w^{l+1}, the weights *leaving* neuron k. Clicking a matrix cell selects that edge.
// Under a feedback rule other than the transpose the network's δ is the rule's, which
// (w^{l+1})^T does not produce (the frame does not carry the rule's matrix): the view then
// writes backprop's BP2 with backprop's δ (the layers' `true_delta`; the output's δ is the
// same under every rule), says so, and shows the rule's δ^l beside it, labelled.

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

function column(values, label, { highlight = null, cls = "", whose = "" } = {}) {
  const max = maxAbs(values);
  return html`<div class="mcol ${cls}"${whose ? html` data-whose="${whose}"` : ""}><div class="mlabel">${label}</div><table class="mvec">${values.map(
    (v, i) => html`<tr class="${i === highlight ? "hl" : ""}">${cell(v, max, { title: String(v) })}</tr>`,
  )}</table></div>`;
}

/** k: the selected neuron of layer l (0-based) or null; ruleLabel: the run's feedback rule
 * as the Model panel names it (used only when the frame carries a rule's numbers). */
export function bp2Matrix(frame, l, k, ruleLabel = null) {
  const next = layer(frame, l + 1);
  const cur = layer(frame, l);
  if (!next || !cur) return html``;
  const nl = cur.delta.length;
  const nNext = next.delta.length;
  const max = maxAbs(next.w);
  const rule = cur.true_delta !== undefined; // a rule other than the transpose: δ is not BP2's
  // Backprop's δ under a rule (the output's true_delta, or its δ: BP1 does not use the rule).
  const dNext = rule ? (next.true_delta ?? next.delta) : next.delta;
  const dCur = rule ? cur.true_delta : cur.delta;
  // (w^{l+1})^T δ^{l+1}: the sums over j of w_jk·δ_j, the frame's own products under the
  // transpose (its backward edges), backprop's from its δ under a rule.
  const terms = rule ? next.w.map((row, j) => row.map((w) => w * dNext[j])) : next.edges.probe.backward;
  const wtd = Array.from({ length: nl }, (_, kk) => terms.reduce((s, row) => s + row[kk], 0));
  const bp = (x) => (rule ? html`${x}<br><span class="dim">backprop</span>` : x);
  const head = html`<tr><th></th>${Array.from({ length: nNext }, (_, j) => html`<th>j=${j + 1}</th>`)}</tr>`;
  const rows = Array.from(
    { length: nl },
    (_, kk) => html`<tr class="${kk === k ? "hl" : ""}"><th>k=${kk + 1}</th>${Array.from({ length: nNext }, (_, j) =>
      cell(next.w[j][kk], max, { select: { type: "edge", l: l + 1, j, k: kk }, title: `${name.w(l + 1, j, kk)} = ${next.w[j][kk]}` }),
    )}</tr>`,
  );
  const who = ruleLabel ? html`“${ruleLabel}”` : "another rule than the transpose";
  const caption = rule
    ? html`Backprop's BP2 as matrices, layer ${l} (probe). This run carries δ back with ${who}, not ${math(sym.wT(l + 1))}, so these δ are backprop's at the same weights and probe (${l + 1 === frame.sizes.length ? html`${math(sym.delta(l + 1))} is the output's, the same under every rule` : html`${math(sym.delta(l + 1))} too is backprop's, not the rule's`}):`
    : html`BP2 as matrices, layer ${l} (probe):`;
  const ruleRow = rule
    ? html`<div class="mnote" data-rule-deltas>This run's ${math(sym.delta(l))} (the rule's, as the network shows it): ${cur.delta.map((v, i) => html`${i ? ", " : ""}<b data-rule-delta-cell="${i}" data-v="${v}">${fmt(v, 2)}</b>`)}; the rule's matrix is not in the frame, so its product is not written here.</div>`
    : html``;
  return html`<div class="bp2m" data-bp2-matrix="${l}"${rule ? html` data-bp2-backprop="1"` : ""}>
    <div class="mcaption">${caption}</div>
    <div class="mrow">
      <div class="mcol"><div class="mlabel">${math(sym.wT(l + 1))}</div><table class="mmat">${head}${rows}</table></div>
      <div class="mop">${math(mo("×"))}</div>
      ${column(dNext, bp(math(sym.delta(l + 1))), { whose: rule ? "backprop" : "" })}
      <div class="mop">${math(mo("≈"))}</div>
      ${column(wtd, math(sym.wT(l + 1), sym.delta(l + 1)), { highlight: k })}
      <div class="mop">${math(mo("⊙"))}</div>
      ${column(cur.sigma_prime, math(sym.sigmaPrime(sym.z(l))), { highlight: k })}
      <div class="mop">${math(mo("≈"))}</div>
      ${column(dCur, bp(math(sym.delta(l))), { highlight: k, cls: "result", whose: rule ? "backprop" : "" })}
    </div>
    ${ruleRow}
    <div class="mnote">Row k of ${math(sym.wT(l + 1))} holds the weights leaving neuron k. Multiplying it by ${math(sym.delta(l + 1))} adds up ${math(sym.w(l + 1, "j", "k"), sym.delta(l + 1, "j"))} over j: ${rule ? "what backprop would carry back along" : "the backward contributions of"} k's outgoing edges. Click a cell to see that edge. Cells show 2 significant digits of the frame's rounded numbers, so the matrix equation is written with ≈; the exact arithmetic for the selected neuron is in its BP2 equation (“BP2 for neuron k”), beside this view or above it on a narrow screen.</div>
  </div>`;
}
