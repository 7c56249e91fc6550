// The network view's picture, all SVG: each neuron's thumbnail (its output over the input
// plane), edges and neuron discs, updated in place, and the targets the pointer hovers and
// clicks (hit-testing is the browser's: a wide invisible stroke per edge, the disc and the
// thumbnail per neuron). Changing ~300 attributes costs ~1 ms a frame; re-styling hundreds of
// Plotly traces cost ~100 ms and swapping a layout image ~25 ms on the same machine
// (bench/bench_page.py), so this view does not use Plotly at all: it is live, hover and
// clicks included, from the first frame.

import { colorOf } from "./colors.js";
import { bezierAt, edgeKey, nodeKey } from "./network_geom.js";

const NS = "http://www.w3.org/2000/svg";
const HIT_WIDTH = 9; // px: how near an edge's line the pointer finds it
const f1 = (v) => (Math.round(v * 10) / 10).toString();

function el(tag, attrs = {}, parent = null) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (parent) parent.append(e);
  return e;
}

/** Set an attribute only when it changes (most frames change few widths / colours). */
function put(e, k, v) {
  const key = `_${k}`;
  if (e[key] !== v) {
    e[key] = v;
    e.setAttribute(k, v);
  }
}

function pathOf(p) {
  return `M${f1(p[0])} ${f1(p[1])}C${f1(p[2])} ${f1(p[3])} ${f1(p[4])} ${f1(p[5])} ${f1(p[6])} ${f1(p[7])}`;
}

function isFaded(hl, key) {
  return !!(hl && hl.nodes && !hl.nodes.has(key) && !(hl.context && hl.context.has(key)));
}

export class LiveLayer {
  constructor(svg) {
    this.svg = svg;
    this.geom = null;
    // The network is one Tab stop: the neuron last focused (the first input at first) has
    // tabindex 0, every other -1; the arrow keys move between neurons (roveFrom).
    this.roving = nodeKey(1, 0);
  }

  /** Create the elements for a geometry (once per network shape / size). */
  build(geom, inputLabels) {
    this.geom = geom;
    const svg = this.svg;
    svg.replaceChildren();
    svg.setAttribute("width", geom.W);
    svg.setAttribute("height", geom.H);
    svg.setAttribute("viewBox", `0 0 ${geom.W} ${geom.H}`);
    const thumbsG = el("g", {}, svg);
    this.thumbs = geom.nodes.map((col, li) =>
      col.map((n, j) => {
        const g = el("g", n.t ? {} : { display: "none" }, thumbsG); // t = 0: no thumbnail (network_geom.js)
        const box = { x: f1(n.tx), y: f1(n.ty), width: f1(n.t), height: f1(n.t) };
        const img = el("image", { ...box, preserveAspectRatio: "none", display: "none" }, g);
        const frame = el("rect", { ...box, fill: "#f4f4f4", stroke: "#c8c8c8", "stroke-width": "0.8" }, g);
        return { g, img, frame, key: nodeKey(li + 1, j), href: null };
      }),
    );
    this.back = el("g", {}, svg);
    this.front = el("g", {}, svg);
    this.edges = geom.edges.map((e) => {
      const g = el("g", {}, this.back);
      const d = pathOf(e.p);
      const under = el("path", { d, fill: "none", stroke: "#1b1b1b", display: "none" }, g);
      const line = el("path", { d, fill: "none", "data-edge": edgeKey(e.l, e.j, e.k) }, g);
      return { e, g, under, line, key: edgeKey(e.l, e.j, e.k), emph: false };
    });
    // What the pointer finds: an edge near its line, a neuron on its disc or thumbnail.
    const hits = el("g", { fill: "none", stroke: "transparent" }, svg);
    // A dense layer's edges lie a pixel or two apart: a narrower band finds the nearest one.
    for (const e of geom.edges) el("path", { d: pathOf(e.p), "stroke-width": geom.dense ? Math.min(HIT_WIDTH, 1 + geom.edgeWidth[e.l]) : HIT_WIDTH, "pointer-events": "stroke", "data-hit": edgeKey(e.l, e.j, e.k) }, hits);
    geom.nodes.forEach((col, li) =>
      col.forEach((n, j) => {
        // A neuron without a thumbnail is found on its whole slot (a 3 px disc is hard to hit).
        const box = n.t ? { x: n.tx, y: n.ty, width: n.t, height: n.t } : { x: n.x - n.d / 2 - 1, y: n.y - n.slot / 2, width: n.d + 2, height: n.slot };
        el("rect", { x: f1(box.x), y: f1(box.y), width: f1(box.width), height: f1(box.height), "pointer-events": "all", "data-hit": nodeKey(li + 1, j) }, hits);
      }),
    );
    const nodesG = el("g", {}, svg);
    this.nodes = geom.nodes.flatMap((col, li) =>
      col.map((n, j) => {
        const g = el("g", {}, nodesG);
        // A neuron is a button for the keyboard too (network_plot.js: Enter or Space selects it).
        const c = el("circle", { cx: f1(n.x), cy: f1(n.y), r: f1(n.d / 2), "data-node": nodeKey(li + 1, j), "data-hit": nodeKey(li + 1, j), "pointer-events": "all", tabindex: nodeKey(li + 1, j) === this.roving ? "0" : "-1", role: "button", "aria-label": `neuron ${j + 1} of layer ${li + 1}` }, g);
        if (li === 0 && inputLabels?.[j] && n.slot >= 11) {
          const t = el("text", { x: f1(n.tx - 4), y: f1(n.y + 3.5), "font-size": 10.5, "text-anchor": "end", fill: "#222" }, g);
          t.textContent = inputLabels[j]; // textContent: never markup
        }
        return { l: li + 1, j, g, c, key: nodeKey(li + 1, j), thin: n.d < 8 };
      }),
    );
    if (!this.nodes.some((n) => n.key === this.roving)) this.rove(this.nodes[0].key);
    this.labels = el("g", { "font-size": 11, "font-weight": 600, fill: "#111", stroke: "#fff", "stroke-width": 3.2, "paint-order": "stroke" }, svg);
    this.labelKey = null;
  }

