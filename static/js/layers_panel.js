// The layers panel's head (issue 13): its two tabs (the gradient across layers, the
// distributions) and its choices: whose norms (the network's "Values" setting, settings.over:
// one choice for the whole page, kept in the link) and which histogram (w, a or δ). It draws
// from the store and hands what the learner picks to the App (onTab, onOver, onKind).

import { $, $$ } from "./util.js";

export class LayersPanel {
  constructor(root, { onTab, onOver, onKind }) {
    this.root = root;
    this.tabs = $$("[data-lp-tab]", root);
    this.panes = $$("[data-lp-pane]", root);
    this.over = $("#lp-over", root);
    this.kind = $("#lp-kind", root);
    for (const b of this.tabs) b.addEventListener("click", () => onTab(b.dataset.lpTab));
    this.over.addEventListener("change", () => onOver(this.over.value));
    this.kind.addEventListener("change", () => onKind(this.kind.value));
  }

  /** Show the store's tab, norms source and histogram kind. */
  render(store) {
    const tab = store.layersTab;
    for (const b of this.tabs) b.setAttribute("aria-selected", String(b.dataset.lpTab === tab));
    for (const p of this.panes) p.hidden = p.dataset.lpPane !== tab;
    this.root.dataset.tab = tab;
    this.over.value = store.settings.over === "mean" ? "mean" : "probe";
    this.over.closest("label").hidden = tab !== "gradient";
    this.kind.value = store.histKind;
    this.kind.closest("label").hidden = tab !== "distributions";
  }
}
