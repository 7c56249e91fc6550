// Downloads for a report: the current frame's tensors (JSON, and one long CSV table of every
// number: README, "Downloads") and the figures (figure_export.js), from a small menu under
// the loss. Numbers are written as the frame has them (rounded to 4 significant digits by the
// server, docs/frames.md), in full: the shortest text that reads back as the same double, as
// the frame's own JSON does (no further rounding here).

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
 * The frame's tensors as one JSON-able object: the probe (its index, x, y, C_x), the batch's
 * cost, and per layer l = 2..L the probe's z, a, δ and σ′(z), the batch means of the same
 * (`mean`), the weights, biases and the batch's gradients, the edges' terms (`edges`: w·a,
 * w·δ, a·δ of the probe and the batch mean), and backprop's δ and gradients beside a
 * feedback rule's (`true_*`, when the frame has them); a¹ = x is the input layer. Values are
 * the frame's own.
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
    batch_cost: frame.batch_cost,
    input: { l: 1, a: frame.input.a, mean_a: frame.input.mean_a },
    layers: frame.layers.map((L) => ({
      l: L.l,
      activation: L.activation,
      z: L.z,
      a: L.a,
      delta: L.delta,
      sigma_prime: L.sigma_prime,
      mean: L.mean,
      w: L.w,
      b: L.b,
      grad_w: L.grad_w,
      grad_b: L.grad_b,
      edges: L.edges,
      ...(L.true_delta ? { true_delta: L.true_delta, true_grad_w: L.true_grad_w, true_grad_b: L.true_grad_b } : {}),
    })),
  };
}

/** A CSV field: a number as JavaScript writes it (the shortest text that reads back as the
 * same double, −0 as "-0"), empty for none. */
export const cell = (v) => (v === null || v === undefined ? "" : Object.is(v, -0) ? "-0" : String(v));

/** The CSV's columns (README, "Downloads"). */
export const CSV_COLUMNS = ["quantity", "over", "layer", "j", "k", "value"];

/**
 * Every tensor of the frame as one long ("tidy") CSV table, one number a row:
 * quantity,over,layer,j,k,value. quantity is Nielsen's name (z, a, delta, sigma_prime, w, b,
 * dC/dw, dC/db, y, C, the edges' terms w*a, w*delta, a*delta, and backprop's true_delta,
 * true_dC/dw, true_dC/db beside a feedback rule); over says which examples it is of ("probe":
 * the probe example x; "batch mean": the mean over the next step's minibatch; empty for the
 * weights and biases themselves); layer l = 1..L; j = 1..n_l the neuron of layer l; k =
 * 1..n_{l-1} the neuron of layer l−1 a weight comes from (empty for a per-neuron quantity).
 * Values are the frame's own numbers, written in full (cell).
 */
export function tensorsCSV(frame) {
  const rows = [CSV_COLUMNS.join(",")];
  const L = frame.sizes.length;
  const vector = (q, over, l, v) => v?.forEach((x, j) => rows.push(`${q},${over},${l},${j + 1},,${cell(x)}`));
  const matrix = (q, over, l, m) => m?.forEach((row, j) => row.forEach((x, k) => rows.push(`${q},${over},${l},${j + 1},${k + 1},${cell(x)}`)));
  vector("a", "probe", 1, frame.input.a);
  vector("a", "batch mean", 1, frame.input.mean_a);
  for (const ly of frame.layers) {
    const l = ly.l;
    for (const q of ["z", "a", "delta", "sigma_prime"]) vector(q, "probe", l, ly[q]);
    for (const q of ["z", "a", "delta", "sigma_prime"]) vector(q, "batch mean", l, ly.mean?.[q]);
    matrix("w", "", l, ly.w);
    vector("b", "", l, ly.b);
    matrix("dC/dw", "batch mean", l, ly.grad_w);
    vector("dC/db", "batch mean", l, ly.grad_b);
    for (const over of ["probe", "mean"]) {
      const e = ly.edges?.[over];
      const name = over === "mean" ? "batch mean" : over;
      matrix("w*a", name, l, e?.forward);
      matrix("w*delta", name, l, e?.backward);
      matrix("a*delta", name, l, e?.gradient);
    }
    vector("true_delta", "probe", l, ly.true_delta);
    matrix("true_dC/dw", "batch mean", l, ly.true_grad_w);
    vector("true_dC/db", "batch mean", l, ly.true_grad_b);
  }
  vector("y", "probe", L, frame.probe.y);
  rows.push(`C,probe,,,,${cell(frame.probe.cost)}`);
  if (frame.batch_cost !== undefined) rows.push(`C,batch mean,,,,${cell(frame.batch_cost)}`);
  return `${rows.join("\n")}\n`;
}

/** The downloads menu: figure(which, format) and the tensors of the frame on screen. */
export class Downloads {
  /** getFrame(): the frame on screen; figures: {network, output, loss}, each a figure source
   * (figure_export.js figureFile) or a function answering {name, ...source} for what is on
   * screen now (the Output panel: the plane's plot or the digits' images). */
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
        ev.preventDefault(); // this Escape closed the menu, nothing else (an open guide stays)
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
      else if (what === "tensors" && format === "csv") saveFile(new Blob([tensorsCSV(f)], { type: "text/csv" }), `${base}-tensors.csv`);
      else {
        // A figure, or a function of what is on screen ({name, ...figure}: the Output panel's).
        const fig = typeof this.figures[what] === "function" ? this.figures[what]() : { name: what, ...this.figures[what] };
        saveFile(await figureFile(fig, format), `${base}-${fig.name}.${format}`);
      }
      this.root.open = false;
    } catch (err) {
      this.onError(`Could not make the ${what} ${format.toUpperCase()}: ${err.message ?? err}`);
    }
  }
}
