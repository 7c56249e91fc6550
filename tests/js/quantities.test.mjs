// static/js/quantities.js: the numbers the explain panel and the guides write, read back as
// a reader reads them (the text of the MathML), and the frame read by the notation's names.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";

import { Sheet } from "../../static/js/digits.js";
import { activationEq, arith, bp2, evalTokens, explainFor, formulaMath, learnChoices, nodeVector, selectMessage, sigmaCancels } from "../../static/js/quantities.js";
import { html } from "../../static/js/util.js";
import { evaluateText, holds, ofFloat, readShown, rng, textOf } from "./exact.mjs";

// What GET /api/options says about each choice (tests/api/test_registry.py keeps this copy
// equal to the server's).
learnChoices(JSON.parse(readFileSync(new URL("./about.json", import.meta.url), "utf8")));

// The functions as the book defines them (app/core/activations.py uses leaky slope 0.01).
const SIGMA = {
  sigmoid: (z) => 1 / (1 + Math.exp(-z)),
  tanh: Math.tanh,
  relu: (z) => Math.max(0, z),
  leaky_relu: (z) => (z > 0 ? z : 0.01 * z),
  swish: (z) => z / (1 + Math.exp(-z)),
  linear: (z) => z,
};
const NAME = { sigmoid: "σ", tanh: "tanh", relu: "ReLU", leaky_relu: "leaky ReLU", swish: "swish", linear: "id" };

describe("activationEq: a = σ(z) written so that it holds", () => {
  for (const act of Object.keys(SIGMA)) {
    test(`${act}: σ of the shown z rounds to the shown a, and a is the true a rounded`, () => {
      const r = rng(21);
      for (let i = 0; i < 400; i += 1) {
        const z = (r() - 0.5) * (i < 300 ? 8 : 40);
        const a = SIGMA[act](z);
        const eq = activationEq(act, z, a);
        assert.ok(eq, `${act}(${z}) written`);
        const m = /^(.+)\((.+)\)=(.+)$/.exec(textOf(eq.__raw));
        assert.ok(m, `readable: ${textOf(eq.__raw)}`);
        assert.equal(m[1], NAME[act]);
        const zShown = Number(m[2].replace(/−/g, "-"));
        assert.ok(holds(ofFloat(SIGMA[act](zShown)), m[3]), `${m[1]}(${m[2]}) is not ${m[3]}`);
        assert.ok(holds(ofFloat(a), m[3]), `${m[3]} is not a = ${a} rounded`);
        assert.ok(readShown(m[3]).digits >= 4 || m[3] === "0");
      }
    });
  }

  test("softmax is not written neuron by neuron; GELU (no erf in JavaScript) not at all", () => {
    assert.equal(activationEq("softmax", 0.3, 0.5), null);
    assert.equal(activationEq("gelu", 1, 0.8413447460685429), null);
  });
});

describe("arith: a sheet's equation as the reader sees it", () => {
  test("the text reads back as arithmetic that holds, negatives in parentheses", () => {
    const r = rng(22);
    for (let c = 0; c < 200; c += 1) {
      const s = new Sheet();
      const lhs = [];
      let sum = 0;
      for (let j = 0; j < 1 + Math.floor(5 * r()); j += 1) {
        const w = r() - 0.5;
        const d = (r() - 0.5) * 0.1;
        sum += w * d;
        if (j) lhs.push(r() < 0.5 ? "+" : "−");
        if (lhs.at(-1) === "−") sum -= 2 * w * d;
        lhs.push(s.num(`w${j}`, w), "·", s.num(`d${j}`, d));
      }
      const e = s.eq(lhs, s.num("sum", sum));
      s.fit();
      const markup = arith(s, e, "bp2").__raw;
      const text = textOf(markup);
      const [left, right] = text.split("=");
      assert.ok(right !== undefined, `${text} has an =`);
      assert.doesNotMatch(left, /[+−·]−/, `${text}: a negative after an operator is in parentheses`);
      assert.ok(holds(evaluateText(left), right), `${text} does not hold`);
      assert.match(markup, /data-eq="bp2"/);
    }
  });

  test("≈ is written where the sheet could not make = hold", () => {
    const s = new Sheet();
    const e = s.eq([s.num("a", 1e16), "+", s.num("b", 1), "−", s.num("c", 1e16)], s.num("z", 0));
    s.fit();
    const text = textOf(arith(s, e, "x").__raw);
    assert.match(text, /≈0$/);
    assert.doesNotMatch(text, /=/);
  });
});

/** A 2-3-2 frame as docs/frames.md describes it (layers[i] is layer l = i + 2). */
function frame() {
  const w3 = [
    [0.1, -0.2, 0.3],
    [0.4, 0.5, -0.6],
  ];
  const d3 = [0.05, -0.02];
  const back = w3.map((row, j) => row.map((w) => w * d3[j]));
  return {
    activations: ["tanh", "sigmoid"],
    cost_name: "quadratic",
    input: { a: [0.7, -0.3], mean_a: [0.1, 0.2] },
    layers: [
      { w: [[1, 2], [3, 4], [5, 6]], z: [0.1, 0.2, 0.3], a: [0.0997, 0.1974, 0.2913], delta: [0.001, 0.002, 0.003], sigma_prime: [0.99, 0.96, 0.915], mean: { delta: [9, 9, 9] } },
      { w: w3, delta: d3, z: [0.4, 0.5], a: [0.6, 0.62], sigma_prime: [0.24, 0.23], edges: { probe: { backward: back } } },
    ],
    explain: { type: "neuron", l: 2, j: 1 },
  };
}

