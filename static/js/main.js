// Wiring: settings from the options + teacher preset + URL hash, the run session, the
// controls' actions, and applying frames to every view (at most once per animation frame;
// frames that arrive faster are coalesced, keeping their grid / history / data_changed).
// Plotly.js is not on the way to the first picture (plots.js): it is loaded once the first
// frame is on screen, drawn meanwhile by the plots' stand-ins; nothing here needs it to start.

import { api } from "./api.js";
import { banner } from "./banner.js";
import { BoundaryPlot } from "./boundary_plot.js";
import { Controls, canonical, plainWords } from "./controls.js";
import { ExplainPanel } from "./explain.js";
import { showHealth } from "./health.js";
import { loading } from "./loading.js";
import { LossPlot } from "./loss_plot.js";
import { NetworkPlot } from "./network_plot.js";
import { NeuronHover } from "./neuron_hover.js";
import { loadPlotly, plotlyLoaded, plotsDrawn } from "./plots.js";
import { selectMessage } from "./quantities.js";
import { Session } from "./session.js";
import { KEEP_WEIGHTS, initialSettings, readLink, store } from "./state.js";
import { StepThrough } from "./stepthrough.js";
import { $, fmt, sub } from "./util.js";
import { Walkthrough } from "./walkthrough.js";

const FEATURE_LABELS = {};
let session;
let pending = null;
let rafId = 0;
const stats = { applied: 0, received: 0, times: [], started: performance.now() };

const network = new NetworkPlot($("#net"), {
  onSelect: (sel) => select(sel),
  onHover: (h) => hover.set(h),
  onResize: () => store.frame && redraw(),
  setHidden: (hidden) => actions.set({ hidden }),
  inputLabel: (name, k) => FEATURE_LABELS[name] ?? `x${sub(k + 1)}`, // CSV columns beyond x₁, x₂
});
const boundary = new BoundaryPlot($("#boundary"), { onProbe: (i) => actions.probe(i) });
const hover = new NeuronHover(boundary, () => store.run?.id);
const loss = new LossPlot($("#loss"));
const explain = new ExplainPanel($("#explain"), {
  onSelect: (sel) => select(sel),
  onSetWeight: ({ l, j, k, value }) => session?.setWeight(l, j, k, value),
});
const guides = {
  walkthrough: new Walkthrough($("#guide"), { store, onHighlight: () => redraw(), onExit: () => setMode("normal") }),
  stepthrough: new StepThrough($("#guide"), {
    store,
    onHighlight: () => redraw(),
    onExit: () => setMode("normal"),
    step: () => session.send({ type: "step", steps: 1 }),
  }),
};

const actions = {
  set(patch) {
    const rebuilds = Object.keys(patch).some((k) => !KEEP_WEIGHTS.includes(k));
    Object.assign(store.settings, patch);
    if (patch.dataset && patch.dataset !== "csv") {
      store.csvText = null;
      $("#csv-name").textContent = ""; // the CSV it named is no longer the data
    }
    store.writeHash();
    controls.render(store);
    if (rebuilds) {
      store.selection = null;
      if (store.mode !== "normal") setMode("normal");
    }
    const msg = { type: "set", ...patch };
    delete msg.csv; // the server keeps the run's CSV text across partial changes
    session?.send(msg);
  },
  view(patch) {
    Object.assign(store.settings, patch);
    store.writeHash();
    controls.render(store);
    redraw();
  },
  togglePlay() {
    if (store.mode === "stepthrough") setMode("normal");
    session?.send({ type: store.frame?.status === "running" ? "pause" : "play" });
  },
  step: () => session?.send({ type: "step", steps: 1 }),
  reset: () => session?.send({ type: "reset" }),
  speed(n) {
    store.settings.speed = n;
    store.writeHash();
    session?.send({ type: "speed", steps_per_frame: n });
  },
  layers(delta) {
    const hidden = [...store.settings.hidden];
    if (delta > 0 && hidden.length < Math.min(6, store.options.limits.max_layers)) hidden.push(hidden.length ? hidden[hidden.length - 1] : 2);
    if (delta < 0 && hidden.length) hidden.pop();
    actions.set({ hidden });
  },
  probe(index) {
    store.settings.probe = index;
    store.writeHash();
    session?.send({ type: "probe", index });
  },
  /** CSV text can exceed a stream message (max_ws_message_bytes): it goes by PATCH. */
  async csv(text, filename) {
    try {
      // A CSV's labels decide its kind of problem, so its output and cost start on auto.
      const run = await api.patchRun(store.run.id, { dataset: "csv", csv: text, output_activation: null, cost: null });
      store.csvText = text;
      $("#csv-name").textContent = filename; // textContent: the file name is user text
      banner.clear("server");
      store.selection = null;
      if (store.mode !== "normal") setMode("normal");
      adoptRun(run);
      store.run = run;
      await session.reloadData();
      session.send({ type: "reset" }); // the stream sends the rebuilt run's first frame
    } catch (err) {
      banner.show("server", { level: "error", dismiss: true, text: `The server refused ${filename}: ${plainWords(err.text ?? err.message)}` });
    }
  },
};
const controls = new Controls(actions);

