// static/js/downloads.js: the frame's numbers as a report's files. The CSV is read back as a
// reader would (split on commas, Number()) and must give the frame's own numbers, every one of
// them, each in a row that names its quantity, its examples, its layer and its indices; the
// JSON keeps every tensor of the frame.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { cell, frameTensors, tensorsCSV } from "../../static/js/downloads.js";

const M = (rows, cols, f) => Array.from({ length: rows }, (_, j) => Array.from({ length: cols }, (_, k) => f(j, k)));
// Numbers that a rounding writer would spoil: 0.1 + 0.2 (0.30000000000000004), 1/3, tiny and
// huge ones, −0.
const odd = [0.1 + 0.2, 1 / 3, 1.5e-7, -2.5e-5, 123456789.125, -0, 7];
const pick = (seed) => odd[seed % odd.length] * (seed % 2 ? -1 : 1) + (seed % 5) / 1024;

// A 2-3-1 network's frame as the server sends one (docs/frames.md), with the feedback rule's
// true_* beside the rule's numbers on layer 2.
function frame() {
  let s = 0;
  const v = (n) => Array.from({ length: n }, () => pick(s++));
  const m = (r, c) => M(r, c, () => pick(s++));
  const layer = (l, n, np, act) => ({
    l,
    activation: act,
    z: v(n),
    a: v(n),
    delta: v(n),
    sigma_prime: v(n),
    mean: { z: v(n), a: v(n), delta: v(n), sigma_prime: v(n) },
    w: m(n, np),
    b: v(n),
    grad_w: m(n, np),
    grad_b: v(n),
    edges: { probe: { forward: m(n, np), backward: m(n, np), gradient: m(n, np) }, mean: { forward: m(n, np), backward: m(n, np), gradient: m(n, np) } },
    norms: { grad_b: 1, grad_w: 2, probe_delta: 3, probe_grad_w: 4 },
    alignment: 0.5,
  });
  const l2 = { ...layer(2, 3, 2, "tanh"), true_delta: v(3), true_grad_w: m(3, 2), true_grad_b: v(3) };
  return {
    run_id: "r1",
    step: 120,
    epoch: 4,
    sizes: [2, 3, 1],
    activations: ["tanh", "sigmoid"],
    cost_name: "quadratic",
    batch_cost: 0.1 + 0.7,
    probe: { index: 17, point: [0.5, -1.25], x: [0.5, -1.25], y: [1], cost: 0.04321 },
    input: { a: [0.5, -1.25], mean_a: [1 / 3, -0] },
    layers: [l2, layer(3, 1, 3, "sigmoid")],
  };
}

/** The CSV as a reader's program reads it: a header and one record per line. */
function readCSV(text) {
  assert.ok(text.endsWith("\n"));
  const [head, ...lines] = text.slice(0, -1).split("\n");
  const cols = head.split(",");
  return { cols, rows: lines.map((line) => Object.fromEntries(line.split(",").map((x, i) => [cols[i], x]))) };
}

