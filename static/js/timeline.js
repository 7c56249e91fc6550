// Rewind: a timeline under the loss curve. A slider over the run's steps whose marks are the
// kept snapshots (GET /api/runs/{id}/timeline, docs/api.md "Rewind"); dragging it, or the
// arrow keys, asks for the latest kept step at or before the thumb, and the run's frame at
// that step comes back through the same path as the stream's frames (app.js), so every view
// shows the network as it was then. Play trains on from there.
//
// Pure helpers first (tests/js/timeline.test.mjs), then TimelineFeed (when to ask the server
// for the kept steps: at most once per second while they are stale), Scrubber (one rewind in
// flight, the latest asked wins) and the Timeline view.

import { $, html, kickThrottled, setHTML } from "./util.js";

const KEYS_PER_PAGE = 10; // PageUp / PageDown move this many kept steps

/** The latest kept step ≤ s (steps ascending); the earliest when s is before all of them. */
export function keptAtOrBefore(steps, s) {
  if (!steps.length) return null;
  let lo = 0;
  let hi = steps.length - 1;
  if (s < steps[0]) return steps[0];
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (steps[mid] <= s) lo = mid;
    else hi = mid - 1;
  }
  return steps[lo];
}

/**
 * The kept step a key moves to from step `at`: ArrowLeft/Down the one before, ArrowRight/Up
 * the one after, PageDown/PageUp ten of them, Home/End the first and last. null for other
 * keys (they are left to the browser).
 */
export function keyTarget(steps, at, key) {
  if (!steps.length) return null;
  const here = steps.indexOf(keptAtOrBefore(steps, at));
  const exact = steps[here] === at;
  const last = steps.length - 1;
  const move = (d) => steps[Math.max(0, Math.min(last, d < 0 && !exact ? here + d + 1 : here + d))];
  switch (key) {
    case "ArrowLeft":
    case "ArrowDown":
      return move(-1);
    case "ArrowRight":
    case "ArrowUp":
      return move(1);
    case "PageDown":
      return move(-KEYS_PER_PAGE);
    case "PageUp":
      return move(KEYS_PER_PAGE);
    case "Home":
      return steps[0];
    case "End":
      return steps[last];
    default:
      return null;
  }
}

/** The slider's range: from 0 to the last step there is (kept, or trained since). */
export function sliderMax(steps, step) {
  return Math.max(1, step ?? 0, steps.length ? steps[steps.length - 1] : 0);
}

/**
 * Marks for the kept steps on a strip `width` px wide over [0, max]: {x, step, ahead}; marks
 * closer than 2 px to the previous one are merged into it (128 snapshots, a narrow phone),
 * except the first and last kept steps, which are always marked.
 * ahead: the snapshot is after the step shown (kept aside after a rewind, until training).
 */
export function markPositions(steps, max, width, shown) {
  const out = [];
  let lastX = -Infinity;
  steps.forEach((s, i) => {
    const x = max > 0 ? (s / max) * width : 0;
    const final = i === steps.length - 1; // the last kept step is always marked
    if (x - lastX < 2 && !final) return;
    if (x - lastX < 2 && out.length > 1) out.pop();
    lastX = x;
    out.push({ x, step: s, ahead: shown !== null && shown !== undefined && s > shown });
  });
  return out;
}

/** "1,234": a step as the page's counters print it. */
export const stepText = (s) => Number(s).toLocaleString("en-US");

/** What is kept, in words: "· 57 kept steps, 0–5,120 (187 of 1,000 kB)". */
export function keptText(steps, tl) {
  if (!steps.length) return "· no kept steps yet";
  const n = steps.length;
  const span = n === 1 ? `step ${stepText(steps[0])}` : `${stepText(steps[0])}–${stepText(steps[n - 1])}`;
  const kb = (b) => stepText(Math.round(b / 1000));
  return `· ${n} kept ${n === 1 ? "step" : "steps"}, ${span} (${kb(tl.bytes)} of ${kb(tl.budget_bytes)} kB)`;
}

/**
 * When to ask for the timeline: whenever the frame on screen is not the step the timeline
 * was read at (the run trained, was rewound, reset or replaced), but at most once per
 * `every` ms, and never two requests at once; a request that was held back is made when its
 * time comes (a trailing call), so a run that pauses ends with its timeline up to date.
 */
export class TimelineFeed {
  /** get(runId) → the timeline; put(timeline with run_id); now() in ms; later(fn, ms). */
  constructor({ get, put, every = 1000, now = () => performance.now(), later = (fn, ms) => setTimeout(fn, ms) }) {
    Object.assign(this, { get, put, every, clock: now, later });
    this.last = -Infinity;
    this.inFlight = false;
    this.timer = null;
    this.want = null; // {runId, step}: what is on screen
    this.have = null; // {runId, step}: what the last timeline read said
  }

  /** The page shows this run at this step. */
  frame(runId, step) {
    this.want = { runId, step };
    if (this.have && this.have.runId === runId && this.have.step === step) return;
    this.kick();
  }

  /** The run changed under the page (a rewind): ask again soon, whatever the steps say. */
  stale() {
    this.have = null;
    this.kick();
  }

  kick() {
    kickThrottled(this);
  }

  async fetch() {
    const runId = this.want.runId;
    this.inFlight = true;
    this.last = this.clock();
    try {
      const tl = await this.get(runId);
      this.have = { runId, step: tl.step };
      this.put({ ...tl, run_id: runId });
    } catch {
      // A run gone or a lost connection (the session says so): asked again on the next
      // frame, never in a loop of its own.
      this.have = null;
      return;
    } finally {
      this.inFlight = false;
    }
    const w = this.want; // null: the run was left meanwhile (retireRun)
    if (w && (w.runId !== this.have.runId || w.step !== this.have.step)) this.kick();
  }
}

