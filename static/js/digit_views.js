// The book's digits (issue 13, item 6): the views that suit an image's pixels as inputs, in
// the place of the output over the input plane (which 64 inputs do not have).
// - the probe digit: a¹ drawn as the 8×8 image it is (greyscale, white 0 → black 1);
// - what the error says about each pixel: (w²)ᵀδ², the probe's error carried back through w²
//   to the input layer (= ∂C_x/∂a¹), as an 8×8 image on a diverging scale;
// - the probe's output activations a^L as bars, the predicted class (largest a^L) and the
//   true one, and the test accuracy;
// - every hidden neuron's incoming weights w²_j· as an 8×8 image (one shared scale, stated);
// - a strip of training digits around the probe (click one, or ◀ ▶) to pick another probe.
// Every pixel's number is shown on hover (one readout line); a weight pixel's click selects
// its edge (2, j, k), which the explain panel then writes out. Draws from (frame, store) only.

import { StableScale, renderColorbar, rgbOf } from "./colors.js";
import { colorbarSpec } from "./figure_export.js";
import { rebuiltBetween } from "./quantities.js";
import { $, fmt, html, maxAbs, setHTML, sub, sup } from "./util.js";

/** [rows, columns] when the run's data set is an image of the frame's input size, else null
 * (GET /api/options: a data set's `image`). */
export function imageShape(store, frame = store.frame) {
  const d = store.options?.datasets?.find((x) => x.name === store.settings.dataset);
  const img = d?.image;
  if (!img || !frame || img[0] * img[1] !== frame.sizes[0]) return null;
  return img;
}

/** Index of the largest value (the first of equals): the class a^L predicts. */
export function argmax(v) {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
  return best;
}

/** The class a one-hot target y stands for (its largest entry). */
export const classOf = (y) => argmax(y);

/** Ink for a pixel value in [0, 1]: white paper (0) to black ink (1), clamped. */
export function inkOf(v) {
  const g = Math.round(255 * (1 - Math.max(0, Math.min(1, v))));
  return [g, g, g];
}

/** What the data set picker calls a data set: "Digits (8×8, 10 classes)" for an image set. */
export function datasetLabel(d) {
  if (!d.image) return d.name;
  return `${d.name[0].toUpperCase()}${d.name.slice(1)} (${d.image[0]}×${d.image[1]}, ${d.n_classes} classes)`;
}

// The picker's icon: a "3" of the set itself (its fourth line, pixel counts 0-16).
const ICON_3 = "0,0,7,15,13,1,0,0,0,8,13,6,15,4,0,0,0,2,1,13,13,0,0,0,0,0,2,15,11,1,0,0,0,0,0,1,12,12,1,0,0,0,0,0,1,10,8,0,0,0,8,4,5,14,9,0,0,0,7,13,13,9,0,0";

/** Draw the digits' icon on the picker's canvas. */
export function drawDigitIcon(canvas) {
  const small = document.createElement("canvas");
  paint(small, ICON_3.split(",").map((c) => Number(c) / 16), [8, 8], inkOf);
  const ctx = canvas.getContext("2d");
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(small, 0, 0, canvas.width, canvas.height);
}

/** Paint values (row-major rows × cols) into an rows × cols canvas, one pixel each. */
function paint(canvas, values, [rows, cols], colour) {
  if (canvas.width !== cols) canvas.width = cols;
  if (canvas.height !== rows) canvas.height = rows;
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(cols, rows);
  for (let i = 0; i < rows * cols; i++) {
    const [r, g, b] = colour(values[i]);
    img.data.set([r, g, b, 255], 4 * i);
  }
  ctx.putImageData(img, 0, 0);
}

/** The colours painted into an image canvas ([r, g, b] per pixel, row-major), read back
 * from it (opaque pixels read back as they were put), for the downloads. */
function paintedRgb(canvas) {
  const d = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  return Array.from({ length: canvas.width * canvas.height }, (_, i) => [d[4 * i], d[4 * i + 1], d[4 * i + 2]]);
}

/** The pixel (row, column, index) under a pointer event on an image canvas, or null. */
function pixelAt(ev, [rows, cols]) {
  const r = ev.target.getBoundingClientRect();
  const c = Math.floor(((ev.clientX - r.left) / r.width) * cols);
  const q = Math.floor(((ev.clientY - r.top) / r.height) * rows);
  if (c < 0 || c >= cols || q < 0 || q >= rows) return null;
  return { row: q, col: c, k: q * cols + c };
}