function select(sel) {
  const same = store.selection && JSON.stringify(store.selection) === JSON.stringify(sel);
  store.selection = same ? null : sel;
  syncSelection();
  redraw();
}

function setMode(mode) {
  if (store.mode !== "normal") guides[store.mode].stop();
  store.mode = mode;
  store.highlight = null;
  $("#guide").hidden = mode === "normal";
  $(".explain-main").hidden = mode !== "normal";
  $("#walkthrough-btn").classList.toggle("active", mode === "walkthrough");
  $("#stepthrough-btn").classList.toggle("active", mode === "stepthrough");
  if (mode !== "normal") {
    if (store.frame?.status === "running") session.send({ type: "pause" });
    guides[mode].start(store.frame);
  }
  redraw();
}

/** Apply one frame to every view. Returns the time it took (ms). */
function applyFrame(frame, { force = false } = {}) {
  const t0 = performance.now();
  performance.mark("bpv-apply-start");
  if (!frame.grid && store.frame?.grid && store.frame.sizes.join() === frame.sizes.join()) frame.grid = store.frame.grid;
  store.frame = frame;
  if (frame.probe) store.settings.probe = frame.probe.index;
  syncRunConfig(frame);
  validateSelection(frame);
  syncSelection();
  if (force) boundary.invalidate();
  const part = timer();
  controls.renderFrame(frame, store);
  if (store.mode !== "normal") guides[store.mode].update(frame);
  part("controls");
  network.update(frame, store);
  part("network");
  boundary.update(frame, store);
  hover.frame(frame);
  part("output");
  loss.update(frame, { force });
  part("loss");
  if (store.mode === "normal") explain.update(frame, store);
  part("explain");
  showStatus(frame);
  part("status");
  loading.done(!plotlyLoaded()); // the first frame is on screen: hand the controls over
  part("loading");
  stats.firstParts ??= { ...stats.parts }; // the first picture's cost per view (bench_page.py)
  if (!plotsAsked) {
    plotsAsked = true;
    // After this frame is painted: running Plotly.js holds the main thread for a second or so.
    requestAnimationFrame(() => setTimeout(plotsArrive, 0));
  }
  const ms = performance.now() - t0;
  performance.measure("bpv-apply", "bpv-apply-start");
  stats.times.push(ms);
  if (stats.times.length > 5000) stats.times.splice(0, 1000);
  return ms;
}

/**
 * Load Plotly.js and let it redraw every figure over its stand-in with the current state;
 * then mark bpv-plots-ready. If it cannot be loaded, the stand-ins stay and the page says so.
 */
let plotsAsked = false;
async function plotsArrive() {
  try {
    await loadPlotly();
  } catch (err) {
    loading.plotsFailed(`The interactive plots could not load (${err.message}): the pictures are true but do not answer hover or clicks. Reload to try again.`);
    return;
  }
  network.geom = null; // as after a resize: everything drawn again, now by Plotly
  boundary.invalidate();
  redraw();
  loss.draw();
  await plotsDrawn();
  window.__bpv.plotsReady = true;
  loading.plotsReady();
}

/** Per-view durations of the last applyFrame, in stats.parts (bench_page.py reports them). */
function timer() {
  let t = performance.now();
  stats.parts = {};
  return (name) => {
    const now = performance.now();
    stats.parts[name] = now - t;
    t = now;
  };
}

function redraw() {
  if (store.frame) applyFrame(store.frame);
}

function validateSelection(frame) {
  const s = store.selection;
  if (!s) return;
  const L = frame.sizes.length;
  const ok = s.type === "edge" ? s.l >= 2 && s.l <= L && s.j < frame.sizes[s.l - 1] && s.k < frame.sizes[s.l - 2] : s.l >= 1 && s.l <= L && s.j < frame.sizes[s.l - 1];
  if (!ok) store.selection = null;
}

/** Divergence and saturated/dead units: banners with advice the server tried on this run. */
function showStatus(frame) {
  showHealth(frame, {
    setEta: (eta) => {
      actions.set({ learning_rate: eta });
      actions.reset();
    },
    reset: () => actions.reset(),
  });
}

/** The stream sends the selection's full-precision terms (frame.explain) once told what it is. */
let sentSelection = null;
function syncSelection() {
  const msg = JSON.stringify(selectMessage(store.selection));
  if (msg === sentSelection || !session?.open) return;
  sentSelection = msg;
  session.send(JSON.parse(msg));
}

function onFrame(f) {
  stats.received += 1;
  if (window.__bpv.recording) window.__bpv.recording.push(structuredClone(f));
  if (pending) {
    f.grid = f.grid ?? pending.grid;
    f.history = f.history ?? pending.history;
    // Data already reloaded for the pending frame need not be reloaded again (unless f says so).
    if (!f.data_changed && pending.data_changed) f.data_loaded = pending.data_loaded;
    f.data_changed = f.data_changed || pending.data_changed;
  }
  pending = f;
  if (!rafId) rafId = requestAnimationFrame(flush);
}

