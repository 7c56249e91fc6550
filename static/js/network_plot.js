// The network view: an SVG picture of thumbnails, edges and neurons, updated in place every
// frame, that is also what the pointer hovers and clicks (network_svg.js). Above it,
// per-layer labels and the add/remove neuron buttons; beside the pointer, a tooltip naming
// the quantity in the notation with its value. No Plotly here: the view is live from the
// first frame.

import { CLASS_COLORS, StableScale, featureGrid, renderColorbar, thumbImage } from "./colors.js";
import { bezierAt, geometry, nodeKey } from "./network_geom.js";
import { LiveLayer, hitOf } from "./network_svg.js";
import { tipContent } from "./network_tip.js";
import { ACT_LABEL, EDGE_LABEL, NODE_LABEL, edgeMatrix, nodeVector, rebuiltBetween } from "./quantities.js";
import { $, html, maxAbs, setHTML } from "./util.js";

const BOTTOM = 6;

export class NetworkPlot {
  constructor(root, { onSelect, setHidden, inputLabel, onHover }) {
    this.onHover = onHover; // the hovered neuron or edge, or null (neuron_hover.js)
    this.root = root;
    this.plotDiv = $(".net-plot", root); // the view's box: the picture is drawn to its size
    this.header = $(".net-header", root);
    this.tip = $(".net-tip", root);
    this.live = new LiveLayer($(".net-live", root));
    this.live.avoid = () => this.headerBoxes(); // numbers on the network never cover them
    this.bars = [...root.querySelectorAll(".colorbar")];
    this.onSelect = onSelect;
    this.setHidden = setHidden;
    this.inputLabel = inputLabel;
    this.geom = null;
    this.thumbs = [];
    this.gridRef = null;
    this.hover = null;
    this.scales = { edge: new StableScale(), node: new StableScale(), input: new StableScale() };
    const stage = this.live.svg.parentElement;
    this.live.svg.setAttribute("role", "group");
    this.live.svg.setAttribute("aria-label", "The network: arrow keys move between neurons, Enter explains one");
    stage.addEventListener("pointermove", (ev) => this.pointAt(hitOf(ev.target), ev));
    stage.addEventListener("pointerleave", () => this.pointAt(null));
    stage.addEventListener("click", (ev) => {
      const hit = hitOf(ev.target);
      if (hit) this.onSelect(hit);
    });
    // The keyboard: the network is one Tab stop (network_svg.js: LiveLayer.rove), the arrow
    // keys, Home and End move between its neurons, focusing one shows its readout as
    // pointing at it does, and Enter or Space selects it as a click does.
    stage.addEventListener("keydown", (ev) => {
      const hit = hitOf(ev.target);
      if (!hit || hit.type !== "neuron") return;
      if (ev.key === "Enter" || ev.key === " ") {
        ev.preventDefault();
        this.onSelect(hit);
        return;
      }
      const to = this.live.roveFrom(hit.l, hit.j, ev.key);
      if (!to && !ev.key.startsWith("Arrow") && ev.key !== "Home" && ev.key !== "End") return;
      ev.preventDefault(); // an arrow at the network's edge does not scroll the page either
      if (!to) return;
      this.live.rove(to.key);
      to.c.focus();
    });
    stage.addEventListener("focusin", (ev) => {
      const hit = hitOf(ev.target);
      if (!hit) return;
      if (hit.type === "neuron") this.live.rove(nodeKey(hit.l, hit.j));
      const r = ev.target.getBoundingClientRect();
      this.pointAt(hit, { clientX: r.right, clientY: r.top + r.height / 2 });
    });
    stage.addEventListener("focusout", () => this.pointAt(null));
    new ResizeObserver(() => {
      this.geom = null;
      if (this.frame) this.update(this.frame, this.store);
    }).observe(this.plotDiv);
  }