const COLORBAR = html`<div class="cb-title"></div><div class="cb-ramp"></div><div class="cb-ticks"><span></span><span></span><span></span><span></span><span></span></div>`;
const STRIP = 11; // training digits in the strip

/** The digits' views in `root` (the output panel's place); onProbe(i), onSelect(selection). */
export class DigitsPanel {
  constructor(root, { onProbe, onSelect }) {
    this.root = root;
    this.onProbe = onProbe;
    this.onSelect = onSelect;
    this.shape = null;
    this.hovered = null; // the readout's source: {what, j?, k}
    this.neuron = null; // the hidden neuron the network view's pointer is on (its image is outlined)
    this.scales = { w: new StableScale(), back: new StableScale() };
    setHTML(
      root,
      html`<div class="dg-top">
          <figure class="dg-fig" data-dg="input">
            <figcaption>Probe digit: <b class="dg-probe"></b></figcaption>
            <canvas class="dg-img" data-img="input" width="8" height="8" aria-label="the probe's input a¹ as an image"></canvas>
            <div class="dg-grey small dim"><span>0</span><span class="dg-grey-ramp"></span><span>1</span></div>
          </figure>
          <figure class="dg-fig" data-dg="back">
            <figcaption title="(w²)ᵀδ²: the probe's error δ² carried back through the weights w² to the input layer. It is ∂C/∂a¹: how the probe's cost changes per unit of each pixel (blue: more ink raises the cost, orange: more ink lowers it)">What the error says about each pixel: (w²)ᵀδ²</figcaption>
            <canvas class="dg-img" data-img="back" width="8" height="8" aria-label="(w²)ᵀδ² as an image"></canvas>
            <div class="colorbar dg-cb" data-colorbar="back">${COLORBAR}</div>
          </figure>
          <div class="dg-out" data-dg="output">
            <div class="dg-out-title"></div>
            <div class="dg-bars"></div>
            <div class="dg-verdict small"></div>
            <p class="dg-acc small"></p>
          </div>
        </div>
        <div class="dg-readout small" aria-live="polite"></div>
        <div class="dg-weights">
          <div class="dg-whead"><div class="dg-wtitle small" title="Row j of w²: the 64 weights into hidden neuron j, one per pixel, drawn where the pixel is. Click a pixel to see its edge's terms in the explain panel.">Weights into each hidden neuron j: w²<sub>j·</sub> as an 8×8 image (click a pixel: its edge)</div>
          <div class="colorbar dg-cb" data-colorbar="w2">${COLORBAR}</div></div>
          <div class="dg-wgrid"></div>
        </div>
        <div class="dg-strip-row">
          <button class="mini dg-prev" title="The previous training digit as the probe" aria-label="previous probe digit">◀</button>
          <div class="dg-strip"></div>
          <button class="mini dg-next" title="The next training digit as the probe" aria-label="next probe digit">▶</button>
        </div>`,
    );
    this.input = $("[data-img=input]", root);
    this.back = $("[data-img=back]", root);
    this.readout = $(".dg-readout", root);
    this.wgrid = $(".dg-wgrid", root);
    this.strip = $(".dg-strip", root);
    $(".dg-prev", root).addEventListener("click", () => this.moveProbe(-1));
    $(".dg-next", root).addEventListener("click", () => this.moveProbe(+1));
    this.strip.addEventListener("click", (ev) => {
      const c = ev.target.closest("[data-train]");
      if (c) this.onProbe(Number(c.dataset.train));
    });
    root.addEventListener("pointermove", (ev) => this.point(ev));
    root.addEventListener("pointerleave", () => this.point(null));
    this.wgrid.addEventListener("click", (ev) => {
      const c = ev.target.closest("canvas[data-j]");
      const px = c && this.shape && pixelAt(ev, this.shape);
      if (px) this.onSelect({ type: "edge", l: 2, j: Number(c.dataset.j), k: px.k });
    });
  }

  moveProbe(d) {
    const n = this.store?.data?.train?.labels?.length ?? 0;
    if (!n || !this.frame) return;
    this.onProbe((this.frame.probe.index + d + n) % n);
  }

  /** The pointer on an image: its pixel's number in the readout line. */
  point(ev) {
    const c = ev?.target?.closest?.("canvas.dg-img");
    const px = c && this.shape && pixelAt(ev, this.shape);
    this.hovered = px ? { what: c.dataset.img, j: c.dataset.j === undefined ? null : Number(c.dataset.j), ...px } : null;
    this.showReadout();
  }

