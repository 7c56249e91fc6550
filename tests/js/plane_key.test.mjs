// The output plot's colour key (static/js/boundary_plot.js planeKey): made from the map the
// plane is drawn with (colors.js outputMap), so the colour of a value on the key is the
// colour of that value on the plane; classes get one swatch each.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { planeKey } from "../../static/js/boundary_plot.js";
import { outputMap, rgbOf } from "../../static/js/colors.js";

describe("planeKey", () => {
  test("one output: a ramp over the plane's range whose stops are the plane's colours", () => {
    for (const range of [
      { lo: -1.15, hi: 1.15, mid: 0, cut: 0 }, // regression: ± the largest |target|
      { lo: 0, hi: 1, mid: 0.5, cut: 0.5 }, // sigmoid
      { lo: -1, hi: 1, mid: 0, cut: 0 }, // tanh
    ]) {
      const k = planeKey(range, false);
      assert.equal(k.type, "ramp");
      assert.deepEqual([k.lo, k.hi], [range.lo, range.hi]);
      const map = outputMap(range);
      assert.equal(k.stops.length, 11);
      k.stops.forEach((rgb, i) => assert.deepEqual(rgb, map(range.lo + (i / 10) * (range.hi - range.lo))));
      assert.deepEqual(k.stops[0], rgbOf(-1), "the low end is the scale's end");
      assert.deepEqual(k.stops[10], rgbOf(1));
    }
  });
  test("discretised: the two classes, split where the accuracy splits them", () => {
    const k = planeKey({ lo: 0, hi: 1, mid: 0.5, cut: 0.5 }, true);
    assert.equal(k.type, "swatches");
    assert.deepEqual(k.items.map((x) => x.text), ["a ≤ 0.5: −", "a > 0.5: +"]);
    const map = outputMap({ lo: 0, hi: 1, mid: 0.5, cut: 0.5, discrete: true });
    assert.deepEqual(k.items[0].rgb, map(0.5));
    assert.deepEqual(k.items[1].rgb, map(0.50001));
    assert.notDeepEqual(k.items[0].rgb, k.items[1].rgb);
  });
  test("several outputs: one swatch per class, the plane's class colours", () => {
    const range = { lo: 0, hi: 2, mid: 0, kind: "multiclass" };
    const k = planeKey(range, false);
    assert.deepEqual(k.items.map((x) => x.text), ["class 0", "class 1", "class 2"]);
    const map = outputMap(range);
    k.items.forEach((x, c) => assert.deepEqual(x.rgb, map(c)));
    assert.equal(new Set(k.items.map((x) => x.rgb.join())).size, 3);
  });
});