/**
 * Show the pending frame. While its data reloads, newer frames keep merging into `pending`
 * (and no other flush runs), so the frame shown is the newest, with every grid, history and
 * data_changed of the frames it replaced; data that changed again meanwhile is reloaded again.
 */
let flushing = false;
async function flush() {
  rafId = 0;
  if (flushing || !pending) return;
  flushing = true;
  try {
    await session.loaded?.catch(() => {}); // the data the frame is drawn with (a failure says so itself)
    while (pending.data_changed && pending.data_loaded !== true) {
      pending.data_loaded = true; // a frame merged in later with data_changed clears it
      await session.reloadData();
    }
  } finally {
    flushing = false;
  }
  const f = pending;
  pending = null;
  applyFrame(f);
  stats.applied += 1; // streamed frames actually shown (bench_page.py: displayed frames/s)
}

/** Keep the run's known config current for the settings that change without a rebuild. */
function syncRunConfig(frame) {
  const c = store.run?.config;
  if (!c || !frame.hyper) return;
  const h = frame.hyper;
  Object.assign(c, { learning_rate: h.learning_rate, batch_size: h.batch_size, regulariser: h.regulariser, lambda: h.lambda, momentum: h.momentum });
  if (frame.probe) c.probe = frame.probe.index;
}

function adoptRun(run) {
  for (const [k, v] of Object.entries(run.config)) if (k !== "csv" && k in store.settings) store.settings[k] = v;
  store.writeHash();
  controls.render(store);
}

/** What the link (and the teacher's preset) asked for that the page could not use, and why. */
function showIgnored(link) {
  const say = (items) => items.map((i) => `${i.key}=${i.value} (${i.reason})`).join("; ");
  const parts = [];
  if (link.hash.ignored.length) parts.push(`Ignored from the link: ${say(link.hash.ignored)}`);
  if (link.preset.ignored.length) parts.push(`Ignored from the teacher's preset: ${say(link.preset.ignored)}`);
  if (parts.length) banner.show("hash", { level: "info", dismiss: true, text: parts.join(". ") });
}

async function boot() {
  loading.phase("Connecting to the server…");
  // The options and what the link says do not depend on each other: asked for together.
  const linkRead = readLink(location.hash).then(
    (value) => ({ value }),
    (error) => ({ error }),
  );
  let opts;
  try {
    opts = await api.options();
  } catch (err) {
    banner.show("boot", { level: "error", text: `Cannot load the page's options from the server: ${err.text ?? err.message}`, actions: [{ label: "Reload", run: () => location.reload() }] });
    return;
  }
  store.options = opts;
  for (const f of opts.features) FEATURE_LABELS[f.name] = f.label;
  const { value: link, error: linkError } = await linkRead;
  if (linkError) {
    banner.show("boot", { level: "error", text: `Cannot read this page's link: ${linkError.message}`, actions: [{ label: "Reload", run: () => location.reload() }] });
    return;
  }
  initialSettings(store, opts, link, canonical);
  showIgnored(link);
  controls.build(opts);
  controls.render(store);
  store.writeHash();
  session = new Session(store, {
    frame: onFrame,
    rebuilt: adoptRun,
    serverError: (detail, sent) => {
      if (explain.weightError(detail, sent)) return; // shown by the weight's edit box
      banner.show("server", { level: "error", dismiss: true, text: `The server refused this: ${plainWords(detail)}` });
      if (store.run) adoptRun(store.run);
    },
    closed: () => {
      if (!store.frame || store.frame.status !== "running") return;
      store.frame.status = "paused";
      controls.renderFrame(store.frame, store);
    },
    waiting: (wait, seconds) => (wait ? loading.waiting(seconds) : loading.asking()), // a 429 at start-up
    connected: () => {
      sentSelection = null; // a new stream knows no selection yet
      syncSelection();
      if (store.settings.speed !== store.run.steps_per_frame) session.send({ type: "speed", steps_per_frame: store.settings.speed });
    },
  });
  loading.phase("Building the network…");
  try {
    await session.start({ hashGiven: Object.keys(link.hash.config).length > 0 });
  } catch (err) {
    banner.show("boot", { level: "error", text: `Cannot start a run: ${err.text ?? err.message}`, actions: [{ label: "Reload", run: () => location.reload() }] });
    return;
  }
  controls.render(store);
  store.writeHash();
  $("#walkthrough-btn").addEventListener("click", () => setMode(store.mode === "walkthrough" ? "normal" : "walkthrough"));
  $("#stepthrough-btn").addEventListener("click", () => setMode(store.mode === "stepthrough" ? "normal" : "stepthrough"));
  // replaceState (our own writes) fires no hashchange: this is a learner or teacher editing it.
  window.addEventListener("hashchange", () => location.reload());
}

// The page's test and benchmark hook (tests/browser, bench/bench_page.py).
window.__bpv = {
  store,
  stats,
  applyFrame: (frame, opts = { force: true }) => applyFrame(frame, opts),
  recording: null, // set to [] to keep a copy of every streamed frame (bench_page.py)
  network,
  boundary,
  loss,
  send: (msg) => session?.send(msg),
  actions,
};

boot().finally(() => store.run || loading.fail());