describe("reading a frame by the notation's names", () => {
  test("BP2 for neuron k of layer l collects column k of w^{l+1}: the transpose", () => {
    const f = frame();
    for (let k = 0; k < 3; k += 1) {
      const b = bp2(f, 2, k);
      assert.deepEqual(
        b.terms.map((t) => [t.j, t.w, t.delta]),
        [[0, f.layers[1].w[0][k], 0.05], [1, f.layers[1].w[1][k], -0.02]],
      );
      for (const t of b.terms) assert.equal(t.term, t.w * t.delta);
      assert.equal(b.sum, b.terms[0].term + b.terms[1].term);
      assert.deepEqual([b.sigmaPrime, b.delta, b.z], [f.layers[0].sigma_prime[k], f.layers[0].delta[k], f.layers[0].z[k]]);
    }
  });

  test("the input layer has a and z (the x) but no δ or σ′", () => {
    const f = frame();
    assert.deepEqual(nodeVector(f, 1, "a"), [0.7, -0.3]);
    assert.deepEqual(nodeVector(f, 1, "a", "mean"), [0.1, 0.2]);
    assert.equal(nodeVector(f, 1, "delta"), null);
    assert.equal(nodeVector(f, 1, "sigma_prime"), null);
    assert.deepEqual(nodeVector(f, 2, "delta", "mean"), [9, 9, 9]);
    assert.deepEqual(nodeVector(f, 3, "z"), [0.4, 0.5]);
  });

  test("σ′ cancels in BP1 for cross-entropy with sigmoid and log-likelihood with softmax only", () => {
    const cases = [
      ["cross_entropy", "sigmoid", true],
      ["log_likelihood", "softmax", true],
      ["quadratic", "sigmoid", false],
      ["cross_entropy", "tanh", false],
      ["quadratic", "softmax", false],
    ];
    for (const [cost, act, cancels] of cases) assert.equal(sigmaCancels({ cost_name: cost, activations: ["tanh", act] }), cancels, `${cost} + ${act}`);
  });

  test("a frame's explain is used only for the selection it answers", () => {
    const f = frame();
    assert.equal(explainFor(f, { type: "neuron", l: 2, j: 1 }), f.explain);
    assert.equal(explainFor(f, { type: "neuron", l: 2, j: 0 }), null);
    assert.equal(explainFor(f, { type: "edge", l: 2, j: 1, k: 0 }), null);
    assert.deepEqual(selectMessage({ type: "edge", l: 3, j: 0, k: 1 }), { type: "select", l: 3, j: 0, k: 1 });
    assert.deepEqual(selectMessage(null), { type: "select" });
  });
});

describe("registry formulas (GET /api/options → costs.grad_a, regularisers.grad_w)", () => {
  const about = JSON.parse(readFileSync(new URL("./about.json", import.meta.url), "utf8"));
  // ∂C_x/∂a_j of the textbook costs (Nielsen ch. 2, 3), written here apart from the page.
  const GRAD = {
    quadratic: (a, y) => a - y,
    cross_entropy: (a, y) => -y / a + (1 - y) / (1 - a),
    log_likelihood: (a, y) => -y / a,
  };
  test("each cost's ∇ₐC, evaluated as written, is the textbook derivative", () => {
    for (const [name, c] of Object.entries(about.costs)) {
      for (const [a, y] of [[0.3, 1], [0.8, 0], [0.55, 0.25]]) {
        const got = evalTokens(c.grad_a, { a, y });
        assert.ok(Math.abs(got - GRAD[name](a, y)) <= 1e-12 * Math.max(1, Math.abs(got)), `${name} at a=${a}, y=${y}: ${got}`);
      }
    }
  });
  test("each regulariser's r′(w): w for L2, sgn(w) for L1, none for none", () => {
    assert.equal(about.regularisers.none.grad_w, null);
    for (const w of [-2.5, -1e-3, 0, 0.7]) {
      assert.equal(evalTokens(about.regularisers.l2.grad_w, { w }), w);
      assert.equal(evalTokens(about.regularisers.l1.grad_w, { w }), Math.sign(w));
    }
  });
  test("a formula reads as it is written: precedence, unary minus, and what it cannot read", () => {
    assert.equal(evalTokens(["1", "−", "a", "·", "a"], { a: 0.5 }), 0.75);
    assert.equal(evalTokens(["a", "·", "(", "1", "−", "a", ")"], { a: 0.25 }), 0.1875);
    assert.equal(evalTokens(["−", "y", "/", "a"], { a: 4, y: 1 }), -0.25);
    assert.throws(() => evalTokens(["a", "−"], { a: 1 }));
    assert.throws(() => evalTokens(["q"], { a: 1 }), /unknown q/);
  });
  test("formulaMath writes a formula's tokens as MathML with the symbols given", () => {
    const m = formulaMath(["sgn", "(", "w", ")"], { w: html`<mi>W</mi>` }).__raw;
    assert.equal(m, "<mi>sgn</mi><mo>(</mo><mi>W</mi><mo>)</mo>");
    assert.equal(formulaMath(["1", "−", "a"]).__raw, "<mn>1</mn><mo>−</mo><mi>a</mi>");
  });
});