  /** The neuron ``key`` is the network's Tab stop (a neuron focused by any means becomes it). */
  rove(key) {
    for (const n of this.nodes) n.c.setAttribute("tabindex", n.key === key ? "0" : "-1");
    this.roving = key;
  }

  /**
   * The neuron an arrow key moves to from neuron (l, j), or null at an edge of the network:
   * ArrowUp / ArrowDown the one above / below in the layer, ArrowLeft / ArrowRight the one at
   * the same height in the layer before / after, Home / End the layer's first / last.
   */
  roveFrom(l, j, key) {
    const count = (layer) => this.geom.nodes[layer - 1]?.length ?? 0; // the geometry's columns
    const n = count(l);
    let to = null;
    if (key === "ArrowUp" && j > 0) to = [l, j - 1];
    else if (key === "ArrowDown" && j < n - 1) to = [l, j + 1];
    else if (key === "Home") to = [l, 0];
    else if (key === "End") to = [l, n - 1];
    else if (key === "ArrowLeft" || key === "ArrowRight") {
      const l2 = key === "ArrowLeft" ? l - 1 : l + 1;
      const n2 = count(l2);
      if (n2) to = [l2, n > 1 ? Math.round((j * (n2 - 1)) / (n - 1)) : Math.floor((n2 - 1) / 2)];
    }
    const toKey = to && nodeKey(to[0], to[1]);
    return to && this.nodes.find((x) => x.key === toKey);
  }

  /**
   * opts: {edgeValues: [matrix per layer l=2..L], nodeValues: [vector|null per layer l=1..L],
   * scales: {edge, node, input|null} (colors.js StableScale: value → position t on the ramp),
   * highlight: {edges, nodes, context, pending: Set, labels, flow?: "forward"|"backward"}|null, selection}
   */
  update(opts) {
    const hl = opts.highlight;
    const sel = opts.selection;
    const selKey = sel && sel.type === "edge" ? edgeKey(sel.l, sel.j, sel.k) : null;
    for (const x of this.edges) {
      const { e } = x;
      const v = opts.edgeValues[e.l - 2][e.j][e.k];
      const t = Math.max(-1, Math.min(1, opts.scales.edge.t(v)));
      // A dense layer (network_geom.js): hairlines up to the width its spacing allows.
      const width = this.geom.dense ? 0.15 + (this.geom.edgeWidth[e.l] - 0.15) * Math.abs(t) : Math.min(7, 0.6 + 5.4 * Math.abs(t));
      const emph = x.key === selKey || !!(hl && hl.edges && hl.edges.has(x.key));
      const faded = !!(hl && hl.edges && !emph);
      put(x.line, "stroke", colorOf(t));
      put(x.line, "stroke-width", f1(width));
      put(x.line, "opacity", faded ? "0.13" : "1");
      // A guide's lit wires may flow (app.css): "forward" (a^{l−1} → layer l) or "backward".
      put(x.line, "data-flow", hl?.flow && hl.edges?.has(x.key) ? hl.flow : "none");
      if (emph !== x.emph) {
        x.emph = emph;
        (emph ? this.front : this.back).append(x.g);
        // The dark outline of a lit edge; in a dense layer a guide lights hundreds of hairlines,
        // whose outlines would merge into one black band: there the others fade instead.
        put(x.under, "display", emph && !(this.geom.dense && x.key !== selKey) ? "inline" : "none");
      }
      if (emph) put(x.under, "stroke-width", f1(width + 3));
    }
    for (const n of this.nodes) {
      const values = opts.nodeValues[n.l - 1];
      const pending = !!(hl && hl.pending && hl.pending.has(n.key));
      const ring = (sel && sel.type === "neuron" && sel.l === n.l && sel.j === n.j) || !!(hl && hl.nodes && hl.nodes.has(n.key));
      const scale = n.l === 1 && opts.scales.input ? opts.scales.input : opts.scales.node;
      put(n.c, "fill", values && !pending ? colorOf(scale.t(values[n.j])) : "#ffffff");
      put(n.c, "stroke", ring ? "#111" : "#6b6b6b");
      put(n.c, "stroke-width", ring ? (n.thin ? "1.6" : "2.6") : n.thin ? "0.5" : "1");
      put(n.c, "stroke-dasharray", pending ? "3 2" : "none");
      put(n.g, "opacity", isFaded(hl, n.key) ? "0.3" : "1");
    }
    this.drawLabels(hl?.labels ?? []);
  }

