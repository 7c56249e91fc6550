// Playground-parity controls: built from GET /api/options, kept in sync with the store, and
// hidden or locked by the hash's hide= / lock= flags (names: the data-control attributes,
// plus Playground's own names as aliases).

import { banner } from "./banner.js";
import { drawDatasetIcon } from "./dataset_icons.js";
import { datasetLabel, drawDigitIcon } from "./digit_views.js";
import { outputRefusal, pickUnderLocks } from "./locks.js";
import { ACT_LABEL, COST_LABEL, REG_LABEL, learnChoices } from "./quantities.js";
import { readLink } from "./state.js";
import { $, $$, esc, fmt, html, setHTML } from "./util.js";

const LEARNING_RATES = [0.00001, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10];
const LAMBDAS = [0, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10];
const MOMENTA = [0, 0.5, 0.9, 0.99];
const SPEEDS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 10000];
const KIND_LABEL = { classification: "Classification", regression: "Regression", multiclass: "Multi-class" };
const INIT_LABEL = { playground: "Playground (±0.5)", xavier: "Xavier", he: "He", standard_normal: "N(0, 1)", zeros: "zeros" };

/** Playground's and short names for hide= / lock=. */
export const ALIASES = {
  lr: "learning_rate", learningRate: "learning_rate", activation: "hidden_activation",
  reg: "regulariser", regularization: "regulariser", regularizationRate: "lambda", rate: "lambda",
  problem_type: "problem", problemType: "problem", data: "dataset", percTrainData: "train_share",
  train: "train_share", batch: "batch_size", batchSize: "batch_size", seed: "regenerate",
  showTestData: "test", discretize: "discretize", layers: "layers", networkShape: "layers",
};
export const canonical = (name) => (Object.hasOwn(ALIASES, name) ? ALIASES[name] : name);

/** What a locked control says: the name in the link's lock= that holds it. */
export function lockNote(store, key) {
  const by = store.settings.lock.includes(key) ? key : "all";
  return `Locked by this page's link (lock=${by})`;
}

/** A locked control's title and aria-description say so (note), its own title kept for when
 * it is not (note null). */
function sayLocked(el, note) {
  if (note) {
    if (!("titleUnlocked" in el.dataset)) el.dataset.titleUnlocked = el.getAttribute("title") ?? "";
    el.title = note;
    el.setAttribute("aria-description", note);
  } else if ("titleUnlocked" in el.dataset) {
    el.title = el.dataset.titleUnlocked;
    delete el.dataset.titleUnlocked;
    el.removeAttribute("aria-description");
  }
}

/** Set el's own title: while a lock note stands in for it (sayLocked), the note stays and
 * this one is kept for when the lock goes. */
function setOwnTitle(el, text) {
  if ("titleUnlocked" in el.dataset) el.dataset.titleUnlocked = text;
  else el.title = text;
}

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

/** Controls whose only effect is to change another control's setting: locked with it. */
const LOCKED_WITH = {
  problem: { key: "dataset", why: "the problem type picks another data set, and the link keeps this one" },
};

export class Controls {
  constructor(actions) {
    this.actions = actions;
  }

