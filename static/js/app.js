// The App: the one place where the page is put together. It owns the store (state.js), the
// run's session (session.js), the views and the guides, and wires them: every view is a
// subscriber of the store's events (view()), the guides return what they want highlighted
// and the App puts that in the store, and the controls' actions (actions.js) change the store
// and tell the server. Plotly.js is not on the way to the first picture (plots.js): it is
// loaded once the first frame is on screen, drawn meanwhile by the plots' stand-ins.

import { makeActions } from "./actions.js";
import { api } from "./api.js";
import { banner } from "./banner.js";
import { BackwardAnim } from "./backward_anim.js";
import { BoundaryPlot } from "./boundary_plot.js";
import { DigitsPanel, imageShape } from "./digit_views.js";
import { Distributions } from "./distributions.js";
import { GradientStrip, HistoryFeed } from "./gradient_strip.js";
import { LayersPanel } from "./layers_panel.js";
import { Controls, canonical, lockNote, plainWords } from "./controls.js";
import { Downloads } from "./downloads.js";
import { ExplainPanel } from "./explain.js";
import { FeedbackCompare } from "./feedback_compare.js";
import { FrameQueue } from "./frame_queue.js";
import { showHealth } from "./health.js";
import { loading } from "./loading.js";
import { LossPlot } from "./loss_plot.js";
import { NetworkPlot } from "./network_plot.js";
import { NeuronHover } from "./neuron_hover.js";
import { PredictionLine } from "./prediction.js";
import { loadPlotly, plotlyLoaded, plotsDrawn } from "./plots.js";
import { selectMessage } from "./quantities.js";
import { SaveOpen } from "./save_open.js";
import { Session } from "./session.js";
import { Store, initialSettings, readLink, settingsFromRun, writeHash } from "./state.js";
import { StepThrough } from "./stepthrough.js";
import { Scrubber, Timeline, TimelineFeed, sliderMax, stepText } from "./timeline.js";
import { TransposeView } from "./transpose_view.js";
import { $, retireRun, sub } from "./util.js";
import { Walkthrough } from "./walkthrough.js";

const sameSelection = (a, b) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/** The selection if it still names a neuron or edge of a network of these sizes, else null. */
export function validSelection(s, sizes) {
  if (!s) return null;
  const L = sizes.length;
  const ok = s.type === "edge" ? s.l >= 2 && s.l <= L && s.j < sizes[s.l - 1] && s.k < sizes[s.l - 2] : s.l >= 1 && s.l <= L && s.j < sizes[s.l - 1];
  return ok ? s : null;
}

/** The run with the settings that change without a rebuild as this frame says they are. */
export function runAtFrame(run, frame) {
  if (!run?.config || !frame.hyper) return run;
  const h = frame.hyper;
  const now = { learning_rate: h.learning_rate, batch_size: h.batch_size, regulariser: h.regulariser, lambda: h.lambda, momentum: h.momentum };
  if (frame.probe) now.probe = frame.probe.index;
  if (Object.entries(now).every(([k, v]) => run.config[k] === v)) return run;
  return { ...run, config: { ...run.config, ...now } };
}