  /**
   * The thumbnails: thumbs[li][j] is an image URL or null (a grey square); a neuron the
   * highlight leaves out is faded with its disc.
   */
  setThumbs(thumbs, hl) {
    for (const col of this.thumbs) {
      for (const t of col) {
        const [l, j] = t.key.split(",").map(Number);
        const href = thumbs?.[l - 1]?.[j] ?? null;
        if (href !== t.href) {
          t.href = href;
          if (href) t.img.setAttribute("href", href);
          put(t.img, "display", href ? "inline" : "none");
          put(t.frame, "fill", href ? "none" : "#f4f4f4");
          put(t.frame, "stroke", href ? "#9a9a9a" : "#c8c8c8");
        }
        put(t.g, "opacity", isFaded(hl, t.key) ? "0.3" : "1");
      }
    }
  }

  /** Numbers the walkthrough / step-through point at (plain text via textContent), clear of
   * the boxes this.avoid() returns (set by the owner: the layer controls above the picture). */
  drawLabels(labels) {
    const key = JSON.stringify(labels);
    if (key === this.labelKey) return;
    this.labelKey = key;
    this.labels.replaceChildren();
    const avoid = labels.length ? (this.avoid?.() ?? []) : [];
    const placed = []; // the boxes of the labels drawn: one that would overlap them is left out
    for (const lab of labels) {
      let x;
      let y;
      let anchor = "middle";
      if (lab.edge) {
        const e = this.geom.edges.find((q) => q.l === lab.edge[0] && q.j === lab.edge[1] && q.k === lab.edge[2]);
        if (!e) continue;
        [x, y] = bezierAt(e.p, lab.t ?? 0.5);
        y -= 4;
      } else if (lab.node) {
        const n = this.geom.nodes[lab.node[0] - 1]?.[lab.node[1]];
        if (!n) continue;
        // Right of the disc, except in the output layer: there the text ends at the disc's
        // right edge (above it), so that it is never cut by the panel's edge.
        const last = lab.node[0] === this.geom.nodes.length;
        x = last ? n.x + n.d / 2 : n.x + n.d / 2 + 4;
        y = n.y - n.d / 2 - 2;
        anchor = last ? "end" : "start";
      } else continue;
      const t = el("text", { x: f1(x), y: f1(y), "text-anchor": anchor }, this.labels);
      t.textContent = lab.text;
      // The layers' names and their − n + controls sit just above the picture (a dense
      // layer's first neuron is under its control): a label that would cover one is moved
      // down, clear of it, beside its own neuron.
      if (avoid.length) y = this.clear(t, y, avoid);
      // A dense layer's neurons are closer than a line of text: there a label that would
      // lie on one already drawn is left out (~6.3 px a character at 11 px, 12 px high).
      if (this.geom.dense) {
        const w = 6.3 * String(lab.text).length;
        const x0 = anchor === "end" ? x - w : anchor === "middle" ? x - w / 2 : x;
        const box = [x0 - 1, y - 10, x0 + w + 1, y + 3];
        if (placed.some((q) => box[0] < q[2] && q[0] < box[2] && box[1] < q[3] && q[1] < box[3])) {
          t.remove();
          continue;
        }
        placed.push(box);
      }
    }
  }

  /** Move text t (baseline y) down until its box overlaps none of the boxes in avoid
   * ({left, top, right, bottom} in the picture's pixels); returns its new baseline. */
  clear(t, y, avoid) {
    for (let i = 0; i < avoid.length; i++) {
      const b = t.getBBox();
      const hit = avoid.find((a) => b.x < a.right && a.left < b.x + b.width && b.y < a.bottom && a.top < b.y + b.height);
      if (!hit) break;
      y += hit.bottom + 1 - b.y;
      t.setAttribute("y", f1(y));
    }
    return y;
  }
}

/** The neuron or edge an element of the layer stands for ({type, l, j[, k]}), or null. */
export function hitOf(target) {
  const key = target?.closest?.("[data-hit]")?.dataset.hit;
  if (!key) return null;
  const [l, j, k] = key.split(",").map(Number);
  return k === undefined ? { type: "neuron", l, j } : { type: "edge", l, j, k };
}
