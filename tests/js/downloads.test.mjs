// static/js/downloads.js: the frame's numbers as a report's files. The CSV is read back as a
// reader would (split on commas, Number()) and must give the frame's own numbers, one row per
// neuron of every layer; the JSON keeps every tensor of the probe and the parameters.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { frameTensors, tensorsCSV } from "../../static/js/downloads.js";

// A 2-3-1 network's frame, trimmed to what the files read (numbers as a frame rounds them).
const FRAME = {
  run_id: "r1",
  step: 120,
  epoch: 4,
  sizes: [2, 3, 1],
  activations: ["tanh", "sigmoid"],
  cost_name: "quadratic",
  probe: { index: 17, x: [0.5, -1.25], y: [1], cost: 0.04321 },
  input: { a: [0.5, -1.25], mean_a: [0, 0] },
  layers: [
    { l: 2, activation: "tanh", z: [0.1234, -2.5e-5, 3], a: [0.1228, -2.5e-5, 0.9951], delta: [-0.0123, 1.5e-7, 0], sigma_prime: [0.98, 1, 0.0099], w: [[1, 2], [3, 4], [5, 6]], b: [0.1, 0.2, 0.3], grad_w: [[0, 0], [0, 0], [0, 0]], grad_b: [0, 0, 0] },
    { l: 3, activation: "sigmoid", z: [-0.75], a: [0.3208], delta: [-0.1481], sigma_prime: [0.2179], w: [[0.5, -0.5, 0.25]], b: [-0.1], grad_w: [[0.01, 0.02, 0.03]], grad_b: [0.04] },
  ],
};

describe("tensorsCSV", () => {
  test("one row per neuron, read back to the frame's numbers", () => {
    const lines = tensorsCSV(FRAME).trim().split("\n");
    assert.equal(lines[0], "layer,neuron,z,a,delta");
    const rows = lines.slice(1).map((r) => r.split(","));
    assert.equal(rows.length, 2 + 3 + 1);
    for (const r of rows) assert.equal(r.length, 5);
    // a¹ = x: no z, no δ.
    assert.deepEqual(rows.slice(0, 2).map((r) => [r[0], r[1], r[2], Number(r[3]), r[4]]), [["1", "1", "", 0.5, ""], ["1", "2", "", -1.25, ""]]);
    for (const L of FRAME.layers) {
      const mine = rows.filter((r) => Number(r[0]) === L.l);
      assert.deepEqual(mine.map((r) => Number(r[1])), L.a.map((_, j) => j + 1));
      assert.deepEqual(mine.map((r) => Number(r[2])), L.z);
      assert.deepEqual(mine.map((r) => Number(r[3])), L.a);
      assert.deepEqual(mine.map((r) => Number(r[4])), L.delta);
    }
  });
});

describe("frameTensors", () => {
  test("the probe's z, a, δ and the parameters of every layer, as in the frame", () => {
    const t = JSON.parse(JSON.stringify(frameTensors(FRAME)));
    assert.equal(t.step, 120);
    assert.deepEqual(t.sizes, [2, 3, 1]);
    assert.deepEqual(t.input.a, FRAME.input.a);
    assert.equal(t.probe.index, 17);
    assert.equal(t.layers.length, 2);
    for (const [i, L] of FRAME.layers.entries()) {
      for (const k of ["l", "z", "a", "delta", "sigma_prime", "w", "b", "grad_w", "grad_b"]) assert.deepEqual(t.layers[i][k], L[k], `${L.l} ${k}`);
    }
  });
});