export class App {
  constructor() {
    const store = new Store();
    this.store = store;
    this.session = null;
    this.featureLabels = {};
    this.sentSelection = null; // the selection the stream was last told about (JSON)
    this.plotsAsked = false;
    this.stats = { applied: 0, received: 0, times: [], started: performance.now(), parts: {} };
    this.views = [];
    this.actions = makeActions(this);
    this.controls = new Controls(this.actions);
    this.network = new NetworkPlot($("#net"), {
      onSelect: (sel) => this.select(sel),
      onHover: (h) => this.pointed(h),
      setHidden: (hidden) => this.actions.set({ hidden }),
      inputLabel: (name, k) => this.featureLabels[name] ?? `x${sub(k + 1)}`, // CSV columns beyond x₁, x₂
    });
    this.boundary = new BoundaryPlot($("#boundary"), { onProbe: (i) => this.actions.probe(i) });
    this.hover = new NeuronHover(this.boundary, () => store.run?.id);
    // The book's digits (issue 13): image views in the output plot's place (digit_views.js).
    this.digits = new DigitsPanel($("#digits"), { onProbe: (i) => this.actions.probe(i), onSelect: (sel) => this.select(sel) });
    this.loss = new LossPlot($("#loss"));
    this.prediction = new PredictionLine($("#loss .loss-prediction"));
    // Rewind (issue 13): the timeline's drags become rewinds, one at a time (timeline.js).
    this.scrubber = new Scrubber((step) => this.actions.rewind(step));
    const lossArea = () => $("#loss .loss-plot")._fullLayout?._size; // Plotly's plot area, once drawn
    this.timeline = new Timeline($("#timeline"), { onScrub: (step) => this.scrubber.to(step), align: () => lossArea() && { left: lossArea().l, right: lossArea().r } });
    this.timelineFeed = new TimelineFeed({ get: (id) => api.timeline(id), put: (timeline) => store.update({ timeline }) });
    this.saveOpen = new SaveOpen({ save: $("#save-run"), open: $("#open-run") }, { onSave: () => this.actions.save(), onOpen: (text, name) => this.actions.open(text, name) });
    const at = () => `step ${stepText(store.frame?.step ?? 0)}`;
    this.downloads = new Downloads($("#downloads"), {
      getFrame: () => store.frame,
      figures: {
        network: { kind: "network", net: this.network, caption: () => `backprop-viz: the network at ${at()}, probe example ${store.frame?.probe?.index ?? ""}` },
        // What the Output panel shows: the output over the plane, or the digits' images.
        output: () =>
          this.imageShown
            ? { name: "digits", kind: "digits", panel: this.digits, caption: () => `backprop-viz: the ${store.frame.sizes.join("-")} network on the digits at ${at()}` }
            : { name: "boundary", kind: "plotly", div: $("#boundary"), title: () => `Output at ${at()} ${$("#output-kind").textContent}` },
        loss: { kind: "plotly", div: $("#loss .loss-plot"), title: () => `Cost and accuracy up to ${at()}`, legend: true },
      },
      onError: (text) => banner.show("download", { level: "error", dismiss: true, text }),
    });
    this.explain = new ExplainPanel($("#explain"), {
      onSelect: (sel) => this.select(sel),
      onSetWeight: ({ l, j, k, value }) => this.session?.setWeight(l, j, k, value),
      inputLabel: (j) => this.network?.inputLabels?.[j] ?? null, // the feature input j is (x₂, sin(x₁), …)
    });
    const guide = { onChange: (r) => store.update(this.guided(r, store.selection)), onExit: () => this.setMode("normal") };
    // "Compare rules" (issue 12): the learner's settings trained under each feedback rule in
    // runs of its own, deleted when it closes.
    this.compare = new FeedbackCompare({ config: () => this.session.wanted(), options: () => store.options });
    // Issue 13: the gradient across layers and the layers' distributions, now and over the
    // run (GET /history, read at most once a second while new steps are shown).
    this.layersPanel = new LayersPanel($("#layers"), {
      onTab: (layersTab) => store.update({ layersTab }),
      onOver: (over) => this.actions.view({ over }),
      onKind: (histKind) => store.update({ histKind }),
    });
    this.strip = new GradientStrip($("#layers .gs"), { onPick: (heat) => this.actions.view({ heat }) });
    this.dists = new Distributions($("#layers .dist"));
    this.historyFeed = new HistoryFeed({ get: (id, histograms, since) => api.history(id, histograms, since), put: (layerHistory) => store.update({ layerHistory }) });
    this.guides = {
      walkthrough: new Walkthrough($("#guide"), { ...guide, onCompare: () => this.compare.open() }),
      matrices: new TransposeView($("#guide"), guide),
      backward: new BackwardAnim($("#guide"), guide),
      stepthrough: new StepThrough($("#guide"), { ...guide, step: () => this.actions.step(), runId: () => store.run?.id, locked: () => (store.locked("step") ? lockNote(store, "step") : null) }),
    };
    // Escape closes a guide as its × does (a handler that used the key, e.g. an open menu's or
    // an edit field's, has prevented its default).
    document.addEventListener("keydown", (ev) => {
      if (ev.key === "Escape" && !ev.defaultPrevented && store.mode !== "normal") this.setMode("normal");
    });
    this.frames = new FrameQueue({
      dataReady: () => this.session?.loaded,
      reloadData: () => this.session.reloadData(),
      received: (f) => {
        this.stats.received += 1;
        if (this.hook.recording) this.hook.recording.push(structuredClone(f));
      },
      show: (f) => {
        // A frame still on its way when the stream dropped: the run is paused, not running.
        this.applyFrame(f.status === "running" && !this.session?.stream ? { ...f, status: "paused" } : f);
        this.stats.applied += 1; // streamed frames actually shown (bench_page.py: displayed frames/s)
      },
    });
    // The page's test and benchmark hook (tests/browser, bench/bench_page.py): window.__bpv.
    this.hook = {
      store,
      stats: this.stats,
      applyFrame: (frame, opts = { force: true }) => this.applyFrame(frame, opts),
      recording: null, // set to [] to keep a copy of every streamed frame (bench_page.py)
      network: this.network,
      boundary: this.boundary,
      loss: this.loss,
      send: (msg) => this.session?.send(msg),
      actions: this.actions,
      plotsReady: false,
    };
    this.subscribe();
  }