  /** Build from options (once). */
  build(opts) {
    this.opts = opts;
    learnChoices(opts.about); // labels and properties of every choice, from the server's registries
    const a = this.actions;
    options($("#learning_rate"), LEARNING_RATES, (v) => String(v));
    options($("#lambda"), LAMBDAS, (v) => String(v));
    options($("#momentum"), MOMENTA, (v) => String(v));
    // The largest speed trains for the whole frame interval (the server bounds a frame's
    // training by time): "max" is as fast as this server can go while showing every frame.
    const maxSpeed = opts.limits.steps_per_frame?.[1] ?? 1000;
    options($("#speed"), [...SPEEDS.filter((v) => v < maxSpeed), maxSpeed], (v) => (v === maxSpeed ? "max" : String(v)));
    options($("#hidden_activation"), opts.activations.hidden, (v) => ACT_LABEL[v] ?? v);
    this.showCsvHelp(opts.limits);
    options($("#init"), opts.inits, (v) => INIT_LABEL[v] ?? v);
    options($("#regulariser"), opts.regularisers, (v) => REG_LABEL[v] ?? v);
    // BP2's rules (issue 12): the server's registry, its labels and what each one does.
    const rules = opts.about?.feedback ?? {};
    options($("#feedback"), opts.feedback ?? [], (v) => rules[v]?.label ?? v);
    $("#feedback").closest("label").title = (opts.feedback ?? []).map((v) => `${rules[v]?.label ?? v}: ${rules[v]?.about ?? ""}`).join("\n\n");
    $("#feedback").addEventListener("change", (e) => a.set({ feedback: e.target.value }));
    const kinds = [...new Set(opts.datasets.filter((d) => d.name !== "csv").map((d) => d.kind))];
    options($("#problem"), kinds, (v) => KIND_LABEL[v] ?? v);

    const num = (id, key) => $(id).addEventListener("change", (e) => a.set({ [key]: Number(e.target.value) }));
    num("#learning_rate", "learning_rate");
    num("#lambda", "lambda");
    num("#momentum", "momentum");
    $("#speed").addEventListener("change", (e) => a.speed(Number(e.target.value)));
    for (const key of ["hidden_activation", "init", "regulariser"]) $(`#${key}`).addEventListener("change", (e) => a.set({ [key]: e.target.value }));
    // Only compatible (output, cost) pairs are offered (issue 9, item 10): the cost list
    // follows the output; an output the chosen cost cannot pair with sets the cost to auto.
    $("#output_activation").addEventListener("change", (e) => {
      const out = e.target.value || null;
      const cost = this.store?.settings.cost;
      const patch = { output_activation: out };
      const locked = this.store && outputRefusal(out, { settings: this.store.settings, costs: opts.costs });
      if (locked) return this.refuse(locked); // a locked cost is not set to auto behind its back
      if (out && cost && !opts.costs[cost]?.includes(out)) patch.cost = null;
      a.set(patch);
    });
    $("#cost").addEventListener("change", (e) => a.set({ cost: e.target.value || null }));
    $("#problem").addEventListener("change", (e) => {
      const first = opts.datasets.find((d) => d.kind === e.target.value);
      if (first) this.pickDataset(first.name, { output_activation: null, cost: null });
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
      (d) => html`<button class="ds" data-dataset="${d.name}" data-kind="${d.kind}" title="${datasetLabel(d)}: ${d.description}" aria-label="${datasetLabel(d)}"><canvas width="44" height="44"></canvas></button>`,
    )}`);
    $$(".ds", box).forEach((b) => {
      if (opts.datasets.find((d) => d.name === b.dataset.dataset)?.image) drawDigitIcon($("canvas", b));
      else drawDatasetIcon($("canvas", b), b.dataset.dataset, b.dataset.kind);
      b.addEventListener("click", () => this.pickDataset(b.dataset.dataset));
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

  /**
   * Pick a data set. One that comes with settings of its own (GET /api/options: `link`, the
   * digits' 64-30-10 network) gets them; leaving it for one without restores the default
   * experiment's values of those settings (30 hidden neurons are too wide for the 2-D sets).
   */
  async pickDataset(name, extra = {}) {
    const opts = this.opts;
    const linked = async (d) => (d?.link ? (await readLink(d.link)).hash.config : null);
    const now = opts.datasets.find((d) => d.name === this.store?.settings.dataset);
    const to = await linked(opts.datasets.find((d) => d.name === name));
    const from = to ? null : await linked(now);
    const back = from ? Object.fromEntries(Object.keys(from).filter((k) => k in opts.default_config).map((k) => [k, opts.default_config[k]])) : {};
    const want = { ...back, ...(to ?? {}), ...extra, dataset: name, csv: null };
    if (!this.store) return this.actions.set(want);
    // The link's locked settings keep their values; a data set that cannot work with one is refused.
    const { patch, refusal } = pickUnderLocks(name, want, { settings: this.store.settings, opts });
    if (refusal) return this.refuse(refusal);
    banner.clear("locked");
    if (Object.keys(patch).length) this.actions.set(patch);
  }

  /** Say why a click changed nothing (a locked setting stands in its way), and put the
   * controls back to the settings (a select shows the choice it refused until then). */
  refuse(text) {
    banner.show("locked", { level: "error", dismiss: true, text });
    if (this.store) this.render(this.store);
  }

  showSlider(key, v) {
    const out = $(`#${key}-out`);
    if (key === "batch_size") out.textContent = String(v);
    else out.textContent = `${Math.round(v * 100)} %`;
  }

  /** The kind of problem on screen: the data set's, or for a CSV the run's (its labels decide). */
  kindOf(store) {
    const s = store.settings;
    if (s.dataset === "csv") return store.frame?.kind ?? store.run?.kind ?? "classification";
    return this.opts.datasets.find((d) => d.name === s.dataset)?.kind ?? "classification";
  }

