// static/js/prediction.js: what the page says about one step's predicted and actual ΔC.
// The cases come from a cost whose step we can work out by hand: C(θ) = ½kθ². Gradient
// descent moves θ by Δθ = −ηkθ; the tangent predicts ΔC ≈ C′(θ)Δθ = −ηk²θ², and the step
// actually changes C by ½kθ²((1 − ηk)² − 1), so actual/predicted = 1 − ηk/2: the cost falls
// ηk/2 = 50·ηk % less than predicted, less than half the prediction once ηk > 1, and uphill
// (the cost rises) for ηk > 2. Other cases are worked out by hand from the two numbers shown.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { FAR, RIGHT_ANGLE, predictionGap, predictionLabel, predictionVerdict } from "../../static/js/prediction.js";

function quadraticStep(k, theta, eta) {
  const C = (t) => 0.5 * k * t * t;
  const dTheta = -eta * k * theta;
  return { step: 1, predicted: k * theta * dTheta, actual: C(theta + dTheta) - C(theta) };
}

describe("predictionVerdict on C = ½kθ²", () => {
  test("ηk ≤ 0.2: within 10 % of the prediction, which it agrees with (and says by how much)", () => {
    // k = 2: the cost falls η·100 % less than predicted.
    for (const [eta, says] of [
      [0.001, /^agrees with the first-order prediction: fell as predicted, to within 1\s%$/],
      [0.01, /^agrees with the first-order prediction: fell 1\s% less than predicted$/],
      [0.1, /^agrees with the first-order prediction: fell 10\s% less than predicted$/],
    ]) {
      const v = predictionVerdict(quadraticStep(2, 1.3, eta));
      assert.equal(v.level, "ok", `η=${eta}`);
      assert.match(v.text, says, `η=${eta}`);
      assert.doesNotMatch(v.text, /too big/);
    }
  });
  test("ηk between 0.2 and 1: not 'agrees' but how far off, in percent", () => {
    for (const [eta, pct] of [
      [0.15, 15],
      [0.33, 33],
      [0.5, 50],
    ]) {
      const v = predictionVerdict(quadraticStep(2, 1.3, eta));
      assert.equal(v.level, "apart", `η=${eta}`);
      assert.equal(v.text, `fell ${pct}\u00a0% less than predicted (the cost curves up along the step)`);
    }
  });
  test("ηk between 2·FAR and 2: the cost still falls but far less than predicted: η may be too big", () => {
    for (const etaK of [1.1, 1.5, 1.9]) {
      const v = predictionVerdict(quadraticStep(2, -0.7, etaK / 2));
      assert.ok(1 - etaK / 2 < 1 - FAR);
      assert.equal(v.level, "far", `ηk=${etaK}`);
      assert.match(v.text, /η may be too big/);
    }
  });
  test("ηk > 2: the step goes uphill: η is too big", () => {
    const v = predictionVerdict(quadraticStep(1, 0.4, 2.5));
    assert.equal(v.level, "uphill");
    assert.match(v.text, /η is too big/);
  });
});

describe("predictionVerdict's other cases", () => {
  test("nothing predicted yet: nothing shown", () => {
    assert.equal(predictionVerdict(null), null);
    assert.equal(predictionVerdict({ step: 3, predicted: null, actual: null }), null);
  });
  test("a diverging step (actual null) says η is far too big", () => {
    assert.match(predictionVerdict({ step: 3, predicted: -0.2, actual: null }).text, /too big/);
  });
  test("a cost that falls by more than predicted is not blamed on η", () => {
    const v = predictionVerdict({ step: 3, predicted: -0.01, actual: -0.03 });
    assert.equal(v.level, "less");
    assert.doesNotMatch(v.text, /too big/);
  });
  test("no change at all is not a gap", () => {
    assert.equal(predictionVerdict({ step: 3, predicted: 0, actual: 0 }).level, "flat");
  });
});

