// static/js/digit_views.js: the digits' views compute (w²)ᵀδ², "what the error says about
// each pixel", from the frame's w² and δ² (the frame does not carry it). A learner who works it
// out by hand must get the same numbers; the predicted class is the largest output; the picker
// names the set by its shape.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { argmax, backToPixels, datasetLabel, imageShape, inkOf } from "../../static/js/digit_views.js";
import { rng } from "./exact.mjs";

describe("backToPixels: (w²)ᵀδ²", () => {
  test("a case worked by hand: 2 hidden neurons, 3 pixels", () => {
    // w² = [[1, 2, 3], [−1, 0.5, 4]], δ² = [0.5, −2]:
    //   pixel 1: 1·0.5 + (−1)·(−2) = 0.5 + 2 = 2.5
    //   pixel 2: 2·0.5 + 0.5·(−2) = 1 − 1 = 0
    //   pixel 3: 3·0.5 + 4·(−2) = 1.5 − 8 = −6.5
    assert.deepEqual(backToPixels([[1, 2, 3], [-1, 0.5, 4]], [0.5, -2]), [2.5, 0, -6.5]);
  });

  test("δ² = e_j gives row j of w² (the weights into neuron j), and it is linear in δ²", () => {
    const r = rng(13);
    const w = Array.from({ length: 30 }, () => Array.from({ length: 64 }, () => 2 * r() - 1));
    for (const j of [0, 7, 29]) {
      const e = Array.from({ length: 30 }, (_, i) => (i === j ? 1 : 0));
      assert.deepEqual(backToPixels(w, e), w[j]);
    }
    const d1 = Array.from({ length: 30 }, () => r() - 0.5);
    const d2 = Array.from({ length: 30 }, () => r() - 0.5);
    const sum = backToPixels(w, d1.map((v, i) => v + 3 * d2[i]));
    const parts = backToPixels(w, d1).map((v, k) => v + 3 * backToPixels(w, d2)[k]);
    sum.forEach((v, k) => assert.ok(Math.abs(v - parts[k]) < 1e-12, `pixel ${k}: ${v} vs ${parts[k]}`));
  });

  test("one value per input (64 for an 8×8 image)", () => {
    const w = Array.from({ length: 30 }, () => new Array(64).fill(0.25));
    const out = backToPixels(w, new Array(30).fill(0.1));
    assert.equal(out.length, 64);
    out.forEach((v) => assert.ok(Math.abs(v - 30 * 0.025) < 1e-12));
  });
});

describe("what the panel shows", () => {
  test("the predicted class is the largest output (the first of equals)", () => {
    assert.equal(argmax([0.1, 0.7, 0.2]), 1);
    assert.equal(argmax([0.4, 0.4, 0.2]), 0);
    assert.equal(argmax([-3, -1, -2]), 1);
  });

  test("pixels as ink: 0 is white paper, 1 black, clamped outside", () => {
    assert.deepEqual(inkOf(0), [255, 255, 255]);
    assert.deepEqual(inkOf(1), [0, 0, 0]);
    assert.deepEqual(inkOf(0.5), [128, 128, 128]);
    assert.deepEqual(inkOf(-0.2), [255, 255, 255]);
    assert.deepEqual(inkOf(1.3), [0, 0, 0]);
  });

  test("the picker's label says the image's shape and the classes", () => {
    assert.equal(datasetLabel({ name: "digits", image: [8, 8], n_classes: 10 }), "Digits (8×8, 10 classes)");
    assert.equal(datasetLabel({ name: "spiral", image: null, n_classes: 2 }), "spiral");
  });

  test("the image views apply only when the frame's inputs are the image's pixels", () => {
    const options = { datasets: [{ name: "digits", image: [8, 8] }, { name: "circle", image: null }] };
    const at = (dataset, n1) => imageShape({ options, settings: { dataset } }, { sizes: [n1, 30, 10] });
    assert.deepEqual(at("digits", 64), [8, 8]);
    assert.equal(at("digits", 2), null); // a frame of the run before the switch
    assert.equal(at("circle", 2), null);
  });
});