  /** Who redraws on which change of the store. Views are drawn in this order. */
  subscribe() {
    const s = this.store;
    s.on("settings", () => writeHash(s.settings));
    s.on(["settings", "run", "csvName"], () => this.controls.opts && this.controls.render(s));
    s.on("selection", () => this.syncSelection());
    // A click while a guide is open: the guide decides what it follows (a frame's own
    // selection was given to the guide already, by applyFrame).
    s.on("selection", ({ fields }) => {
      if (s.mode === "normal" || !s.frame || fields.has("frame")) return;
      s.update(this.guided(this.guides[s.mode].update(s.frame, s.selection), s.selection));
    });
    s.on("mode", () => this.showMode());
    this.view("controls", ["frame"], () => this.controls.renderFrame(s.frame, s));
    this.view("network", ["frame", "settings", "selection", "highlight"], () => this.network.update(s.frame, s));
    this.view("output", ["frame", "settings"], ({ fields, meta }) => {
      if (this.showImage(imageShape(s))) return;
      if (meta.force) this.boundary.invalidate();
      this.boundary.update(s.frame, s);
      if (fields.has("frame")) this.hover.frame(s.frame);
    });
    this.view("loss", ["frame"], ({ meta }) => this.loss.update(s.frame, { force: !!meta.force }));
    this.view("prediction", ["frame"], () => this.prediction.update(s.frame, s.run?.config?.feedback));
    this.view("timeline", ["frame", "timeline", "run", "settings"], () => this.timeline.update(s.frame, s));
    // The loss curve's x axis spans the timeline's steps: each step above its place on the timeline.
    this.view("loss-span", ["timeline", "run"], () => {
      const tl = s.timeline?.run_id === s.run?.id ? s.timeline : null;
      this.loss.setSpan(tl ? sliderMax(tl.steps, s.frame.step) : null, tl?.steps.at(-1) ?? -1);
    });
    s.on("frame", () => this.timelineFeed.frame(s.run?.id, s.frame.step));
    this.view("explain", ["frame", "settings", "selection", "mode"], () => s.mode === "normal" && this.explain.update(s.frame, s));
    this.view("status", ["frame"], () => this.showStatus(s.frame));
    this.view("layers-panel", ["layersTab", "histKind", "settings"], () => this.layersPanel.render(s));
    const layersOf = () => ({ over: s.settings.over, heat: s.settings.heat, kind: s.histKind, history: s.layerHistory, runId: s.run?.id });
    this.view("gradient", ["frame", "settings", "layerHistory", "layersTab"], () => s.layersTab === "gradient" && this.strip.update(s.frame, layersOf()));
    this.view("distributions", ["frame", "histKind", "layerHistory", "layersTab"], () => this.dists.update(s.frame, layersOf()));
    s.on(["frame", "layersTab"], () => {
      this.historyFeed.wantHistograms(s.layersTab === "distributions");
      if (s.frame) this.historyFeed.frame(s.run?.id, `${s.frame.step}|${s.frame.metrics_step}`);
    });
    this.view("loading", ["frame"], () => this.firstPicture());
  }