  /** The pointer is on hit (a neuron or edge) or on nothing: the tooltip and onHover follow. */
  pointAt(hit, ev = null) {
    if (!hit) {
      if (!this.hover) return;
      this.hover = null;
      this.tip.hidden = true;
      this.onHover?.(null);
      return;
    }
    const same = this.hover && ["type", "l", "j", "k"].every((k) => this.hover[k] === hit[k]);
    this.hover = { ...hit, x: ev?.clientX ?? 0, y: ev?.clientY ?? 0 };
    this.showTip();
    if (!same) this.onHover?.(this.hover);
  }

  /** Draw frame with the view settings; highlight/selection from the store. */
  update(frame, store) {
    const s = store.settings;
    const W = Math.max(200, Math.floor(this.plotDiv.clientWidth));
    const Htot = Math.max(160, Math.floor(this.plotDiv.clientHeight));
    const H = Htot - BOTTOM;
    const features = store.run?.config?.features ?? [];
    // the features are in the key: x₁, x₂ → x₂, sin(x₁) keeps the sizes but not the labels
    const sizesKey = `${frame.sizes.join(",")}|${features.join(",")}`;
    const structural = !this.geom || this.geom.W !== W || this.geom.H !== H || this.sizesKey !== sizesKey;
    if (structural) {
      this.inputLabels = Array.from({ length: frame.sizes[0] }, (_, k) => this.inputLabel(features[k], k));
      const labelW = 6 + 6.2 * Math.max(0, ...this.inputLabels.map((t) => t.length));
      this.geom = geometry(frame.sizes, W, H, labelW);
      this.sizesKey = sizesKey;
      this.live.build(this.geom, this.inputLabels);
    }
    // The header names each layer's activation as the frame says it is in use: redrawn when
    // the activations change too, not only the shape (issue 9, item 3).
    const headerKey = `${sizesKey}|${frame.activations.join(",")}|${W}x${H}|${store.hidden("layers")}|${store.locked("layers")}|${widthCap(store)}`;
    if (structural || headerKey !== this.headerKey) {
      this.headerKey = headerKey;
      this.renderHeader(frame, store);
    }
    if (frame.grid && (frame.grid !== this.gridRef || structural)) this.makeThumbs(frame, store);
    // Data with other than 2 inputs has no input plane: no thumbnails (old ones would lie).
    if (!frame.grid && (store.data?.train?.points?.[0]?.length ?? 2) !== 2 && this.thumbs.length) {
      this.thumbs = [];
      this.gridRef = null;
    }

    const hl = store.highlight;
    const colorMode = hl?.color ?? s.color;
    const fillMode = hl?.fill ?? s.fill;
    const over = hl ? "probe" : s.over;
    const edgeValues = frame.layers.map((_, i) => edgeMatrix(frame, i + 2, colorMode, over));
    const nodeValues = frame.sizes.map((_, li) => nodeVector(frame, li + 1, fillMode, over));
    if (rebuiltBetween(this.frame, frame)) for (const scale of Object.values(this.scales)) scale.reset();
    const sc = this.colourScales(frame, s.scale === "log", edgeValues, nodeValues, `${colorMode}|${over}`, `${fillMode}|${over}`);
    this.live.update({ edgeValues, nodeValues, scales: sc, highlight: hl, selection: store.selection });
    if (this.thumbsFor !== this.thumbs || this.thumbsHl !== hl || structural) {
      this.thumbsFor = this.thumbs;
      this.thumbsHl = hl;
      this.live.setThumbs(this.thumbs, hl);
    }
    const edgeTitle = `edges: ${EDGE_LABEL[colorMode]}${colorMode === "weight" ? "" : over === "mean" ? " (batch mean)" : " (probe)"}`;
    const nodeTitle = `neurons: ${NODE_LABEL[fillMode]}`;
    renderColorbar(this.bars[0], sc.edge, edgeTitle);
    renderColorbar(this.bars[1], sc.node, sc.input ? `${nodeTitle} (hidden, output)` : nodeTitle);
    this.bars[2].hidden = !sc.input;
    if (sc.input) renderColorbar(this.bars[2], sc.input, "inputs x");
    this.frame = frame;
    this.store = store;
    if (this.hover) this.showTip();
  }