describe("tensorsCSV: every number of the frame, one a row", () => {
  const f = frame();
  const { cols, rows } = readCSV(tensorsCSV(f));

  test("columns say which layer, neuron and input each number is", () => {
    assert.deepEqual(cols, ["quantity", "over", "layer", "j", "k", "value"]);
    for (const r of rows) assert.equal(Object.keys(r).length, 6, JSON.stringify(r));
  });

  test("one row per number: counted from the network's sizes alone", () => {
    // 2-3-1: a¹ probe and mean (2 + 2); per layer l with n neurons and n' inputs: 8 vectors
    // (z, a, δ, σ′ of the probe and of the mean) + b + ∂C/∂b = 10n, and w, ∂C/∂w and 6 edge
    // terms = 8·n·n'. Layer 2: true δ, ∂C/∂b (2·3) and ∂C/∂w (3·2). y (1), C twice.
    const expected = 4 + (10 * 3 + 8 * 3 * 2) + (10 * 1 + 8 * 1 * 3) + (6 + 6) + 1 + 2;
    assert.equal(rows.length, expected);
    const keys = rows.map((r) => `${r.quantity}|${r.over}|${r.layer}|${r.j}|${r.k}`);
    assert.equal(new Set(keys).size, keys.length, "no number twice");
  });

  test("each number reads back exactly as the frame's, found by its row's names", () => {
    const at = (q, over, l, j, k = "") => {
      const r = rows.find((x) => x.quantity === q && x.over === over && x.layer === String(l) && x.j === String(j) && x.k === String(k));
      assert.ok(r, `${q} ${over} ${l} ${j} ${k}`);
      return Number(r.value);
    };
    const same = (got, want, what) => assert.ok(Object.is(got, want), `${what}: ${got} ≠ ${want}`);
    f.input.a.forEach((v, j) => same(at("a", "probe", 1, j + 1), v, "a¹"));
    f.input.mean_a.forEach((v, j) => same(at("a", "batch mean", 1, j + 1), v, "mean a¹"));
    const vec = { z: "z", a: "a", delta: "delta", sigma_prime: "sigma_prime" };
    for (const L of f.layers) {
      for (const [key, q] of Object.entries(vec)) {
        L[key].forEach((v, j) => same(at(q, "probe", L.l, j + 1), v, `${q}^${L.l}_${j}`));
        L.mean[key].forEach((v, j) => same(at(q, "batch mean", L.l, j + 1), v, `mean ${q}^${L.l}_${j}`));
      }
      L.b.forEach((v, j) => same(at("b", "", L.l, j + 1), v, "b"));
      L.grad_b.forEach((v, j) => same(at("dC/db", "batch mean", L.l, j + 1), v, "dC/db"));
      const mats = [
        ["w", "", L.w],
        ["dC/dw", "batch mean", L.grad_w],
        ["w*a", "probe", L.edges.probe.forward],
        ["w*delta", "probe", L.edges.probe.backward],
        ["a*delta", "probe", L.edges.probe.gradient],
        ["w*a", "batch mean", L.edges.mean.forward],
        ["w*delta", "batch mean", L.edges.mean.backward],
        ["a*delta", "batch mean", L.edges.mean.gradient],
      ];
      if (L.true_delta) mats.push(["true_dC/dw", "batch mean", L.true_grad_w]);
      for (const [q, over, m] of mats) m.forEach((row, j) => row.forEach((v, k) => same(at(q, over, L.l, j + 1, k + 1), v, `${q}^${L.l}_${j}${k}`)));
    }
    f.layers[0].true_delta.forEach((v, j) => same(at("true_delta", "probe", 2, j + 1), v, "true δ"));
    f.layers[0].true_grad_b.forEach((v, j) => same(at("true_dC/db", "batch mean", 2, j + 1), v, "true dC/db"));
    same(at("y", "probe", 3, 1), 1, "y");
    same(at("C", "probe", "", ""), 0.04321, "C_x");
    same(at("C", "batch mean", "", ""), 0.1 + 0.7, "batch cost");
  });

  test("numbers in full, not rounded: the shortest text of the same double", () => {
    assert.equal(cell(0.1 + 0.2), "0.30000000000000004");
    assert.equal(cell(1 / 3), "0.3333333333333333");
    assert.equal(cell(-0), "-0");
    assert.equal(cell(1.5e-7), "1.5e-7");
    assert.equal(cell(null), "");
    const values = rows.map((r) => r.value);
    assert.ok(values.includes("0.30000000000000004") && values.includes("-0"));
  });

  test("a frame without a rule's true_* has no such rows", () => {
    const g = frame();
    delete g.layers[0].true_delta;
    delete g.layers[0].true_grad_w;
    delete g.layers[0].true_grad_b;
    assert.ok(!readCSV(tensorsCSV(g)).rows.some((r) => r.quantity.startsWith("true_")));
  });
});

describe("frameTensors", () => {
  test("every tensor of the frame, as in the frame", () => {
    const f = frame();
    const t = JSON.parse(JSON.stringify(frameTensors(f)));
    assert.equal(t.step, 120);
    assert.deepEqual(t.sizes, [2, 3, 1]);
    assert.deepEqual(t.input.a, f.input.a);
    assert.equal(t.probe.index, 17);
    assert.equal(t.layers.length, 2);
    for (const [i, L] of f.layers.entries()) {
      for (const k of ["l", "z", "a", "delta", "sigma_prime", "mean", "w", "b", "grad_w", "grad_b", "edges"]) assert.deepEqual(t.layers[i][k], JSON.parse(JSON.stringify(L[k])), `${L.l} ${k}`);
    }
    assert.deepEqual(t.layers[0].true_grad_w, JSON.parse(JSON.stringify(f.layers[0].true_grad_w)));
    assert.equal(t.layers[1].true_delta, undefined);
  });
});