  /**
   * A view: draw(change) runs when one of the store's fields in events changes (once a frame
   * is there to draw), and again on redraw(); its time goes in stats.parts[name]
   * (bench_page.py reports them).
   */
  view(name, events, draw) {
    const timed = (change) => {
      if (!this.store.frame) return;
      const t = performance.now();
      draw(change);
      this.stats.parts[name] = performance.now() - t;
    };
    this.views.push(timed);
    this.store.on(events, timed);
  }

  /** Draw every view again with the current state (the plots' library arrived, a resize). */
  redraw() {
    const change = { fields: new Set(["frame", "settings", "selection", "highlight", "mode"]), keys: new Set(), meta: {} };
    for (const draw of this.views) draw(change);
  }

  /** What a guide returned ({highlight, selection}), as a patch for the store. */
  guided(result, selection) {
    const patch = { highlight: result?.highlight ?? null };
    if (result?.selection && !sameSelection(result.selection, selection)) patch.selection = result.selection;
    return patch;
  }

  /** Put a frame on screen: one store update (the frame, and what follows from it). Returns
   * the time it took (ms). */
  applyFrame(frame, { force = false } = {}) {
    const t0 = performance.now();
    performance.mark("bpv-apply-start");
    const s = this.store;
    if (frame === s.frame) {
      this.redraw();
      return performance.now() - t0;
    }
    if (!frame.grid && s.frame?.grid && s.frame.sizes.join() === frame.sizes.join()) frame.grid = s.frame.grid;
    const patch = { frame, run: runAtFrame(s.run, frame), selection: validSelection(s.selection, frame.sizes) };
    if (frame.probe) patch.settings = { probe: frame.probe.index };
    this.stats.parts = {};
    if (s.mode !== "normal") {
      const t = performance.now();
      Object.assign(patch, this.guided(this.guides[s.mode].update(frame, patch.selection), patch.selection));
      this.stats.parts.guide = performance.now() - t;
    }
    s.update(patch, { force });
    this.stats.firstParts ??= { ...this.stats.parts }; // the first picture's cost per view (bench_page.py)
    const ms = performance.now() - t0;
    performance.measure("bpv-apply", "bpv-apply-start");
    this.stats.times.push(ms);
    if (this.stats.times.length > 5000) this.stats.times.splice(0, 1000);
    return ms;
  }

  /** The first frame is on screen: hand the controls over, then bring the interactive plots. */
  firstPicture() {
    loading.done(!plotlyLoaded());
    if (this.plotsAsked) return;
    this.plotsAsked = true;
    // After this frame is painted: running Plotly.js holds the main thread for a second or so.
    requestAnimationFrame(() => setTimeout(() => this.plotsArrive(), 0));
  }

  /**
   * Load Plotly.js and let it redraw every figure over its stand-in with the current state;
   * then mark bpv-plots-ready. If it cannot be loaded, the stand-ins stay and the page says so.
   */
  async plotsArrive() {
    try {
      await loadPlotly();
    } catch (err) {
      loading.plotsFailed(`The interactive plots could not load (${err.message}): the pictures are true but do not answer hover or clicks. Reload to try again.`);
      return;
    }
    this.boundary.invalidate(); // drawn again, now by Plotly
    this.redraw();
    this.loss.draw();
    await plotsDrawn();
    this.hook.plotsReady = true;
    loading.plotsReady();
  }