describe("predictionVerdict: the percent is of the two numbers shown, and says which way", () => {
  // (actual − predicted) / |predicted| by hand; the line shows each number to 4 digits.
  const verdict = (predicted, actual) => predictionVerdict({ step: 3, predicted, actual });
  test("predicted −0.1, actual −0.067: fell 33 % less than predicted, not 'close'", () => {
    const v = verdict(-0.1, -0.067); // 0.033 / 0.1
    assert.equal(v.level, "apart");
    assert.match(v.text, /^fell 33\s% less than predicted \(the cost curves up along the step\)$/);
    assert.doesNotMatch(v.text, /close|agrees/);
  });
  test("the page's own case: predicted −0.1095, actual −0.0734 is 33 % less", () => {
    assert.match(verdict(-0.1095, -0.0734).text, /^fell 33\s% less than predicted/); // 0.0361 / 0.1095 = 0.3297
  });
  test("the 10 % boundary: 9 % and 10 % agree, 11 % does not", () => {
    assert.deepEqual(
      [verdict(-0.2, -0.182), verdict(-0.1, -0.09), verdict(-0.1, -0.089)].map((v) => [v.level, v.text]),
      [
        ["ok", "agrees with the first-order prediction: fell 9\u00a0% less than predicted"],
        ["ok", "agrees with the first-order prediction: fell 10\u00a0% less than predicted"],
        ["apart", "fell 11\u00a0% less than predicted (the cost curves up along the step)"],
      ],
    );
  });
  test("fell more than predicted: 4 % agrees, 11 % and 50 % say so, 51 % is 'less'", () => {
    assert.equal(verdict(-0.25, -0.26).text, "agrees with the first-order prediction: fell 4\u00a0% more than predicted");
    const v = verdict(-0.1, -0.111);
    assert.equal(v.level, "apart");
    assert.equal(v.text, "fell 11\u00a0% more than predicted (the cost curves down along the step)");
    assert.equal(verdict(-0.1, -0.15).level, "apart");
    const w = verdict(-0.1, -0.151);
    assert.equal(w.level, "less");
    assert.equal(w.text, "fell 51\u00a0% more than predicted (the cost curves down along the step)");
  });
  test("the FAR boundary: 50 % less is said in percent, 51 % less is far: η may be too big", () => {
    assert.equal(verdict(-0.1, -0.05).level, "apart");
    const v = verdict(-0.1, -0.049);
    assert.equal(v.level, "far");
    assert.equal(v.text, "far from the prediction: fell 51\u00a0% less than predicted; η may be too big");
    assert.equal(FAR, 0.5);
  });
  test("the percent is of the numbers as shown (4 digits), not of the unrounded ones", () => {
    // Shown: predicted −0.1, actual −0.08951: (0.1 − 0.08951) / 0.1 = 10.49 % → 10 %, agrees.
    // Unrounded (−0.100049, −0.089507) it would be 10.54 % → 11 %.
    assert.deepEqual(predictionGap(-0.100049, -0.089507).pct, 10);
    const v = verdict(-0.100049, -0.089507);
    assert.equal(v.level, "ok");
    assert.match(v.text, /fell 10\s% less than predicted/);
  });
  test("a predicted rise (momentum can step uphill): rose more or less than predicted", () => {
    assert.equal(verdict(0.02, 0.025).text, "rose 25\u00a0% more than predicted (the cost curves up along the step)");
    assert.equal(verdict(0.02, 0.019).text, "agrees with the first-order prediction: rose 5\u00a0% less than predicted");
    assert.equal(verdict(0.02, 0.04).level, "far");
    assert.equal(verdict(0.02, -0.001).level, "less");
    assert.match(verdict(0.02, -0.001).text, /fell where the tangent predicted a rise/);
  });
  test("no change predicted but the cost moved: no percent of zero", () => {
    assert.equal(verdict(0, 0.01).level, "far");
    assert.equal(verdict(0, -0.01).level, "less");
    assert.doesNotMatch(verdict(0, 0.01).text + verdict(0, -0.01).text, /%|Infinity|NaN/);
  });
});

describe("predictionLabel: which update, over what", () => {
  const p = { step: 1, predicted: -0.01, actual: -0.009, batch: 10 };
  test("the frame at the predicted step: that update alone", () => {
    assert.deepEqual(predictionLabel(p, 1), { head: "ΔC of step 0 → 1", note: "(one update on its batch of 10 examples)" });
  });
  test("a frame ten steps on (POST /step of 10): the first update, the nine since not predicted", () => {
    assert.deepEqual(predictionLabel(p, 10), { head: "ΔC of step 0 → 1", note: "(one update on its batch of 10 examples; not the 9 steps since)" });
    assert.deepEqual(predictionLabel({ ...p, step: 1200, batch: 1 }, 1201), { head: "ΔC of step 1,199 → 1,200", note: "(one update on its batch of 1 example; not the 1 step since)" });
  });
});

