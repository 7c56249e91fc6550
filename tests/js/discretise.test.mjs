// The output plot's Discretise option (static/js/boundary_plot.js, colors.js): each point of
// the plane is coloured by the class the server counts in the accuracy
// (app/core/datasets.py predicted_class: one output is positive where a > cut, strictly,
// with the cut of the output activation in the registry). A ReLU output that is exactly 0
// (a dead unit) is the − class; the page coloured it + (v ≥ mid) and painted a whole circle
// run blue. The box's title says what it does for each kind of output.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";

import { BoundaryPlot, discretiseTitle } from "../../static/js/boundary_plot.js";
import { isPositive, outputMap, rgbOf } from "../../static/js/colors.js";
import { learnChoices } from "../../static/js/quantities.js";

// The registry's copy (tests/api/test_registry.py checks it against GET /api/options).
const about = JSON.parse(readFileSync(new URL("./about.json", import.meta.url), "utf8"));
learnChoices(about);

const PLUS = rgbOf(0.75).join();
const MINUS = rgbOf(-0.75).join();
const data = { n_classes: 2, train: { labels: [-1, 1, 1, -1] } };
const single = Object.entries(about.activations).filter(([, a]) => a.elementwise);

describe("Discretise: the server's class rule, a > cut", () => {
  test("isPositive is strict", () => {
    assert.equal(isPositive(0, 0), false);
    assert.equal(isPositive(-0, 0), false);
    assert.equal(isPositive(5e-324, 0), true);
    assert.equal(isPositive(0.5, 0.5), false);
    assert.equal(isPositive(0.5000001, 0.5), true);
  });

  test("every one-output activation: the plot's range carries the registry's cut, and a = cut is −", () => {
    assert.ok(single.length >= 7, "tanh, sigmoid, ReLU, leaky ReLU, swish, GELU, linear");
    for (const [name, a] of single) {
      const frame = { kind: "classification", sizes: [2, 4, 1], activations: ["tanh", name] };
      const range = BoundaryPlot.prototype.outputRange.call(null, frame, data);
      assert.equal(range.cut, a.cut, `${name}: the registry's cut`);
      const map = outputMap({ ...range, discrete: true });
      const step = Math.max(1e-12, Math.abs(a.cut) * 1e-12);
      assert.equal(map(a.cut).join(), MINUS, `${name}: a = ${a.cut} is the − class`);
      assert.equal(map(a.cut + step).join(), PLUS, `${name}: just above the cut is +`);
      assert.equal(map(a.cut - step).join(), MINUS, `${name}: just below the cut is −`);
      assert.equal(map(a.cut + 10).join(), PLUS);
    }
  });

  test("no cut known: the continuous colours, never a guessed class", () => {
    const map = outputMap({ lo: -1, hi: 1, mid: 0, discrete: true });
    assert.deepEqual(map(0.5), rgbOf(0.5));
  });
});

describe("the Discretise box's title says what it does there", () => {
  test("one output: the rule with its cut", () => {
    const t = discretiseTitle("classification", "ReLU", 0);
    assert.match(t, /a > 0\b/);
    assert.match(t, /a ≤ 0\b/);
    assert.match(discretiseTitle("classification", "sigmoid", 0.5), /a > 0\.5/);
  });
  test("several classes: the plot already shows them", () => {
    assert.match(discretiseTitle("multiclass", "softmax", 0.5), /already shows each point's class/);
  });
  test("regression: why it is off", () => {
    const t = discretiseTitle("regression", "linear", 0);
    assert.match(t, /no classes/);
    assert.match(t, /ignored/);
  });
});