  /**
   * The output panel for data whose inputs are an image's pixels (shape [rows, columns]): the
   * digits' views in the place of the output over the plane; null: the plane's plot again.
   * Returns whether the image views are shown.
   */
  showImage(shape) {
    const on = !!shape;
    if (on !== this.imageShown) {
      this.imageShown = on;
      document.body.dataset.inputs = on ? "image" : "plane";
      $("#digits").hidden = !on;
      $("#boundary").hidden = on;
      for (const el of document.querySelectorAll("[data-plane]")) el.hidden = on; // its toggles and downloads
      this.boundary.caption.hidden = on;
      if (!on) this.boundary.invalidate(); // drawn again at its size, now visible
    }
    if (on) this.digits.update(this.store.frame, this.store, shape);
    return on;
  }

  /** The network view's pointer on a neuron or edge (or on nothing): the output plot shows
   * that neuron over the input plane; the digits outline its weight image. Data without an
   * input plane (the digits, a CSV of d ≠ 2 columns) has no plane to show it over. */
  pointed(h) {
    const d = this.store.data?.train?.points?.[0]?.length ?? 2;
    if (d === 2 || this.hover.target) this.hover.set(d === 2 ? h : null);
    if (this.imageShown) this.digits.hoverNeuron(h);
  }

  /** Click on a neuron or edge: select it, or clear the selection if it was selected. */
  select(sel) {
    this.store.update({ selection: sameSelection(this.store.selection, sel) ? null : sel });
  }

  /** Start or end a guide (walkthrough, stepthrough) or go back to normal. */
  setMode(mode) {
    const s = this.store;
    if (s.mode !== "normal") this.guides[s.mode].stop();
    const patch = { mode, highlight: null };
    if (mode !== "normal" && s.frame) {
      if (s.frame.status === "running") this.session.send({ type: "pause" });
      Object.assign(patch, this.guided(this.guides[mode].start(s.frame, s.selection), s.selection));
    }
    s.update(patch);
  }

  /** The explain panel or the guide, and which guide button is pressed. */
  showMode() {
    const mode = this.store.mode;
    const guide = $("#guide");
    const opened = guide.hidden && mode !== "normal";
    guide.hidden = mode === "normal";
    $(".explain-main").hidden = mode !== "normal";
    $("#walkthrough-btn").classList.toggle("active", mode === "walkthrough");
    $("#stepthrough-btn").classList.toggle("active", mode === "stepthrough");
    for (const b of document.querySelectorAll("[data-mode-btn]")) b.classList.toggle("active", mode === b.dataset.modeBtn);
    document.body.dataset.mode = mode; // CSS: the backward pass's moving wires
    // A guide just opened where its text is out of sight (a phone's one long column puts it
    // below the network and the layers): bring its first lines into view.
    if (opened) {
      const r = guide.getBoundingClientRect();
      if (r.top >= innerHeight || r.bottom <= 0) guide.scrollIntoView({ block: "start" });
    }
  }

  /** Divergence and saturated/dead units: banners with advice the server tried on this run. */
  showStatus(frame) {
    showHealth(frame, {
      setEta: (eta) => {
        this.actions.set({ learning_rate: eta });
        this.actions.reset();
      },
      reset: () => this.actions.reset(),
    });
  }

  /** The stream sends the selection's full-precision terms (frame.explain) once told what it is. */
  syncSelection() {
    const msg = JSON.stringify(selectMessage(this.store.selection));
    if (msg === this.sentSelection || !this.session?.open) return;
    this.sentSelection = msg;
    this.session.send(JSON.parse(msg));
  }

  /** Delete a run the page has left, once the history and timeline feeds no longer ask
   * about it (util.js retireRun). */
  closeRun(id) {
    return retireRun(id, [this.historyFeed, this.timelineFeed], (rid) => api.deleteRun(rid).catch(() => {}));
  }

