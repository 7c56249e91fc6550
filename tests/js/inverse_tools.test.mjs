// Issue 12's pure parts: what the shapes say (shapes.js), what a hover in the w / wᵀ view
// lights (transpose_view.js), the backward pass's beats (backward_anim.js), the inverse
// rule's verdict beside a nudge (nudge.js) and the comparison's curves and summary
// (feedback_compare.js). Expected values come from the notation (w^m is n_m × n_{m−1}), not
// from the code's output.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { beatLayers, neuronOf } from "../../static/js/backward_anim.js";
import { costBox, pathsFor, sameStart, summary } from "../../static/js/feedback_compare.js";
import { inverseVerdict } from "../../static/js/nudge.js";
import { allShapes, shapeOf, shapeSentence } from "../../static/js/shapes.js";
import { litBy, matrixFor } from "../../static/js/transpose_view.js";

describe("shapes", () => {
  const sizes = [2, 4, 2, 1]; // the default network: w² 4×2, w³ 2×4, w⁴ 1×2
  test("w^m is n_m × n_{m−1}", () => {
    assert.deepEqual(shapeOf(sizes, 2), [4, 2]);
    assert.deepEqual(shapeOf(sizes, 3), [2, 4]);
    assert.deepEqual(shapeOf(sizes, 4), [1, 2]);
  });
  test("the issue's own example: w³ is 2×4, so it has no inverse", () => {
    const s = shapeSentence(sizes, 3);
    assert.equal(s.square, false);
    assert.match(s.text, /w³ is 2×4/);
    assert.match(s.text, /it has no inverse/);
    assert.match(s.text, /4×2 matrix/); // going back needs n_2 × n_3
  });
  test("a square w may have an inverse, and the sentence does not deny it", () => {
    const s = shapeSentence([2, 3, 3, 1], 3);
    assert.equal(s.square, true);
    assert.doesNotMatch(s.text, /no inverse/);
  });
  test("every matrix listed", () => {
    assert.deepEqual(allShapes(sizes).map((x) => [x.m, ...x.shape, x.square]), [[2, 4, 2, false], [3, 2, 4, false], [4, 1, 2, false]]);
  });
});

describe("w and wᵀ view", () => {
  test("the matrix a selection points at", () => {
    assert.equal(matrixFor(null, 4), 3);
    assert.equal(matrixFor(null, 2), 2);
    assert.equal(matrixFor({ type: "edge", l: 4, j: 0, k: 1 }, 4), 4);
    assert.equal(matrixFor({ type: "neuron", l: 2, j: 0 }, 4), 3); // the matrix that carries its δ back
    assert.equal(matrixFor({ type: "neuron", l: 4, j: 0 }, 4), 4);
    assert.equal(matrixFor({ type: "neuron", l: 1, j: 0 }, 4), 2);
  });
  test("a row of w lights the edges entering j; a row of wᵀ the edges leaving k", () => {
    assert.deepEqual(litBy({ kind: "cell", j: 1, k: 3 }, [2, 4]), [[1, 3]]);
    assert.deepEqual(litBy({ kind: "row", j: 1 }, [2, 4]), [[1, 0], [1, 1], [1, 2], [1, 3]]);
    assert.deepEqual(litBy({ kind: "col", k: 2 }, [2, 4]), [[0, 2], [1, 2]]);
    assert.deepEqual(litBy(null, [2, 4]), []);
  });
});

describe("backward pass", () => {
  test("visits L, L−1, …, 2", () => {
    assert.deepEqual(beatLayers(4), [4, 3, 2]);
    assert.deepEqual(beatLayers(2), [2]);
  });
  test("writes BP2 for the selected neuron of that layer, else the largest |δ|", () => {
    assert.equal(neuronOf([0.1, -0.5, 0.2], 3, null), 1);
    assert.equal(neuronOf([0.1, -0.5, 0.2], 3, { type: "neuron", l: 3, j: 2 }), 2);
    assert.equal(neuronOf([0.1, -0.5, 0.2], 3, { type: "neuron", l: 2, j: 2 }), 1);
  });
});

describe("the inverse rule's verdict", () => {
  test("on the output layer it is backprop's (BP1 has no BP2)", () => {
    assert.equal(inverseVerdict({ measured: 0.98, backprop: 0.98, inverse: 0.98 }, 4, 4).kind, "output");
  });
  test("below, compared with the measured slope", () => {
    const v = inverseVerdict({ measured: 0.0821, backprop: 0.0821, inverse: 2.74 }, 2, 4);
    assert.equal(v.kind, "differs");
    assert.ok(Math.abs(v.ratio - 2.74 / 0.0821) < 1e-9);
    assert.equal(inverseVerdict({ measured: 0.5, backprop: 0.5, inverse: -0.5 }, 2, 4).sign, true);
    assert.equal(inverseVerdict({ measured: 0.123456, backprop: 0.123456, inverse: 0.123457 }, 2, 4).kind, "agrees");
    assert.equal(inverseVerdict({ measured: 0.1, backprop: 0.1, inverse: null }, 2, 4).kind, "none");
  });
});

describe("comparison", () => {
  test("paths: one point per step, a null breaks the line, y up", () => {
    const [d] = pathsFor([[{ x: 0, y: 1 }, { x: 5, y: 0.5 }, { x: 10, y: null }, { x: 10, y: 0 }]], { x0: 0, x1: 10, y0: 0, y1: 1 }, 100, 50);
    assert.equal(d, "M0.0,0.0L50.0,25.0M100.0,50.0");
  });
  test("the cost axis starts at 0 and holds the largest cost", () => {
    const b = costBox([[{ step: 0, cost: 0.5 }, { step: 500, cost: 0.2 }], [{ step: 500, cost: null }]]);
    assert.equal(b.x1, 500);
    assert.equal(b.y0, 0);
    assert.ok(b.y1 >= 0.5);
  });
  test("fair start: the same initial weights", () => {
    const f = (w) => ({ layers: [{ w }] });
    assert.equal(sameStart([f([[1, 2]]), f([[1, 2]])]), true);
    assert.equal(sameStart([f([[1, 2]]), f([[1, 2.5]])]), false);
  });
  test("the summary names each rule's cost at the same step and the lowest", () => {
    const r = (label, costs) => ({ label, diverged: false, points: costs.map((c, i) => ({ step: i * 25, cost: c })) });
    const s = summary([r("A", [0.5, 0.4, 0.3]), r("B", [0.5, 0.45]), r("C", [0.5, 0.2, 0.1])]);
    assert.match(s, /^After 25 steps/); // B has only reached step 25
    assert.match(s, /A 0\.4, B 0\.45, C 0\.2\./);
    assert.match(s, /Lowest here: C\./);
  });
});