/** Rewinds one at a time: while one is on its way, only the latest step asked is kept. */
export class Scrubber {
  /** go(step): a promise, settled when that step is on screen (or refused). */
  constructor(go) {
    this.go = go;
    this.target = null;
    this.busy = null;
  }

  /** Ask for step s; resolves once the latest step asked has been shown. */
  to(s) {
    this.target = s;
    this.busy ??= this.run();
    return this.busy;
  }

  async run() {
    try {
      while (this.target !== null) {
        const s = this.target;
        this.target = null;
        try {
          await this.go(s);
        } catch {
          // go says what went wrong itself; the next step asked is still tried
        }
      }
    } finally {
      this.busy = null;
    }
  }
}

/**
 * The timeline under the loss curve. Draws from the frame (the step shown) and the store's
 * timeline (the kept steps); onScrub(step) asks to go to a kept step (the App rewinds).
 */
export class Timeline {
  /** align(): the loss plot's plot area {left, right} in px from its edges, or null: the
   * slider's track is laid under it, so that a step is under the same step of the curve. */
  constructor(root, { onScrub, align = () => null }) {
    this.align = align;
    this.root = root;
    this.track = $(".tl-track", root);
    this.range = $("input[type=range]", root);
    this.marks = $(".tl-marks", root);
    this.label = $(".tl-step", root);
    this.kept = $(".tl-kept", root);
    this.onScrub = onScrub;
    this.steps = [];
    this.shown = null; // the frame's step
    this.asked = null; // the step asked for and not yet on screen
    this.dragging = false;
    this.marksKey = "";
    const r = this.range;
    r.addEventListener("pointerdown", () => (this.dragging = true));
    window.addEventListener("pointerup", () => (this.dragging = false));
    r.addEventListener("input", () => this.ask(keptAtOrBefore(this.steps, Number(r.value))));
    r.addEventListener("keydown", (ev) => {
      const to = keyTarget(this.steps, this.asked ?? this.shown ?? 0, ev.key);
      if (to === null) return;
      ev.preventDefault();
      this.ask(to);
    });
    new ResizeObserver(() => this.drawMarks(true)).observe(root);
  }

  /** Go to kept step `step` (once: a drag asks for the same step at every pixel). */
  ask(step) {
    if (step === null || step === undefined || step === this.asked) return;
    if (this.asked === null && step === this.shown && this.status !== "running") return; // there already
    this.asked = step;
    if (!this.dragging) this.range.value = String(step);
    this.say();
    // onScrub resolves once the latest step asked is on screen (or was refused).
    Promise.resolve(this.onScrub(step)).finally(() => {
      if (this.asked !== step) return;
      this.asked = null;
      if (!this.dragging) this.range.value = String(this.shown ?? 0);
      this.say();
    });
  }

  /** Draw: the frame's step and, when it belongs to this run, the store's timeline. */
  update(frame, store) {
    const tl = store.timeline?.run_id === store.run?.id ? store.timeline : null;
    this.steps = tl?.steps ?? [];
    this.budget = tl;
    this.shown = frame.step;
    this.status = frame.status;
    if (this.asked === frame.step) this.asked = null;
    const r = this.range;
    r.max = String(sliderMax(this.steps, frame.step));
    r.disabled = this.steps.length === 0 || store.locked("timeline");
    if (!this.dragging && this.asked === null) r.value = String(frame.step);
    this.say();
    const a = this.align();
    if (a) {
      // The thumb's centre travels 7 px in from the track's ends (its width is 14 px).
      this.track.style.marginLeft = `${Math.max(0, Math.round(a.left - 7))}px`;
      this.track.style.marginRight = `${Math.max(0, Math.round(a.right - 7))}px`;
    }
    this.drawMarks(false);
  }

  /** The step shown (or on its way), and what is kept, in words. */
  say() {
    const going = this.asked !== null && this.asked !== this.shown;
    this.label.textContent = going ? `going back to step ${stepText(this.asked)}…` : `step ${stepText(this.shown ?? 0)}`;
    this.label.dataset.step = String(this.shown ?? 0);
    const s = this.steps;
    const tl = this.budget;
    this.kept.textContent = keptText(s, tl);
    this.range.setAttribute("aria-valuetext", `step ${stepText(this.asked ?? this.shown ?? 0)}`);
  }

  /** The kept steps as ticks on the track (redrawn when they, the step or the width change). */
  drawMarks(resized) {
    const width = Math.max(0, this.marks.clientWidth);
    const max = Number(this.range.max);
    const key = `${this.steps.length}|${this.steps[this.steps.length - 1]}|${max}|${this.shown}|${width}`;
    if (!resized && key === this.marksKey) return;
    this.marksKey = key;
    const marks = markPositions(this.steps, max, width, this.shown);
    const ticks = marks.map((m) => html`<line x1="${m.x.toFixed(1)}" x2="${m.x.toFixed(1)}" y1="0" y2="7" class="${m.ahead ? "ahead" : "kept"}" data-step="${m.step}"></line>`);
    this.marks.setAttribute("viewBox", `0 0 ${Math.max(1, width)} 7`);
    setHTML(this.marks, html`${ticks}`);
    this.marks.dataset.count = String(marks.length);
  }
}
