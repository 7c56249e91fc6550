// static/js/digit_views.js: the predicted class is the largest output; the picker names the
// set by its shape. ("What the error says about each pixel", (w²)ᵀδ², is the frame's
// input.backward, summed on the server before rounding: tests/runs/test_frames.py.)

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { argmax, datasetLabel, imageShape, inkOf } from "../../static/js/digit_views.js";

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