  /** Another run (an opened document): the page moves to it as to a new run (its settings,
   * the link, the data, its stream); frames of the old run still on their way are dropped. */
  async switchRun(run) {
    this.session.stream?.close();
    this.frames.pending = null;
    await this.session.adopt(run);
    this.session.connect();
  }

  /** The server's config of the run becomes the page's settings. */
  adoptRun(run) {
    this.store.update({ settings: settingsFromRun(run, this.store.settings) });
  }

  /** What the link (and the teacher's preset) asked for that the page could not use, and why. */
  showIgnored(link) {
    const say = (items) => items.map((i) => `${i.key}=${i.value} (${i.reason})`).join("; ");
    const parts = [];
    if (link.hash.ignored.length) parts.push(`Ignored from the link: ${say(link.hash.ignored)}`);
    if (link.preset.ignored.length) parts.push(`Ignored from the teacher's preset: ${say(link.preset.ignored)}`);
    if (parts.length) banner.show("hash", { level: "info", dismiss: true, text: parts.join(". ") });
  }

  /** The run's stream and its life cycle, told what the page does with what arrives. */
  makeSession() {
    const s = this.store;
    return new Session(s, {
      frame: (f) => this.frames.push(f),
      rebuilt: (run) => this.adoptRun(run),
      serverError: (detail, sent) => {
        if (this.explain.weightError(detail, sent)) return; // shown by the weight's edit box
        banner.show("server", { level: "error", dismiss: true, text: `The server refused this: ${plainWords(detail)}` });
        if (s.run) this.adoptRun(s.run);
      },
      closed: () => {
        if (!s.frame || s.frame.status !== "running") return;
        const { history, ...shown } = s.frame; // its history is on the loss plot already
        s.update({ frame: { ...shown, status: "paused" } });
      },
      waiting: (wait, seconds) => (wait ? loading.waiting(seconds) : loading.asking()), // a 429 at start-up
      connected: () => {
        this.sentSelection = null; // a new stream knows no selection yet
        this.syncSelection();
        if (s.settings.speed !== s.run.steps_per_frame) this.session.send({ type: "speed", steps_per_frame: s.settings.speed });
      },
    });
  }

  /** Options and link, settings, the run, its stream: the page from nothing to live. */
  async boot() {
    const s = this.store;
    const fail = (text) => banner.show("boot", { level: "error", text, actions: [{ label: "Reload", run: () => location.reload() }] });
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
      return fail(`Cannot load the page's options from the server: ${err.text ?? err.message}`);
    }
    for (const f of opts.features) this.featureLabels[f.name] = f.label;
    const { value: link, error: linkError } = await linkRead;
    if (linkError) return fail(`Cannot read this page's link: ${linkError.message}`);
    const settings = initialSettings(opts, link, canonical);
    this.showIgnored(link);
    this.controls.build(opts);
    s.update({ options: opts, settings });
    this.session = this.makeSession();
    loading.phase("Building the network…");
    try {
      await this.session.start({ hashGiven: Object.keys(link.hash.config).length > 0 });
    } catch (err) {
      return fail(`Cannot start a run: ${err.text ?? err.message}`);
    }
    $("#walkthrough-btn").addEventListener("click", () => this.setMode(s.mode === "walkthrough" ? "normal" : "walkthrough"));
    $("#stepthrough-btn").addEventListener("click", () => this.setMode(s.mode === "stepthrough" ? "normal" : "stepthrough"));
    for (const b of document.querySelectorAll("[data-mode-btn]")) b.addEventListener("click", () => this.setMode(s.mode === b.dataset.modeBtn ? "normal" : b.dataset.modeBtn));
    $("#compare-btn").addEventListener("click", () => this.compare.open());
    // replaceState (our own writes) fires no hashchange: this is a learner or teacher editing it.
    window.addEventListener("hashchange", () => location.reload());
  }
}
