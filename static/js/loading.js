// The loading state: what the page is doing before its first frame is drawn, and while its
// interactive plots are still on their way. The markup (templates/index.html) starts with
// "Loading the page…", the top bar and the panels inert, and the transport buttons disabled,
// so nothing looks ready before it is; main.js moves it through the phases. The first frame
// (drawn with the plots' stand-ins, plots.js) hands the controls over; the message then
// shrinks to a note beside the explain panel's title saying the plots are still loading, until
// Plotly has drawn them (neuron clicks already work: network_plot.js).

import { $, $$ } from "./util.js";

const box = () => $("#loading");
let drawn = false;

export const PLOTS_LOADING = "Interactive plots loading (hover, clicks)…";

export const loading = {
  /** Say what is happening now ("Connecting to the server…"). */
  phase(text) {
    const el = box();
    if (!el) return;
    el.dataset.phase = text;
    $(".loading-text", el).textContent = text;
  },

  /**
   * The first frame is drawn (every later call does nothing): hand the controls over. With
   * plotsPending the note stays, beside the explain title, saying the interactive plots are still loading.
   */
  done(plotsPending = false) {
    const el = box();
    if (!el || drawn) return;
    drawn = true;
    document.body.classList.remove("booting");
    for (const part of $$("header.topbar, main.layout")) part.inert = false;
    // A control locked by the link (lock=…) stays disabled: controls.js marks it .locked.
    // (▶ is enabled by every frame's controls.renderFrame, from the run's status.)
    for (const b of $$("[data-boot-disabled]")) {
      b.removeAttribute("data-boot-disabled");
      b.disabled = !!b.closest(".locked");
    }
    performance.mark("bpv-first-draw"); // bench/bench_page.py: navigation → drawn page
    if (plotsPending) {
      // The note floats at the top right of the explain panel, its text flowing around it:
      // it covers no control and no plot (a fixed corner note hid "log scale").
      $("#explain")?.prepend(el);
      el.classList.add("plots");
      this.phase(PLOTS_LOADING);
    } else {
      el.hidden = true;
    }
  },

  /** Plotly has drawn the plots (they replaced their stand-ins): the note goes. */
  plotsReady() {
    const el = box();
    if (el && drawn) el.hidden = true;
    performance.mark("bpv-plots-ready"); // bench/bench_page.py: navigation → interactive plots
  },

  /** Plotly.js could not be loaded: the pictures stay (true, not interactive); say so. */
  plotsFailed(text) {
    const el = box();
    if (!el) return;
    el.classList.add("failed");
    this.phase(text);
  },

  /**
   * Start-up waits for the server (a 429: no training slot for this page yet; the banner says
   * why). With seconds the spinner keeps turning and the note counts down with the banner;
   * without, nothing happens until the learner acts, so the spinner stops.
   */
  waiting(seconds = null) {
    const el = box();
    if (!el || drawn) return;
    el.classList.toggle("waiting", seconds === null);
    this.phase(seconds === null ? "Waiting for a training slot: see the message above." : `Waiting for a training slot: trying again in ${seconds} s…`);
  },

  /** The wait is over: asking again (the spinner turns again). */
  asking() {
    const el = box();
    if (!el || drawn) return;
    el.classList.remove("waiting");
    this.phase("Asking the server for a training slot…");
  },

  /** Start-up failed (the banner says why): stop claiming progress. */
  fail(text = "The page could not start: see the message above.") {
    const el = box();
    if (!el || el.hidden || drawn) return;
    el.classList.add("failed");
    this.phase(text);
  },
};