  showReadout() {
    const h = this.hovered;
    const f = this.frame;
    if (!h || !f) {
      this.readout.textContent = "Point at a pixel for its number.";
      return;
    }
    const at = `pixel (row ${h.row + 1}, column ${h.col + 1}), k = ${h.k + 1}`;
    let text;
    if (h.what === "input") text = `${at}: a¹${sub(h.k + 1)} = ${fmt(f.input.a[h.k])}`;
    else if (h.what === "back") text = `${at}: ((w²)ᵀδ²)${sub(h.k + 1)} = Σⱼ w²ⱼ${sub(h.k + 1)} δ²ⱼ = ${fmt(this.backValues[h.k])}`;
    else text = `hidden neuron j = ${h.j + 1}, ${at}: w²${sub(h.j + 1)}${sub(h.k + 1)} = ${fmt(f.layers[0].w[h.j][h.k])}`;
    this.readout.textContent = text;
  }

  /** The network view's pointer is on neuron (l, j) (or on nothing): outline its weight image. */
  hoverNeuron(h) {
    this.neuron = h && h.type === "neuron" && h.l === 2 ? h.j : null;
    for (const c of this.wgrid.children) c.classList.toggle("lit", Number(c.dataset.j) === this.neuron);
  }

  /** Draw the frame; shape: the image's [rows, columns]. */
  update(frame, store, shape) {
    // a rebuilt run (other hidden width, another seed, …) starts its colour ranges again
    if (rebuiltBetween(this.frame, frame)) for (const scale of Object.values(this.scales)) scale.reset();
    this.frame = frame;
    this.store = store;
    this.shape = shape;
    const L2 = frame.layers[0];
    paint(this.input, frame.input.a, shape, inkOf);
    const labels = store.data?.train?.labels;
    const y = frame.probe.y;
    const truth = y.length > 1 ? classOf(y) : labels?.[frame.probe.index];
    $(".dg-probe", this.root).textContent = `training digit #${frame.probe.index}, a “${truth}”`;
    // (w²)ᵀδ²: the frame's, summed before rounding (the sum of the 4-digit products was off
    // by up to a few percent where the 30 terms cancel).
    this.backValues = frame.input.backward;
    const bs = this.scales.back.update("back|linear", maxAbs(this.backValues), frame.step, frame.status !== "running");
    paint(this.back, this.backValues, shape, (v) => rgbOf(bs.t(v)));
    renderColorbar($("[data-colorbar=back]", this.root), bs, "∂C/∂a¹ (probe)");
    this.drawOutputs(frame, truth);
    this.drawWeights(frame, L2.w, shape);
    this.drawStrip(frame, store, shape);
    const t = frame.test?.accuracy;
    const tr = frame.train?.accuracy;
    const nTest = store.data?.test?.labels?.length;
    $(".dg-acc", this.root).textContent =
      t === null || t === undefined ? "" : `Test accuracy ${(100 * t).toFixed(1)} %${nTest ? ` on ${nTest} held-out digits` : ""}; training ${(100 * tr).toFixed(1)} % (at step ${frame.metrics_step.toLocaleString("en-US")})`;
    this.showReadout();
  }

  /**
   * What the panel shows now, as plain data for a download (figure_export.js digitsSVG): the
   * image shape, each image's painted colours, the titles, the colour bars (title and the
   * ticks shown), the output bars (label, value as shown, bar length 0-1, predicted, true)
   * and the verdict and accuracy lines. The training-digit strip is a picker, left out.
   */
  figure() {
    if (!this.frame || !this.shape) throw new Error("the digits are not drawn yet"); // update() paints as it sets frame
    const text = (sel) => $(sel, this.root).textContent.trim();
    const verdict = $(".dg-verdict", this.root);
    return {
      shape: this.shape,
      input: { title: text("[data-dg=input] figcaption"), rgb: paintedRgb(this.input) },
      back: { title: text("[data-dg=back] figcaption"), rgb: paintedRgb(this.back), bar: colorbarSpec($("[data-colorbar=back]", this.root)) },
      output: {
        title: text(".dg-out-title"),
        bars: [...$(".dg-bars", this.root).children].map((row) => ({
          label: row.querySelector(".dg-cls").textContent,
          value: row.querySelector(".dg-val").textContent,
          frac: (parseFloat(row.querySelector(".dg-fill").style.width) || 0) / 100,
          pred: row.classList.contains("pred"),
          truth: row.classList.contains("truth"),
        })),
        verdict: verdict.textContent,
        right: verdict.dataset.right === "true",
        accuracy: text(".dg-acc"),
      },
      // The page's title less its "click a pixel" (a file has nothing to click), w²ⱼ· as text.
      weights: { title: `Weights into each hidden neuron j: w²ⱼ· as an ${this.shape[0]}×${this.shape[1]} image`, bar: colorbarSpec($("[data-colorbar=w2]", this.root)), images: [...this.wgrid.children].map(paintedRgb) },
    };
  }

