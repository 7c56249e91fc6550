// "Compare rules" (issue 12, item 2): the learner's current settings trained under every
// feedback rule the server offers (GET /api/options `feedback`: the transpose, the inverse, a
// random matrix), side by side. Each rule is a separate run made through the API with the same
// seed (so the same data, initial weights and batches: docs/api.md) and deleted when the view
// is closed or the page leaves. At most one run per rule (3), made one after the other; a
// refusal (429: the server's per-client cap) is shown in the server's words and the runs made
// so far are deleted. The view draws each rule's training cost over the steps and, per layer,
// the alignment of its weight step with the true gradient step (frames' `alignment`).

import { ApiError } from "./api.js";
import { fmt, html, setHTML, sub, sup } from "./util.js";

const ROUND = 25; // steps per request and rule
const ROUNDS = 20; // requests per rule for one "Train" press: 500 steps
const MAX_STEPS = 5000; // the most this view trains a rule for
const COLORS = ["#1f6feb", "#d9480f", "#7e3fbf", "#2b8a3e"];

const runPath = (id) => `/api/runs/${encodeURIComponent(id)}`;

async function call(method, path, body, { keepalive = false } = {}) {
  let res;
  try {
    res = await fetch(path, { method, keepalive, headers: { "Content-Type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, "the server cannot be reached");
  }
  if (res.status === 204) return null;
  const payload = await res.json().catch(() => null);
  if (!res.ok) {
    const err = new ApiError(res.status, payload?.detail ?? res.statusText);
    err.reason = payload?.reason ?? null;
    throw err;
  }
  return payload;
}

/** One point of a rule's series from a frame: its step, training cost and each layer's
 * alignment (null where the frame has none). */
export function pointOf(frame) {
  return { step: frame.step, cost: frame.train?.cost ?? null, align: frame.layers.map((x) => x.alignment ?? null) };
}

/**
 * SVG path data for series of points {x, y} in a box {x0, x1, y0, y1} (data ranges) drawn in
 * w × h pixels (y up); a null y breaks the line. Returns one "M…L…" string per series.
 */
export function pathsFor(series, box, w, h) {
  const sx = (x) => ((x - box.x0) / (box.x1 - box.x0 || 1)) * w;
  const sy = (y) => h - ((y - box.y0) / (box.y1 - box.y0 || 1)) * h;
  return series.map((pts) => {
    let d = "";
    let pen = false;
    for (const p of pts) {
      if (p.y === null || p.y === undefined || !Number.isFinite(p.y)) {
        pen = false;
        continue;
      }
      d += `${pen ? "L" : "M"}${sx(p.x).toFixed(1)},${sy(Math.max(box.y0, Math.min(box.y1, p.y))).toFixed(1)}`;
      pen = true;
    }
    return d;
  });
}

/** The y range of a cost plot: 0 to the largest cost seen (a little above). */
export function costBox(all) {
  let x1 = 1;
  let y1 = 0;
  for (const pts of all) for (const p of pts) {
    x1 = Math.max(x1, p.step);
    if (p.cost !== null && Number.isFinite(p.cost)) y1 = Math.max(y1, p.cost);
  }
  return { x0: 0, x1, y0: 0, y1: y1 > 0 ? y1 * 1.05 : 1 };
}

/** The first step at which the initial weights of runs (their step-0 frames) differ, as a
 * check that the comparison is fair: true when every w of every layer is the same. */
export function sameStart(frames) {
  const key = (f) => JSON.stringify(f.layers.map((x) => x.w));
  return frames.every((f) => key(f) === key(frames[0]));
}

/** What was measured, in plain words: each rule's training cost after the same steps. */
export function summary(rules) {
  const done = rules.filter((r) => r.points.length);
  if (!done.length) return "";
  const step = Math.min(...done.map((r) => r.points[r.points.length - 1].step));
  const at = done.map((r) => ({ r, p: [...r.points].reverse().find((p) => p.step <= step) }));
  const parts = at.map(({ r, p }) => `${r.label} ${p?.cost === null || p?.cost === undefined ? "—" : fmt(p.cost)}${r.diverged ? " (diverged)" : ""}`);
  const ok = at.filter(({ r, p }) => !r.diverged && p && p.cost !== null);
  const best = ok.length ? ok.reduce((b, x) => (x.p.cost < b.p.cost ? x : b)) : null;
  return `After ${step.toLocaleString("en-US")} steps, training cost: ${parts.join(", ")}.${best && ok.length > 1 ? ` Lowest here: ${best.r.label}.` : ""}`;
}

export class FeedbackCompare {
  /** config(): the run settings the learner has now; options(): GET /api/options. */
  constructor({ config, options }) {
    this.config = config;
    this.options = options;
    this.root = null;
    this.rules = [];
    this.gen = 0; // a closed view's loop stops at its next await
    this.state = "closed";
    this.message = "";
    addEventListener("pagehide", () => this.deleteAll({ keepalive: true }));
  }

  get isOpen() {
    return this.state !== "closed";
  }

  /** Make the runs (one per rule) and train them; the view shows progress as it goes. */
  async open() {
    if (this.isOpen) return;
    const gen = ++this.gen;
    if (!this.root) {
      this.root = document.createElement("div");
      this.root.className = "compare-panel";
      this.root.setAttribute("role", "dialog");
      this.root.setAttribute("aria-label", "Compare feedback rules");
      this.root.addEventListener("click", (ev) => {
        const b = ev.target.closest("[data-cmp]");
        if (!b) return;
        if (b.dataset.cmp === "close") this.close();
        else if (b.dataset.cmp === "more") this.train(this.gen);
        else if (b.dataset.cmp === "retry") this.close().then(() => this.open());
        else if (b.dataset.cmp === "nudge") this.nudgeAll(this.gen);
      });
      document.body.append(this.root);
    }
    this.root.hidden = false;
    const opts = this.options();
    const about = opts.about?.feedback ?? {};
    const cfg = this.config();
    this.cfg = cfg;
    this.rules = opts.feedback.slice(0, 3).map((name, i) => ({ name, label: about[name]?.label ?? name, exact: !!about[name]?.exact, color: COLORS[i], id: null, points: [], diverged: false, start: null }));
    this.state = "making";
    this.message = "";
    this.nudges = null;
    this.draw();
    for (const r of this.rules) {
      try {
        const run = await call("POST", "/api/runs", { ...cfg, feedback: r.name });
        if (gen !== this.gen) return call("DELETE", runPath(run.id)).catch(() => null); // closed meanwhile
        r.id = run.id;
        r.start = await call("GET", `${runPath(r.id)}/frame?grid=false`);
        r.points.push(pointOf(r.start));
      } catch (err) {
        if (gen !== this.gen) return;
        this.state = "refused";
        const text = err instanceof ApiError ? err.text : String(err);
        this.message =
          err instanceof ApiError && err.status === 429
            ? `The server refused another run: “${text}”. This comparison needs ${this.rules.length} runs besides this page's own; close other tabs of this page (or wait for an idle run to be freed) and try again.`
            : `The server refused a run for “${r.label}”: ${text}`;
        await this.deleteAll();
        this.draw();
        return;
      }
      this.draw();
    }
    await this.train(gen);
  }

  /** Train every rule ROUND steps at a time, ROUNDS times (a diverged rule stops). */
  async train(gen) {
    if (gen !== this.gen || this.state === "training") return;
    this.state = "training";
    this.draw();
    for (let i = 0; i < ROUNDS; i++) {
      for (const r of this.rules) {
        if (r.diverged || !r.id) continue;
        const last = r.points[r.points.length - 1];
        if (last.step >= MAX_STEPS) continue;
        try {
          const f = await call("POST", `${runPath(r.id)}/step?grid=false`, { steps: ROUND });
          if (gen !== this.gen) return;
          r.points.push(pointOf(f));
          if (f.status === "diverged") r.diverged = true;
        } catch (err) {
          if (gen !== this.gen) return;
          if (err instanceof ApiError && err.status === 409) r.diverged = true;
          else {
            this.state = "refused";
            this.message = `Training “${r.label}” failed: ${err instanceof ApiError ? err.text : String(err)}`;
            this.draw();
            return;
          }
        }
      }
      this.draw();
    }
    this.state = "done";
    this.draw();
  }

  /**
   * Each rule's own prediction for one slope beside the measured one, on each run as it is
   * now (POST .../nudge: `rule` is what the run's rule predicts, `measured` the central
   * difference): z of neuron 1 in the last hidden layer, the first layer a rule acts on.
   */
  async nudgeAll(gen) {
    const L = this.rules.find((r) => r.start)?.start.sizes.length ?? 0;
    if (L < 3 || this.state !== "done") return;
    const body = { of: "z", l: L - 1, j: 0 };
    this.nudges = { l: L - 1, rows: null };
    this.draw();
    const rows = [];
    for (const r of this.rules) {
      try {
        rows.push({ r, a: r.id ? await call("POST", `${runPath(r.id)}/nudge`, body) : null });
      } catch (err) {
        rows.push({ r, error: err instanceof ApiError ? err.text : String(err) });
      }
      if (gen !== this.gen) return;
    }
    this.nudges = { l: L - 1, rows };
    this.draw();
  }

  nudgeView() {
    const L = this.rules.find((r) => r.start)?.start.sizes.length ?? 0;
    if (L < 3 || this.state !== "done") return html``;
    const n = this.nudges;
    const button = html`<button data-cmp="nudge">Nudge z${sup(L - 1)}${sub(1)} on each run</button>`;
    if (!n) return html`<p class="compare-nudge">${button} <span class="dim small">measures the slope ∂C/∂z on each run's probe and puts each rule's own prediction beside it.</span></p>`;
    if (!n.rows) return html`<p class="compare-nudge dim">Nudging…</p>`;
    return html`<div class="compare-nudge">${button}
      <table class="terms" data-cmp-nudge><tr><th></th><th>measured slope</th><th>the rule predicted</th></tr>
      ${n.rows.map(({ r, a, error }) => html`<tr data-cmp-nudge-rule="${r.name}"><td>${r.label}</td>${error || !a ? html`<td colspan="2">${error ?? "no run"}</td>` : html`<td class="num" data-v="${a.measured}">${fmt(a.measured, 6)}</td><td class="num" data-v="${a.rule ?? ""}">${a.rule === null ? "not finite" : fmt(a.rule, 6)}</td>`}</tr>`)}</table>
      <p class="note">Each run at its own weights now (so the measured slopes differ between runs). A rule whose prediction matches the measured slope carries the true error back; 6 significant digits shown.</p></div>`;
  }

  /** Stop, delete the runs, hide the view. */
  async close() {
    this.gen += 1;
    this.state = "closed";
    if (this.root) this.root.hidden = true;
    await this.deleteAll();
  }

  async deleteAll({ keepalive = false } = {}) {
    const ids = this.rules.map((r) => r.id).filter(Boolean);
    for (const r of this.rules) r.id = null;
    await Promise.all(ids.map((id) => call("DELETE", runPath(id), undefined, { keepalive }).catch(() => null)));
  }

  draw() {
    if (!this.root || this.state === "closed") return;
    const rules = this.rules;
    const cfg = this.cfg ?? {};
    const busy = this.state === "making" || this.state === "training";
    const made = rules.filter((r) => r.id).length;
    const status =
      this.state === "making"
        ? `Making the runs… (${made} of ${rules.length})`
        : this.state === "training"
          ? `Training… step ${Math.max(0, ...rules.map((r) => r.points.at(-1)?.step ?? 0)).toLocaleString("en-US")}`
          : "";
    const starts = rules.map((r) => r.start).filter(Boolean);
    const fair = starts.length === rules.length && starts.length > 1 ? sameStart(starts) : null;
    const canMore = this.state === "done" && rules.some((r) => !r.diverged && (r.points.at(-1)?.step ?? 0) < MAX_STEPS);
    setHTML(
      this.root,
      html`<div class="compare-head"><b>Compare the rules that carry δ back</b><span class="grow"></span>
        <button data-cmp="close" class="x" aria-label="close the comparison">×</button></div>
        <p class="note">Your network (${(cfg.hidden ?? []).join("-") || "no hidden layers"} hidden, ${cfg.dataset ?? ""}, η = ${cfg.learning_rate ?? ""}, seed ${cfg.seed ?? ""}) trained once per rule, in separate runs on the server that this view deletes when you close it. ${fair === true ? html`<span data-cmp-fair>Same seed: the initial weights of the ${rules.length} runs are identical (checked), and they see the same batches.</span>` : fair === false ? html`<b>The initial weights differ between the runs: this comparison is not fair.</b>` : ""}</p>
        ${this.message ? html`<p class="weight-error" role="alert" data-cmp-error>${this.message} <button data-cmp="retry">Try again</button></p>` : html``}
        <p class="dim small" data-cmp-status>${status}</p>
        ${(cfg.hidden ?? [1]).length === 0 ? html`<p data-cmp-nohidden><b>This network has no hidden layer:</b> BP2 is never used (the output's δ comes from BP1), so every rule trains it exactly alike. Add a hidden layer to see them differ.</p>` : html``}
        <div class="compare-legend">${rules.map((r) => html`<span data-cmp-rule="${r.name}" data-cmp-run="${r.id ?? ""}"><i style="background:${r.color}"></i>${r.label}${r.exact ? " = backprop" : ""}${r.diverged ? " (diverged)" : ""}</span>`)}</div>
        ${this.state === "refused" ? html`` : html`<div class="compare-plots">
          <figure class="compare-loss"><figcaption>Training cost over the steps</figcaption>${this.lossSVG()}</figure>
          <figure class="compare-align"><figcaption>Alignment per layer: cos of the angle between the rule's weight step and the true gradient step (1: the same direction, 0: at right angles, below 0: uphill)</figcaption>
            <div class="align-grid">${this.alignSVGs()}</div></figure>
        </div>
        <p data-cmp-summary>${summary(rules)}</p>
        <p class="note">The output layer's alignment is 1 under every rule (BP1 uses no BP2); the rules differ from layer L−1 down. These are measurements on this network and this seed, not a general law: a lower cost here says which run went further down on this data, while only the transpose's step is the gradient (alignment 1). Change the settings and compare again.</p>`}
        ${this.nudgeView()}
        <p class="compare-actions">${canMore ? html`<button data-cmp="more">Train ${ROUND * ROUNDS} more steps</button>` : html``} ${busy ? html`<span class="dim small">working…</span>` : html``}</p>`,
    );
  }

  lossSVG() {
    const W = 420;
    const H = 170;
    const box = costBox(this.rules.map((r) => r.points));
    const paths = pathsFor(this.rules.map((r) => r.points.map((p) => ({ x: p.step, y: p.cost }))), box, W, H);
    return html`<svg class="compare-svg" viewBox="-34 -8 ${W + 44} ${H + 26}" role="img" aria-label="training cost of each rule over the steps">
      <line x1="0" y1="${H}" x2="${W}" y2="${H}" class="axis"/><line x1="0" y1="0" x2="0" y2="${H}" class="axis"/>
      <text x="-4" y="${H}" class="tick" text-anchor="end">0</text><text x="-4" y="8" class="tick" text-anchor="end">${fmt(box.y1, 2)}</text>
      <text x="0" y="${H + 14}" class="tick">0</text><text x="${W}" y="${H + 14}" class="tick" text-anchor="end">step ${box.x1.toLocaleString("en-US")}</text>
      ${this.rules.map((r, i) => html`<path d="${paths[i]}" stroke="${r.color}" data-cmp-curve="${r.name}" data-points="${r.points.length}" fill="none" stroke-width="2"/>`)}
    </svg>`;
  }

  alignSVGs() {
    const first = this.rules.find((r) => r.points.length);
    if (!first) return html``;
    const nLayers = first.points[0].align.length;
    const W = 200;
    const H = 70;
    const x1 = Math.max(1, ...this.rules.flatMap((r) => r.points.map((p) => p.step)));
    const box = { x0: 0, x1, y0: -1, y1: 1 };
    return Array.from({ length: nLayers }, (_, i) => {
      const l = i + 2;
      const paths = pathsFor(this.rules.map((r) => r.points.map((p) => ({ x: p.step, y: p.align[i] }))), box, W, H);
      const now = this.rules.map((r) => r.points.at(-1)?.align[i]);
      return html`<div class="align-cell" data-cmp-layer="${l}"><div class="small">layer ${l}: ${this.rules.map((r, n) => html`<span style="color:${r.color}" data-cmp-align="${r.name}">${now[n] === null || now[n] === undefined ? "—" : fmt(now[n], 3)}</span> `)}</div>
        <svg class="compare-svg" viewBox="-22 -4 ${W + 26} ${H + 8}" role="img" aria-label="alignment of layer ${l}">
          <line x1="0" y1="${H / 2}" x2="${W}" y2="${H / 2}" class="axis zero"/><line x1="0" y1="0" x2="0" y2="${H}" class="axis"/>
          <text x="-3" y="6" class="tick" text-anchor="end">1</text><text x="-3" y="${H / 2 + 3}" class="tick" text-anchor="end">0</text><text x="-3" y="${H}" class="tick" text-anchor="end">−1</text>
          ${this.rules.map((r, n) => html`<path d="${paths[n]}" stroke="${r.color}" fill="none" stroke-width="1.6"/>`)}
        </svg></div>`;
    });
  }
}
