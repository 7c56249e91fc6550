// Predicted versus actual change of the cost of one step (the frame's `prediction`,
// docs/frames.md): the tangent line's ΔC ≈ ∇C·Δθ made before the step beside the change the
// step then made on the same batch, and in plain words what the gap says about η; under a
// BP2 rule other than the transpose the step is not along −∇C, and what the gap says may be
// about the rule's direction instead (the prediction's `cos` and `longer`, predictionVerdict's
// `step`).

import { ABOUT } from "./quantities.js";
import { fmt, html, setHTML, unfmt } from "./util.js";

/** Actual is "far" from predicted when they differ by more than this share of the prediction. */
export const FAR = 0.5;
/** Within this share of the prediction, the step agrees with the first-order prediction. */
export const AGREE = 0.1;

const PCT = "\u00a0%"; // "33 %", never broken before the sign

/**
 * How far actual is from predicted, in the numbers the line shows (fmt's 4 significant
 * digits), so that the percent can be worked out from the page: {pct, more, share} with
 * share = |actual − predicted| / |predicted| of the shown values, pct its whole percent
 * (rounded half up) and more: the shown actual is above the shown prediction.
 */
export function predictionGap(predicted, actual) {
  const pr = unfmt(fmt(predicted));
  const ac = unfmt(fmt(actual));
  const share = Math.abs(ac - pr) / Math.abs(pr);
  return { pct: Math.round(100 * share), more: ac > pr, share };
}

/**
 * What a prediction says: {level: "ok" | "apart" | "far" | "uphill" | "diverged" | "less" |
 * "flat", text}, or null when there is nothing to say (no step predicted yet). The percent
 * the text gives is |actual − predicted| / |predicted| of the two numbers as the line shows
 * them (predictionGap), and the levels are read from that percent:
 * - diverged: the step made the cost not finite;
 * - uphill: the tangent said the cost falls, the step made it rise: η is too big;
 * - ok: within AGREE (10 %): agrees with the first-order prediction (and says by how much);
 * - apart: between AGREE and FAR (50 %): says how many percent more or less it changed;
 * - far: the cost fell by less than FAR of what was predicted: η may be too big (the cost
 *   curved up within the step, so the tangent line overshoots);
 * - less: the cost fell by more than FAR beyond the prediction (the surface curves down);
 * - flat: both changes are below 1e−12 (nothing to compare).
 *
 * `step` (optional) is the step's BP2 rule when it is not the transpose: {rule: its name,
 * cos, longer}: the prediction's own (the step's cosine to −∇C and its length in plain SGD
 * steps; null when not known, longer also with momentum). Backprop steps along −∇C,
 * so there a miss is η's; a rule's step is not, and where its predicted fall is small because
 * the step is nearly at right angles to the gradient (|cos| < RIGHT_ANGLE), or the step
 * points uphill, the texts that blamed η say so instead (the levels are the same).
 */
export function predictionVerdict(p, step = null) {
  if (!p || p.predicted === null || p.predicted === undefined) return null;
  const { predicted: pr, actual: ac } = p;
  const rule = step?.rule ? ruleWords(step) : null;
  if (ac === null || ac === undefined) return { level: "diverged", text: rule ? `the step made the cost overflow: η is far too big for ${rule.its}` : "the step made the cost overflow: η is far too big" };
  if (Math.abs(pr) < 1e-12 && Math.abs(ac) < 1e-12) return { level: "flat", text: rule ? `no change: ${rule.its} is about zero here, or the gradient is` : "no change: the gradient is about zero here" };
  if (pr < 0 && ac > 0) return { level: "uphill", text: rule ? `the step went uphill: ${rule.why}` : "the step went uphill: η is too big" };
  const UP = "the cost curves up along the step";
  const DOWN = "the cost curves down along the step";
  if (Math.abs(pr) < 1e-12) {
    // No change predicted (a zero slope along the step), but the cost moved: no percent of 0.
    if (ac > 0) return { level: "far", text: rule ? `far from the prediction: the cost rose where the tangent predicted no change (${rule.its} is at right angles to the gradient here)` : "far from the prediction: the cost rose where the tangent predicted no change; η may be too big" };
    return { level: "less", text: `the cost fell where the tangent predicted no change (${DOWN})` };
  }
  if (pr > 0 && ac <= 0) return { level: "less", text: `the cost fell where the tangent predicted a rise (${DOWN})` };
  const { pct, more } = predictionGap(pr, ac);
  // pr < 0: the cost fell (ac ≤ 0); pr > 0 (momentum, or a rule's step, can point uphill): it rose (ac > 0).
  const verb = pr < 0 ? "fell" : "rose";
  const moreLess = pr < 0 === more ? "less" : "more";
  const by = pct === 0 ? `${verb} as predicted, to within 1${PCT}` : `${verb} ${pct.toLocaleString("en-US")}${PCT} ${moreLess} than predicted`;
  if (pct <= AGREE * 100) return { level: "ok", text: `agrees with the first-order prediction: ${by}` };
  if (pct <= FAR * 100) return { level: "apart", text: `${by} (${more ? UP : DOWN})` };
  if (more && rule) return { level: "far", text: `far from the prediction: ${by}; ${pr > 0 ? `${rule.its} pointed uphill${rule.angle}, and ${UP}` : rule.short}` };
  if (more) return { level: "far", text: `far from the prediction: ${by}; η may be too big` };
  return { level: "less", text: `${by} (${DOWN})` };
}

