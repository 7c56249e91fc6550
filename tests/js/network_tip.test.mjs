// static/js/network_tip.js: the network view's tooltip says only what is true of the
// hovered neuron. The frames carry σ′ = 1 at an output where σ′ cancels in BP1
// (docs/frames.md); the tooltip must not present that 1 as σ′(z), which for a sigmoid
// output can never exceed ¼ (a learner review found "σ′(z⁴₁) = 1" at a = 0.4559).

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";

import { tipContent } from "../../static/js/network_tip.js";
import { learnChoices } from "../../static/js/quantities.js";
import { textOf } from "./exact.mjs";

learnChoices(JSON.parse(readFileSync(new URL("./about.json", import.meta.url), "utf8")));

/** A 2-2-1 frame: hidden tanh, output `out`, cost `cost`; the output's σ′ as the server
 * sends it (1 where it cancels), the hidden layer's the true tanh slope. */
function frame(out, cost, outSigmaPrime) {
  const node = (z, a, sp, d) => ({ z, a, sigma_prime: sp, delta: d });
  return {
    sizes: [2, 2, 1],
    activations: ["tanh", out],
    cost_name: cost,
    probe: { index: 3 },
    layers: [
      { l: 2, b: [0.1, -0.2], ...node([0.3, -0.5], [0.2913, -0.4621], [0.9151, 0.7864], [0.01, -0.02]), mean: node([0.1, 0.2], [0.1, 0.2], [0.99, 0.96], [0.0, 0.0]) },
      { l: 3, b: [0.05], ...node([-0.1769], [0.4559], [outSigmaPrime], [0.4559]), mean: node([-0.1], [0.47], [outSigmaPrime], [0.2]) },
    ],
  };
}

const shown = (f, l, j, over = "probe") => textOf(tipContent(f, { type: "neuron", l, j }, over).__raw);

describe("the neuron tooltip's σ′ line", () => {
  for (const [out, cost] of [["sigmoid", "cross_entropy"], ["softmax", "log_likelihood"]]) {
    test(`${cost} on a ${out} output: σ′ cancels, and no "σ′(z) = 1" is shown`, () => {
      for (const over of ["probe", "mean"]) {
        const text = shown(frame(out, cost, 1.0), 3, 0, over);
        assert.doesNotMatch(text, /σ′\(z³₁\)\s*=/, text);
        assert.match(text, /σ′\(z³₁\): cancels in BP1 \(δ³₁ = a − y\), not used/, text);
        assert.match(text, /δ³₁ = 0\.4559|mean δ³₁ = 0\.2/, text); // the rest is still there
      }
    });
  }

  test("quadratic cost on a sigmoid output: σ′ is used, and its value is shown", () => {
    const sp = 0.4559 * (1 - 0.4559); // a(1 − a) = 0.2481
    const text = shown(frame("sigmoid", "quadratic", sp), 3, 0);
    assert.match(text, /σ′\(z³₁\) = 0\.2481/, text);
    assert.doesNotMatch(text, /cancels/, text);
  });

  test("a hidden neuron always shows its σ′, whatever the output's cost", () => {
    const text = shown(frame("sigmoid", "cross_entropy", 1.0), 2, 1);
    assert.match(text, /σ′\(z²₂\) = 0\.7864/, text);
    assert.doesNotMatch(text, /cancels/, text);
  });
});

// A reviewer saw "z⁵₁ = 0, a⁵₁ = 0, δ⁵₁ = 0" marked "4 significant digits" beside b⁵₁ = 1e30
// in a diverged run: the server sends NaN as 0 and clips overflows to ±1e30 (docs/frames.md),
// so a diverged frame's tooltip says so.
describe("a diverged frame's tooltip", () => {
  test("says that 0 may stand for NaN and ±1e30 for an overflow", () => {
    const f = { ...frame("tanh", "quadratic", 0.5), status: "diverged" };
    for (const l of [2, 3]) {
      const text = shown(f, l, 0);
      assert.match(text, /Diverged: a value that overflowed shows as ±1e30, one that is not a number \(NaN\) as 0\./, text);
    }
    const ok = shown({ ...f, status: "paused" }, 3, 0);
    assert.doesNotMatch(ok, /Diverged/, ok);
  });
});
