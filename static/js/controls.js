// Playground-parity controls: built from GET /api/options, kept in sync with the store, and
// hidden or locked by the hash's hide= / lock= flags (names: the data-control attributes,
// plus Playground's own names as aliases).

import { drawDatasetIcon } from "./dataset_icons.js";
import { ACT_LABEL } from "./quantities.js";
import { $, $$, esc, html, setHTML } from "./util.js";

const LEARNING_RATES = [0.00001, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10];
const LAMBDAS = [0, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10];
const MOMENTA = [0, 0.5, 0.9, 0.99];
const SPEEDS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 10000];
const KIND_LABEL = { classification: "Classification", regression: "Regression", multiclass: "Multi-class" };
const COST_LABEL = { quadratic: "quadratic ½‖y−a‖²", cross_entropy: "cross-entropy", log_likelihood: "log-likelihood" };
const INIT_LABEL = { playground: "Playground (±0.5)", xavier: "Xavier", he: "He", standard_normal: "N(0, 1)", zeros: "zeros" };

/** Playground's and short names for hide= / lock=. */
export const ALIASES = {
  lr: "learning_rate", learningRate: "learning_rate", activation: "hidden_activation",
  reg: "regulariser", regularization: "regulariser", regularizationRate: "lambda", rate: "lambda",
  problem_type: "problem", problemType: "problem", data: "dataset", percTrainData: "train_share",
  train: "train_share", batch: "batch_size", batchSize: "batch_size", seed: "regenerate",
  showTestData: "test", discretize: "discretize", layers: "layers", networkShape: "layers",
};
export const canonical = (name) => ALIASES[name] ?? name;

function options(select, items, label = (v) => String(v)) {
  setHTML(select, html`${items.map((v) => html`<option value="${v ?? ""}">${label(v)}</option>`)}`);
}

function ensureOption(select, value, label) {
  const v = String(value ?? "");
  if (![...select.options].some((o) => o.value === v)) {
    const o = document.createElement("option");
    o.value = v;
    o.textContent = label ?? v;
    select.append(o);
  }
  select.value = v;
}

export class Controls {
  constructor(actions) {
    this.actions = actions;
  }

  /** Build from options (once). */
  build(opts) {
    this.opts = opts;
    const a = this.actions;
    options($("#learning_rate"), LEARNING_RATES, (v) => String(v));
    options($("#lambda"), LAMBDAS, (v) => String(v));
    options($("#momentum"), MOMENTA, (v) => String(v));
    // The largest speed trains for the whole frame interval (the server bounds a frame's
    // training by time): "max" is as fast as this server can go while showing every frame.
    const maxSpeed = opts.limits.steps_per_frame?.[1] ?? 1000;
    options($("#speed"), [...SPEEDS.filter((v) => v < maxSpeed), maxSpeed], (v) => (v === maxSpeed ? "max" : String(v)));
    options($("#hidden_activation"), opts.activations.hidden, (v) => ACT_LABEL[v] ?? v);
    options($("#output_activation"), [null, ...opts.activations.output], (v) => (v ? ACT_LABEL[v] ?? v : "auto (by problem)"));
    options($("#cost"), [null, ...Object.keys(opts.costs)], (v) => (v ? COST_LABEL[v] ?? v : "auto (by problem)"));
    options($("#init"), opts.inits, (v) => INIT_LABEL[v] ?? v);
    options($("#regulariser"), opts.regularisers, (v) => ({ none: "None", l1: "L1", l2: "L2" })[v] ?? v);
    const kinds = [...new Set(opts.datasets.filter((d) => d.name !== "csv").map((d) => d.kind))];
    options($("#problem"), kinds, (v) => KIND_LABEL[v] ?? v);

    const num = (id, key) => $(id).addEventListener("change", (e) => a.set({ [key]: Number(e.target.value) }));
    num("#learning_rate", "learning_rate");
    num("#lambda", "lambda");
    num("#momentum", "momentum");
    $("#speed").addEventListener("change", (e) => a.speed(Number(e.target.value)));
    for (const key of ["hidden_activation", "init", "regulariser"]) $(`#${key}`).addEventListener("change", (e) => a.set({ [key]: e.target.value }));
    for (const key of ["output_activation", "cost"]) $(`#${key}`).addEventListener("change", (e) => a.set({ [key]: e.target.value || null }));
    $("#problem").addEventListener("change", (e) => {
      const first = opts.datasets.find((d) => d.kind === e.target.value);
      if (first) a.set({ dataset: first.name, output_activation: null, cost: null });
    });
    const slider = (key, scale) => {
      const el = $(`#${key}`);
      el.addEventListener("input", () => this.showSlider(key, Number(el.value) / scale));
      el.addEventListener("change", () => a.set({ [key]: Number(el.value) / scale }));
    };
    slider("train_share", 100);
    slider("noise", 100);
    slider("batch_size", 1);
    $("#regenerate").addEventListener("click", () => a.set({ seed: Math.floor(Math.random() * 2 ** 31) }));
    $("#play").addEventListener("click", () => a.togglePlay());
    $("#step").addEventListener("click", () => a.step());
    $("#reset").addEventListener("click", () => a.reset());
    $("#layer-add").addEventListener("click", () => a.layers(+1));
    $("#layer-remove").addEventListener("click", () => a.layers(-1));
    for (const key of ["color", "over", "fill", "scale"]) $(`#${key}`).addEventListener("change", (e) => a.view({ [key]: e.target.value }));
    for (const key of ["test", "discretize"]) $(`#${key}`).addEventListener("change", (e) => a.view({ [key]: e.target.checked }));
    $("#csv-file").addEventListener("change", async (e) => {
      const file = e.target.files?.[0];
      if (file) a.csv(await file.text(), file.name);
      e.target.value = "";
    });

    const box = $("#datasets");
    setHTML(box, html`${opts.datasets.filter((d) => d.name !== "csv").map(
      (d) => html`<button class="ds" data-dataset="${d.name}" data-kind="${d.kind}" title="${d.name}: ${d.description}" aria-label="${d.name}"><canvas width="44" height="44"></canvas></button>`,
    )}`);
    $$(".ds", box).forEach((b) => {
      drawDatasetIcon($("canvas", b), b.dataset.dataset, b.dataset.kind);
      b.addEventListener("click", () => a.set({ dataset: b.dataset.dataset, csv: null }));
    });
    setHTML($("#features"), html`${opts.features.map(
      (f) => html`<label class="feat"><input type="checkbox" value="${f.name}"><span>${f.label}</span></label>`,
    )}`);
    $$("#features input").forEach((cb) =>
      cb.addEventListener("change", () => {
        const chosen = $$("#features input").filter((x) => x.checked).map((x) => x.value);
        if (chosen.length === 0) {
          cb.checked = true;
          return;
        }
        a.set({ features: chosen });
      }),
    );
  }