/** Below this |cos| between a rule's step and −∇C, the step is "nearly at right angles" to
 * the gradient: it predicts a fall of under a fifth of a step as long along −∇C. */
export const RIGHT_ANGLE = 0.2;

/** The words predictionVerdict uses for a rule's step: {its, angle, why, short}. */
function ruleWords({ rule, cos, longer }) {
  const its = `the ${rule} rule's step`;
  const known = cos !== null && cos !== undefined && Number.isFinite(cos);
  const angle = known ? ` (cos ${fmt(cos, 2)} with the gradient)` : "";
  const long = Number.isFinite(longer) && longer >= 1.5 ? `, ${fmt(longer, 2)}× as long as backprop's` : "";
  if (known && Math.abs(cos) < RIGHT_ANGLE) {
    const nearly = `${its} was nearly at right angles to the gradient (cos ${fmt(cos, 2)})`;
    return { its, angle, why: `${nearly}, so it predicted almost no fall`, short: nearly };
  }
  if (known) {
    const tooBig = `η is too big for ${its} (cos ${fmt(cos, 2)} with the gradient${long})`;
    return { its, angle, why: tooBig, short: tooBig.replace("η is", "η may be") };
  }
  return {
    its,
    angle,
    why: `${its} is not along −∇C, so its predicted fall can be small`,
    short: `η may be too big for ${its}, which is not along −∇C`,
  };
}

const steps = (n) => `${n.toLocaleString("en-US")} ${n === 1 ? "step" : "steps"}`;

/**
 * Which update a prediction is of, in words, for a frame at `frameStep`: {head, note}. The
 * prediction is of one update (from step p.step − 1 to p.step) and of its own batch's cost
 * (p.batch examples); the frame may be later (a request of many steps predicts the first,
 * a playing run the one after its last grid frame), and then the steps since were not
 * predicted.
 */
export function predictionLabel(p, frameStep) {
  const to = p.step;
  const head = `ΔC of step ${(to - 1).toLocaleString("en-US")} → ${to.toLocaleString("en-US")}`;
  const m = p.batch;
  const over = m ? `one update on its batch of ${m.toLocaleString("en-US")} ${m === 1 ? "example" : "examples"}` : "one update on its batch";
  const later = (frameStep ?? to) - to;
  const since = later > 0 ? `; not the ${steps(later)} since` : "";
  return { head, note: `(${over}${since})` };
}

/** The line beside the loss: one step's predicted and actual ΔC, and the verdict. */
export class PredictionLine {
  constructor(el) {
    this.el = el;
  }

  /** rule: the run's BP2 rule (its registry name). Under a rule other than backprop's the verdict
   * reads the step's angle to −∇C from the prediction (its `cos`; its `longer` only without
   * momentum, where "as long as backprop's" is plain SGD's step). */
  update(frame, rule = null) {
    const p = frame.prediction;
    const other = !!rule && ABOUT.feedback[rule]?.exact === false; // the registry's word
    const longer = frame.hyper?.momentum ? null : (p?.longer ?? null);
    const v = predictionVerdict(p, other ? { rule, cos: p?.cos ?? null, longer } : null);
    this.el.hidden = !v;
    if (!v) return;
    this.el.dataset.level = v.level;
    const label = predictionLabel(p, frame.step);
    setHTML(
      this.el,
      html`<span class="nowrap" data-step="${p.step}">${label.head}</span>
        <span class="dim pred-note">${label.note}:</span>
        <span class="nowrap">predicted <b data-predicted="${p.predicted}">${fmt(p.predicted)}</b>,</span>
        <span class="nowrap">actual <b data-actual="${p.actual ?? ""}">${fmt(p.actual)}</b>.</span>
        <span class="verdict">${v.text[0].toUpperCase()}${v.text.slice(1)}.</span>`,
    );
    this.el.title = `Before a step, the slope of the cost along the update predicts its change: ΔC ≈ ∇C·Δθ (first order, the tangent line). After it, the change measured on the same batch. One update is predicted after each frame shown (the first of a request of many steps; while playing, one about 3 times a second). The percent is |actual − predicted| ÷ |predicted| of the two numbers as shown. Within ${AGREE * 100} % the step agrees with the first-order prediction; beyond it the line says how many percent more or less the cost changed. When η is too big the cost curves away within the step and the two part: "far" means they differ by more than ${FAR * 100} % of the prediction, the cost falling by less than half of it: η may be too big.`;
  }
}
