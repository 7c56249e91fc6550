// static/js/prediction.js: what the page says about one step's predicted and actual ΔC.
// The cases come from a cost whose step we can work out by hand: C(θ) = ½kθ². Gradient
// descent moves θ by Δθ = −ηkθ; the tangent predicts ΔC ≈ C′(θ)Δθ = −ηk²θ², and the step
// actually changes C by ½kθ²((1 − ηk)² − 1), so actual/predicted = 1 − ηk/2: close for a
// small ηk, less than half the prediction once ηk > 1, and uphill (the cost rises) for ηk > 2.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { FAR, predictionLabel, predictionVerdict } from "../../static/js/prediction.js";

function quadraticStep(k, theta, eta) {
  const C = (t) => 0.5 * k * t * t;
  const dTheta = -eta * k * theta;
  return { step: 1, predicted: k * theta * dTheta, actual: C(theta + dTheta) - C(theta) };
}

describe("predictionVerdict on C = ½kθ²", () => {
  test("a small η: close to the prediction, nothing said about η", () => {
    for (const eta of [0.001, 0.01, 0.1, 0.5]) {
      const v = predictionVerdict(quadraticStep(2, 1.3, eta));
      assert.equal(v.level, "ok", `η=${eta}`);
      assert.doesNotMatch(v.text, /too big/);
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