  /**
   * The colour scales (colors.js StableScale: stable ranges, linear or symmetric log). Edges
   * share one; neurons another; the inputs (x, up to ±6) get their own when a or z is shown,
   * so that hidden activations (±1) are not washed out by them.
   */
  colourScales(frame, log, edgeValues, nodeValues, edgeKey, nodeKey) {
    const suffix = log ? "|log" : "|linear";
    const { edge, node, input } = this.scales;
    const inputs = nodeValues[0];
    const rest = frame.status !== "running"; // no frames coming (colors.js: when to settle)
    edge.update(edgeKey + suffix, edgeValues.reduce((m, M) => maxAbs(M, m), 0), frame.step, rest);
    node.update(nodeKey + suffix, nodeValues.slice(1).reduce((m, v) => (v ? maxAbs(v, m) : m), 0), frame.step, rest);
    if (inputs) input.update(nodeKey + suffix, maxAbs(inputs), frame.step, rest);
    return { edge, node, input: inputs ? input : null };
  }

  /**
   * Viewport position of neuron j of layer l (disc centre), or of a point where a click finds
   * edge (l, j, k): the point of its line farthest from every other edge and neuron (its
   * middle will not do: in a symmetric layout k=1→j=0 crosses k=0→j=1 there).
   */
  clientPos(l, j, k = null) {
    const r = this.plotDiv.getBoundingClientRect();
    const g = this.geom;
    if (k === null) {
      const n = g.nodes[l - 1][j];
      return { x: r.left + n.x, y: r.top + n.y };
    }
    const others = [];
    for (const e of g.edges) {
      if (e.l === l && e.j === j && e.k === k) continue;
      for (let i = 0; i <= 60; i++) others.push([...bezierAt(e.p, i / 60), 0]);
    }
    for (const col of g.nodes) for (const n of col) others.push([n.x, n.y, n.d / 2], [n.tx + n.t / 2, n.y, n.t * 0.71]);
    const own = g.edges.find((e) => e.l === l && e.j === j && e.k === k);
    let best = null;
    for (let t = 0.1; t <= 0.9; t += 0.02) {
      const [x, y] = bezierAt(own.p, t);
      const margin = Math.min(...others.map(([ox, oy, rad]) => Math.hypot(x - ox, y - oy) - rad));
      if (!best || margin > best.margin) best = { x, y, margin };
    }
    return { x: r.left + best.x, y: r.top + best.y };
  }

  makeThumbs(frame, store) {
    const grid = frame.grid;
    this.gridRef = grid;
    const sizes = frame.sizes;
    const features = store.run?.config?.features ?? [];
    const extent = store.data?.extent;
    const thumbs = [Array.from({ length: sizes[0] }, (_, k) => {
      const fg = featureGrid(features[k], extent);
      return fg ? thumbImage(fg) : null;
    })];
    let idx = 0;
    for (let li = 1; li < sizes.length - 1; li++) {
      thumbs.push(Array.from({ length: sizes[li] }, () => {
        const g = grid.neurons?.[idx++];
        return g ? thumbImage(g) : null;
      }));
    }
    const nOut = sizes[sizes.length - 1];
    if (nOut > 1) thumbs.push(Array.from({ length: nOut }, (_, j) => swatch(j)));
    else {
      const outThumb = grid.output && nOut === 1 ? thumbImage(grid.output) : null;
      thumbs.push(Array.from({ length: nOut }, () => outThumb));
    }
    this.thumbs = thumbs;
  }

