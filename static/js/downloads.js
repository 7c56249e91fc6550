// Downloads for a report: the current frame's tensors (JSON, and one CSV of the probe's z, a
// and δ per neuron) and the figures (figure_export.js), from a small menu under the loss.
// Numbers are written as the frame has them (4 significant digits, docs/frames.md): the
// shortest text that reads back as the same number, as the frame's own JSON.

import { figureFile } from "./figure_export.js";
import { $ } from "./util.js";

/** Hand a Blob to the browser as a download named `name`. */
export function saveFile(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/**
 * The frame's tensors as one JSON-able object: the probe (its index, x, y, C_x) and per layer
 * l = 2..L the probe's z, a, δ and σ′(z), the weights, biases and the batch's gradients;
 * a¹ = x is the input layer. Values are the frame's own.
 */
export function frameTensors(frame) {
  return {
    format: "backprop-viz frame tensors",
    notation: "Nielsen: layer l = 1..L, w[j][k] = w^l_jk from neuron k of layer l-1 to neuron j of layer l (0-based j, k here)",
    run_id: frame.run_id,
    step: frame.step,
    epoch: frame.epoch,
    sizes: frame.sizes,
    activations: frame.activations,
    cost: frame.cost_name,
    probe: { index: frame.probe.index, x: frame.probe.x, y: frame.probe.y, cost: frame.probe.cost },
    input: { l: 1, a: frame.input.a },
    layers: frame.layers.map((L) => ({
      l: L.l,
      activation: L.activation,
      z: L.z,
      a: L.a,
      delta: L.delta,
      sigma_prime: L.sigma_prime,
      w: L.w,
      b: L.b,
      grad_w: L.grad_w,
      grad_b: L.grad_b,
    })),
  };
}

/** A CSV field: numbers as JavaScript writes them (shortest round trip), empty for none. */
const cell = (v) => (v === null || v === undefined ? "" : String(v));

/**
 * The probe's z, a and δ of every neuron as CSV: layer,neuron,z,a,delta (layer l = 1..L,
 * neuron j = 1..n_l as on the page); the input layer has a¹ = x and no z or δ.
 */
export function tensorsCSV(frame) {
  const rows = ["layer,neuron,z,a,delta"];
  frame.input.a.forEach((a, j) => rows.push(`1,${j + 1},,${cell(a)},`));
  for (const L of frame.layers) {
    L.a.forEach((a, j) => rows.push(`${L.l},${j + 1},${cell(L.z[j])},${cell(a)},${cell(L.delta[j])}`));
  }
  return `${rows.join("\n")}\n`;
}

/** The downloads menu: figure(which, format) and the tensors of the frame on screen. */
export class Downloads {
  /** getFrame(): the frame on screen; figures: {network, boundary, loss} (figure_export.js). */
  constructor(root, { getFrame, figures, onError }) {
    this.root = root;
    this.getFrame = getFrame;
    this.figures = figures;
    this.onError = onError;
    root.addEventListener("click", (ev) => {
      const b = ev.target.closest("button[data-download]");
      if (b) this.download(b.dataset.download, b.dataset.format);
    });
    // The menu closes on Escape and on a click elsewhere.
    document.addEventListener("click", (ev) => {
      if (root.open && !root.contains(ev.target)) root.open = false;
    });
    root.addEventListener("keydown", (ev) => {
      if (ev.key === "Escape" && root.open) {
        root.open = false;
        $("summary", root).focus();
      }
    });
  }

  async download(what, format) {
    const f = this.getFrame();
    if (!f) return;
    const base = `backprop-viz-step-${f.step}`;
    try {
      if (what === "tensors" && format === "json") saveFile(new Blob([`${JSON.stringify(frameTensors(f), null, 1)}\n`], { type: "application/json" }), `${base}-tensors.json`);
      else if (what === "tensors" && format === "csv") saveFile(new Blob([tensorsCSV(f)], { type: "text/csv" }), `${base}-probe.csv`);
      else saveFile(await figureFile(this.figures[what], format, f), `${base}-${what}.${format}`);
      this.root.open = false;
    } catch (err) {
      this.onError(`Could not make the ${what} ${format.toUpperCase()}: ${err.message ?? err}`);
    }
  }
}