  showSlider(key, v) {
    const out = $(`#${key}-out`);
    if (key === "batch_size") out.textContent = String(v);
    else out.textContent = `${Math.round(v * 100)} %`;
  }

  /** Put the store's settings and the run's state into the controls. */
  render(store) {
    const s = store.settings;
    ensureOption($("#learning_rate"), s.learning_rate);
    ensureOption($("#lambda"), s.lambda);
    ensureOption($("#momentum"), s.momentum);
    ensureOption($("#speed"), s.speed);
    for (const key of ["hidden_activation", "init", "regulariser", "output_activation", "cost", "color", "over", "fill"]) {
      ensureOption($(`#${key}`), s[key] ?? "");
    }
    $("#lambda").disabled = s.regulariser === "none" || store.locked("lambda");
    const ds = this.opts.datasets.find((d) => d.name === s.dataset);
    if (ds && ds.name !== "csv") $("#problem").value = ds.kind;
    $$(".ds").forEach((b) => b.classList.toggle("selected", b.dataset.dataset === s.dataset));
    $$(".ds").forEach((b) => (b.hidden = ds && ds.name !== "csv" ? b.dataset.kind !== ds.kind : false));
    $("#train_share").value = Math.round(s.train_share * 100);
    $("#noise").value = Math.round(s.noise * 100);
    const bs = $("#batch_size");
    if (s.batch_size > Number(bs.max)) bs.max = String(s.batch_size);
    bs.value = s.batch_size;
    this.showSlider("train_share", s.train_share);
    this.showSlider("noise", s.noise);
    this.showSlider("batch_size", s.batch_size);
    $("#seed-out").textContent = String(s.seed);
    $$("#features input").forEach((cb) => (cb.checked = s.features.includes(cb.value)));
    $("#scale").value = s.scale === "log" ? "log" : "linear";
    $("#test").checked = !!s.test;
    $("#discretize").checked = !!s.discretize;
    $("#discretize").disabled = ds?.kind === "regression" || store.locked("discretize");
    const maxLayers = Math.min(6, this.opts.limits.max_layers);
    $("#n-hidden").textContent = String(s.hidden.length);
    $("#n-hidden-label").textContent = s.hidden.length === 1 ? "hidden layer" : "hidden layers";
    $("#layer-add").disabled = s.hidden.length >= maxLayers || store.locked("layers");
    $("#layer-remove").disabled = s.hidden.length === 0 || store.locked("layers");
    this.applyFlags(store);
  }

  /** Running state and counters from a frame. */
  renderFrame(frame, store) {
    const running = frame.status === "running";
    const play = $("#play");
    play.textContent = running ? "❚❚" : "▶";
    play.setAttribute("aria-label", running ? "pause" : "play");
    play.classList.toggle("running", running);
    play.disabled = frame.status === "diverged" || store.locked("play");
    $("#epoch").textContent = frame.epoch.toLocaleString("en-US");
    $("#stepno").textContent = frame.step.toLocaleString("en-US");
    $("#output-kind").textContent = `(${KIND_LABEL[frame.kind] ?? esc(frame.kind)}, ${frame.cost_name.replace("_", "-")} cost)`;
  }

  applyFlags(store) {
    for (const el of $$("[data-control]")) {
      const key = el.dataset.control;
      el.hidden = store.hidden(key);
      const locked = store.locked(key);
      el.classList.toggle("locked", locked);
      if (!locked) continue;
      for (const input of el.matches("button, select, input") ? [el] : $$("button, select, input", el)) input.disabled = true;
    }
  }

  /** Disable everything that changes the run while a guided mode owns the page. */
  setBusy(busy) {
    for (const id of ["#play", "#step", "#reset"]) $(id).disabled = busy;
  }
}