  renderHeader(frame, store) {
    const g = this.geom;
    const L = frame.sizes.length;
    const canEdit = !store.hidden("layers") && !store.locked("layers");
    const maxW = widthCap(store);
    const items = frame.sizes.map((n, li) => {
      const l = li + 1;
      const act = li > 0 ? ACT_LABEL[frame.activations[li - 1]] ?? frame.activations[li - 1] : "";
      const title = li === 0 ? "input" : li === L - 1 ? "output" : "hidden";
      const sub2 = li === 0 ? "l = 1" : `l = ${l} · ${act}`;
      const buttons =
        canEdit && li > 0 && li < L - 1
          ? html`<span class="neuron-buttons"><button class="mini" data-neurons="${li - 1}" data-delta="-1" title="remove a neuron from layer ${l}" ${n <= 1 ? "disabled" : ""}>−</button><span class="count">${n}</span><button class="mini" data-neurons="${li - 1}" data-delta="1" title="add a neuron to layer ${l}" ${n >= maxW ? "disabled" : ""}>+</button></span>`
          : html`<span class="count-only">${n} ${n === 1 ? "neuron" : "neurons"}</span>`;
      const n0 = g.nodes[li][0]; // each layer's own disc and thumbnail (a dense one's are smaller)
      const x0 = n0.tx - (li === 0 ? 24 : 0);
      const x1 = g.cols[li] + n0.d / 2;
      const where = li === 0 ? "first" : li === L - 1 ? "last" : "";
      const left = li === 0 ? x0 : li === L - 1 ? x1 : (x0 + x1) / 2;
      return html`<div class="layer-label ${where}" style="left:${Math.round(left)}px"><span class="lt">${title}</span><span class="la">${sub2}</span>${buttons}</div>`;
    });
    setHTML(this.header, html`${items}`);
    this.live.labelKey = null; // the labels are placed again, clear of the new header
    this.header.querySelectorAll("button[data-neurons]").forEach((b) =>
      b.addEventListener("click", () => {
        const hidden = [...store.settings.hidden];
        const i = Number(b.dataset.neurons);
        hidden[i] = Math.max(1, Math.min(maxW, hidden[i] + Number(b.dataset.delta)));
        this.setHidden(hidden);
      }),
    );
  }

  /** Each layer's name and − n + control ({left, top, right, bottom} in the picture's
   * pixels): the last line of one reaches a few pixels into the picture. */
  headerBoxes() {
    const o = this.live.svg.getBoundingClientRect();
    return [...this.header.querySelectorAll(".layer-label")]
      .map((e) => e.getBoundingClientRect())
      .filter((r) => r.width && r.height) // a hidden panel's boxes are empty
      .map((r) => ({ left: r.left - o.left, top: r.top - o.top, right: r.right - o.left, bottom: r.bottom - o.top }));
  }

  showTip() {
    const f = this.frame;
    const h = this.hover;
    if (!f || !h) return;
    const body = tipContent(f, h, this.store.settings.over, this.inputLabels);
    if (!body) return;
    setHTML(this.tip, body);
    const box = this.root.getBoundingClientRect();
    this.tip.hidden = false;
    const tw = this.tip.offsetWidth;
    let x = h.x - box.left + 14;
    if (x + tw > box.width - 4) x = h.x - box.left - tw - 14;
    this.tip.style.left = `${Math.max(2, x)}px`;
    this.tip.style.top = `${Math.max(2, h.y - box.top + 10)}px`;
  }
}

/** The most neurons a hidden layer may have here: 8 as in Playground, the server's wider cap
 * on an image data set (the book's 30 hidden neurons on the digits). */
export function widthCap(store) {
  const limits = store.options?.limits ?? {};
  const image = store.options?.datasets?.find((d) => d.name === store.settings.dataset)?.image;
  return image && limits.max_digits_width ? limits.max_digits_width : Math.min(8, limits.max_width ?? 8);
}

/** With several outputs, output neuron j stands for class j: show the class's colour. */
function swatch(j) {
  const c = CLASS_COLORS[j % CLASS_COLORS.length];
  return `data:image/svg+xml;charset=utf-8,${encodeURIComponent(`<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"><rect width="4" height="4" fill="${c}"/></svg>`)}`;
}