  /** The output and cost choices that pair (GET /api/options: kinds, costs). */
  renderModel(store) {
    const s = store.settings;
    const kind = this.kindOf(store);
    const kinds = this.opts.kinds?.[kind] ?? { outputs: this.opts.activations.output, default: [null, null] };
    const f = store.frame;
    const usedOut = f ? f.activations[f.activations.length - 1] : kinds.default[0];
    const usedCost = f?.cost_name ?? kinds.default[1];
    const outs = [null, ...kinds.outputs];
    const costs = [null, ...Object.keys(this.opts.costs).filter((c) => !s.output_activation || this.opts.costs[c].includes(s.output_activation))];
    const outLabel = (v) => (v ? ACT_LABEL[v] ?? v : `auto (${ACT_LABEL[usedOut] ?? usedOut})`);
    const costLabel = (v) => (v ? COST_LABEL[v] ?? v : `auto (${COST_LABEL[usedCost] ?? usedCost ?? ""})`);
    const key = `${outs.map(outLabel).join()}|${costs.map(costLabel).join()}`;
    if (key !== this.modelKey) {
      this.modelKey = key;
      options($("#output_activation"), outs, outLabel);
      options($("#cost"), costs, costLabel);
    }
    ensureOption($("#output_activation"), s.output_activation ?? "");
    ensureOption($("#cost"), s.cost ?? "");
  }

  /** What a CSV must look like, with this server's limits, next to the CSV control. */
  showCsvHelp(limits) {
    const box = $("#csv-help");
    if (!box) return;
    const mb = limits.max_body_bytes >= 1e6 ? `${+(limits.max_body_bytes / 1e6).toPrecision(3)} MB` : `${Math.round(limits.max_body_bytes / 1e3)} kB`;
    setHTML(box, html`<summary>What a CSV must look like</summary>
      <ul>
        <li>Numbers separated by commas, one example per line.</li>
        <li>The input columns first, the label in the <b>last</b> column.</li>
        <li>An optional first line of column names (a header).</li>
        <li>Labels −1/1 or 0/1: classification. Whole numbers 0, 1, 2, … (up to 9): that many classes. Any other numbers: regression.</li>
        <li>Exactly 2 input columns give the picture of the output over the input plane; other counts are fed to the network as they are, with no plot.</li>
        <li>At most ${limits.max_rows} rows, ${limits.max_inputs} input columns and ${mb}.</li>
      </ul>
      <pre class="csv-example">x1,x2,label
0.5,-1.2,1
-2.0,0.3,0</pre>`);
  }

  /** λ's convention, said on the page: Nielsen's λ/n, and Playground's rate r = λ/n. */
  showLambdaNote(store) {
    const el = $("#lambda-note");
    if (!el) return;
    const n = store.run?.n_train;
    const s = store.settings;
    const r = n ? s.lambda / n : null;
    el.textContent = n
      ? `λ as in Nielsen: C = C₀ + (λ/2n)·Σw² (L2) or + (λ/n)·Σ|w| (L1), n = ${n} training examples. Playground's rate is λ/n${s.lambda ? ` (here ${fmt(r)})` : ""}.`
      : "λ as in Nielsen: C = C₀ + (λ/2n)·Σw² (L2) or + (λ/n)·Σ|w| (L1), n = the training examples.";
  }

  /** Put the store's settings and the run's state into the controls. */
  render(store) {
    this.store = store;
    const s = store.settings;
    $("#csv-name").textContent = store.csvName; // textContent: the file name is user text
    ensureOption($("#learning_rate"), s.learning_rate);
    ensureOption($("#lambda"), s.lambda);
    ensureOption($("#momentum"), s.momentum);
    ensureOption($("#speed"), s.speed);
    this.renderModel(store);
    this.showLambdaNote(store);
    if (s.feedback !== undefined) ensureOption($("#feedback"), s.feedback);
    for (const key of ["hidden_activation", "init", "regulariser", "color", "over", "fill"]) {
      ensureOption($(`#${key}`), s[key] ?? "");
    }
    $("#lambda").disabled = s.regulariser === "none" || store.locked("lambda");
    const ds = this.opts.datasets.find((d) => d.name === s.dataset);
    // A CSV's kind comes from its labels (the run's kind), not from a built-in data set.
    const kind = this.kindOf(store);
    $("#problem").value = kind;
    $$(".ds").forEach((b) => b.classList.toggle("selected", b.dataset.dataset === s.dataset));
    $$(".ds").forEach((b) => (b.hidden = b.dataset.kind !== kind));
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
    // Regression has no classes: the box is off there (the setting itself is kept, and shown
    // again for a classification run), not a tick that does nothing.
    $("#discretize").checked = !!s.discretize && kind !== "regression";
    $("#discretize").disabled = kind === "regression" || store.locked("discretize");
    const maxLayers = Math.min(6, this.opts.limits.max_layers);
    $("#n-hidden").textContent = String(s.hidden.length);
    $("#n-hidden-label").textContent = s.hidden.length === 1 ? "hidden layer" : "hidden layers";
    $("#layer-add").disabled = s.hidden.length >= maxLayers || store.locked("layers");
    $("#layer-remove").disabled = s.hidden.length === 0 || store.locked("layers");
    this.applyFlags(store);
    this.dataShape(store);
  }