  drawOutputs(frame, truth) {
    const L = frame.sizes.length;
    const aL = frame.layers[frame.layers.length - 1].a;
    const pred = argmax(aL);
    const top = Math.max(1, maxAbs(aL)); // softmax and sigmoid: 0..1
    const act = frame.activations[L - 2];
    $(".dg-out-title", this.root).textContent = `Output a${sup(L)} (${act}), one per class`;
    const bars = $(".dg-bars", this.root);
    const key = aL.length;
    if (bars._n !== key) {
      bars._n = key;
      // data-half: which column the bar is in where the panel has room for two (app.css)
      const half = Math.ceil(key / 2);
      setHTML(bars, html`${aL.map((_, j) => html`<div class="dg-bar" data-class="${j}" data-half="${j < half ? 1 : 2}"><span class="dg-cls">${j}</span><span class="dg-track"><span class="dg-fill"></span></span><span class="dg-val"></span></div>`)}`);
    }
    [...bars.children].forEach((row, j) => {
      const v = aL[j];
      row.querySelector(".dg-fill").style.width = `${(100 * Math.max(0, v)) / top}%`;
      row.querySelector(".dg-val").textContent = fmt(v, 3);
      row.classList.toggle("pred", j === pred);
      row.classList.toggle("truth", j === truth);
      row.title = `a${sup(L)}${sub(j + 1)} = ${fmt(v)} (class ${j})${j === pred ? ": predicted" : ""}${j === truth ? ": the true class" : ""}`;
    });
    const v = $(".dg-verdict", this.root);
    v.textContent = `Predicted ${pred}, true ${truth}: ${pred === truth ? "right" : "wrong"}`;
    v.dataset.right = String(pred === truth);
  }

  drawWeights(frame, w, shape) {
    const n = w.length;
    if (this.wgrid.children.length !== n) {
      setHTML(this.wgrid, html`${w.map((_, j) => html`<canvas class="dg-img" data-img="w" data-j="${j}" width="8" height="8" title="hidden neuron ${j + 1}: w²${sub(j + 1)}·"></canvas>`)}`);
      this.hoverNeuron(this.neuron === null ? null : { type: "neuron", l: 2, j: this.neuron });
    }
    const ws = this.scales.w.update("w2|linear", maxAbs(w), frame.step, frame.status !== "running");
    const colour = (v) => rgbOf(ws.t(v));
    [...this.wgrid.children].forEach((c, j) => paint(c, w[j], shape, colour));
    renderColorbar($("[data-colorbar=w2]", this.root), ws, `w² (all ${n} images)`);
  }

  drawStrip(frame, store, shape) {
    const train = store.data?.train;
    if (!train || train.points[0]?.length !== shape[0] * shape[1]) return; // the data of another run
    const n = train.labels.length;
    const p = frame.probe.index;
    const first = Math.max(0, Math.min(n - STRIP, p - Math.floor(STRIP / 2)));
    const ids = Array.from({ length: Math.min(STRIP, n) }, (_, i) => first + i);
    const key = `${store.data.__rev}|${first}`;
    if (this.stripKey !== key) {
      this.stripKey = key;
      setHTML(this.strip, html`${ids.map((i) => html`<button class="dg-thumb" data-train="${i}" title="training digit #${i}, a “${train.labels[i]}”: make it the probe" aria-label="training digit ${i}"><canvas width="8" height="8"></canvas></button>`)}`);
      [...this.strip.children].forEach((b, i) => paint($("canvas", b), train.points[ids[i]], shape, inkOf));
    }
    for (const b of this.strip.children) b.classList.toggle("selected", Number(b.dataset.train) === p);
  }
}