// Under a BP2 rule other than the transpose the step is not along −∇C. On C(θ) = ½‖θ‖² in two
// dimensions at θ = (1, 0), ∇C = (1, 0); a rule whose gradient g is ρ times as long as ∇C at
// an angle φ to it steps Δθ = −ηg, so the tangent predicts ∇C·Δθ = −ηρ cos φ and the step
// changes C by −ηρ cos φ + ½η²ρ² (worked out by hand). The server's prediction carries the
// step's cos to −∇C (cos φ) and its length in plain SGD steps (ρ) (docs/frames.md).
function ruleStep(eta, rho, phi) {
  const p = { step: 1, predicted: -eta * rho * Math.cos(phi), actual: -eta * rho * Math.cos(phi) + 0.5 * eta * eta * rho * rho, cos: Math.cos(phi), longer: rho };
  return { p, angle: { cos: p.cos, longer: p.longer } };
}

describe("predictionVerdict under a feedback rule (the step is not along −∇C)", () => {
  const deg = Math.PI / 180;
  test("a step nearly at right angles to the gradient goes uphill at an η backprop falls with: not blamed on η", () => {
    // φ = 89.9°: the tangent predicts −5.2e−5, the step rises by 3.98e−4. Backprop's step at the
    // same η (φ = 0, ρ = 1) falls: −0.03 + 0.00045.
    const { angle, p } = ruleStep(0.03, 1, 89.9 * deg);
    const backprop = ruleStep(0.03, 1, 0).p;
    assert.ok(backprop.actual < 0 && p.predicted < 0 && p.actual > 0);
    const v = predictionVerdict(p, { rule: "random", ...angle });
    assert.equal(v.level, "uphill");
    assert.doesNotMatch(v.text, /η is too big/);
    assert.equal(v.text, "the step went uphill: the random rule's step was nearly at right angles to the gradient (cos 0.0017), so it predicted almost no fall");
    // The same numbers under backprop keep backprop's text.
    assert.equal(predictionVerdict(p).text, "the step went uphill: η is too big");
  });
  test("a step well along the gradient that goes uphill: η is too big for the rule's step, 13× as long as backprop's", () => {
    const { angle, p } = ruleStep(0.2, 13, 60 * deg); // −1.3 predicted, +2.08 actual
    assert.ok(p.predicted < 0 && p.actual > 0);
    const v = predictionVerdict(p, { rule: "inverse", ...angle });
    assert.equal(v.text, "the step went uphill: η is too big for the inverse rule's step (cos 0.5 with the gradient, 13× as long as backprop's)");
  });
  test("far below the prediction: the right angle or η, whichever the step's angle says", () => {
    // φ = 85°: cos 0.087 < RIGHT_ANGLE; ηρ = 0.1 makes actual/predicted = 1 − ηρ/(2 cos φ) = 0.43.
    const near = ruleStep(0.1, 1, 85 * deg);
    assert.ok(Math.cos(85 * deg) < RIGHT_ANGLE);
    const v = predictionVerdict(near.p, { rule: "random", ...near.angle });
    assert.equal(v.level, "far");
    assert.equal(v.text, "far from the prediction: fell 57\u00a0% less than predicted; the random rule's step was nearly at right angles to the gradient (cos 0.087)");
    // φ = 60°, ρ = 2, η = 0.6: actual/predicted = 1 − 1.2 = −0.2 would be uphill; η = 0.35: 0.3.
    const along = ruleStep(0.35, 2, 60 * deg);
    const w = predictionVerdict(along.p, { rule: "inverse", ...along.angle });
    assert.equal(w.text, "far from the prediction: fell 70\u00a0% less than predicted; η may be too big for the inverse rule's step (cos 0.5 with the gradient, 2× as long as backprop's)");
  });
  test("a rule's step that points uphill and rises more than predicted: the direction, not η", () => {
    const { angle, p } = ruleStep(0.6, 1, 120 * deg); // predicted +0.3, actual +0.48
    const v = predictionVerdict(p, { rule: "random", ...angle });
    assert.equal(v.level, "far");
    assert.equal(v.text, "far from the prediction: rose 60\u00a0% more than predicted; the random rule's step pointed uphill (cos −0.5 with the gradient), and the cost curves up along the step");
  });
  test("without the step's angle (its frame not seen): the rule's direction named, η not blamed alone", () => {
    const { p } = ruleStep(0.03, 1, 89.9 * deg);
    const v = predictionVerdict(p, { rule: "random", cos: null, longer: null });
    assert.equal(v.level, "uphill");
    assert.doesNotMatch(v.text, /η is too big/);
    assert.match(v.text, /^the step went uphill: the random rule's step is not along −∇C/);
  });
});