  /**
   * What the data allows: CSV data gets no generated noise, and the features (x₁², sin x₁, …)
   * are made from exactly 2 input columns: a CSV with d ≠ 2 columns feeds them in directly.
   * Disabled with the reason shown (and the slider/boxes kept in place, so nothing jumps).
   */
  dataShape(store) {
    const csv = store.settings.dataset === "csv";
    const image = this.opts.datasets.find((x) => x.name === store.settings.dataset)?.image; // the digits' pixels
    const d = csv ? (store.data?.train?.points?.[0]?.length ?? 2) : image ? image[0] * image[1] : 2;
    const key = `${csv}|${d}|${store.locked("noise")}|${store.locked("features")}`;
    if (key === this.shapeKey) return;
    this.shapeKey = key;
    const noise = $("#noise");
    noise.disabled = csv || store.locked("noise");
    setOwnTitle(noise.closest("label"), csv ? "Noise is added only to the built-in data sets, not to your own CSV data." : "");
    setOwnTitle($("#regenerate"), csv ? "A new seed: for CSV data it reshuffles the train/test split, the initial weights and the batch order." : "");
    let note = $("#features-note");
    if (!note) {
      note = document.createElement("p");
      note.id = "features-note";
      note.className = "dim small";
      $("#features").after(note);
    }
    const noPlane = d !== 2;
    note.hidden = !noPlane;
    const these = csv ? `this CSV has ${d}` : `the digits have ${d} pixels`;
    note.textContent = noPlane ? `Features such as x₁² or sin(x₁) are made from exactly 2 input columns; ${these}, which go into the network directly.` : "";
    for (const cb of $$("#features input")) cb.disabled = noPlane || store.locked("features");
  }

  /** Running state and counters from a frame. */
  renderFrame(frame, store) {
    this.dataShape(store);
    const running = frame.status === "running";
    const play = $("#play");
    play.textContent = running ? "❚❚" : "▶";
    play.setAttribute("aria-label", running ? "pause" : "play");
    play.classList.toggle("running", running);
    play.disabled = frame.status === "diverged" || store.locked("play");
    $("#epoch").textContent = frame.epoch.toLocaleString("en-US");
    $("#stepno").textContent = frame.step.toLocaleString("en-US");
    $("#output-kind").textContent = `(${KIND_LABEL[frame.kind] ?? esc(frame.kind)}, ${COST_LABEL[frame.cost_name] ?? frame.cost_name} cost)`;
    const used = `${frame.kind}|${frame.activations[frame.activations.length - 1]}|${frame.cost_name}`;
    if (used !== this.usedKey) {
      this.usedKey = used;
      if (store.settings.dataset === "csv") this.render(store);
      else this.renderModel(store);
    }
  }

  /** hide= / lock=: hidden controls, and locked ones disabled with a title saying why. A
   * control whose only effect is another's setting is locked with it (LOCKED_WITH). */
  applyFlags(store) {
    for (const el of $$("[data-control]")) {
      const key = el.dataset.control;
      el.hidden = store.hidden(key);
      const withKey = !store.locked(key) && LOCKED_WITH[key] && store.locked(LOCKED_WITH[key].key) ? LOCKED_WITH[key] : null;
      const locked = store.locked(key) || !!withKey;
      el.classList.toggle("locked", locked);
      const inputs = el.matches("button, select, input") ? [el] : $$("button, select, input", el);
      const note = withKey ? `${lockNote(store, withKey.key)}: ${withKey.why}` : locked ? lockNote(store, key) : null;
      for (const x of new Set([el, ...inputs])) sayLocked(x, note);
      if (!locked) continue;
      for (const input of inputs) input.disabled = true;
    }
  }

  /** Disable everything that changes the run while a guided mode owns the page. */
  setBusy(busy) {
    for (const id of ["#play", "#step", "#reset"]) $(id).disabled = busy;
  }
}

/** A server refusal in plain words (still user-visible text: callers escape it). */
export function plainWords(text) {
  const t = String(text ?? "");
  const pair = /cost '(\w+)' cannot be paired with an? '(\w+)' output layer; it needs one of \[([^\]]*)\]/.exec(t);
  if (pair) {
    const [, cost, out, needs] = pair;
    const want = needs.split(",").map((x) => x.trim().replace(/'/g, "")).map((x) => ACT_LABEL[x] ?? x).join(" or ");
    return `The ${COST_LABEL[cost] ?? cost} cost works only with a ${want} output layer, not ${ACT_LABEL[out] ?? out}. Choose ${want} as the output activation, or set the cost to auto.`;
  }
  if (/needs several outputs/.test(t) && /regression/.test(t)) {
    return "Softmax shares one probability among several outputs, but a regression problem has a single output: choose another output activation (auto picks linear).";
  }
  return t.replace(/^([\w.]+): /, "$1 — ");
}
