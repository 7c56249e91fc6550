// The network's colour scales after a rebuild (static/js/colors.js StableScale.reset,
// quantities.js rebuiltBetween). Switching circle → plane at step 0 kept circle's ±0.3 / ±1
// for plane's ±0.015 / ±0.07 values (the network drawn almost white for steps): the scale
// settled only when the step went down, and a rebuild goes from step 0 to step 0.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { StableScale } from "../../static/js/colors.js";
import { rebuiltBetween } from "../../static/js/quantities.js";

const KEY = "backward|probe|linear";
const frame = (over = {}) => ({ run_id: "r1", step: 0, sizes: [2, 4, 2, 1], activations: ["tanh", "tanh", "tanh"], data_changed: false, ...over });

describe("StableScale.reset", () => {
  test("at rest, step 0 to step 0: without a reset the old range stays, after one it fits", () => {
    const kept = new StableScale().update(KEY, 0.27, 0, true);
    assert.equal(kept.r, 0.3);
    kept.update(KEY, 0.014, 0, true);
    assert.equal(kept.r, 0.3, "the hysteresis keeps a range over a redraw of the same step");
    const s = new StableScale().update(KEY, 0.27, 0, true);
    s.reset().update(KEY, 0.014, 0, true);
    assert.equal(s.r, 0.015);
    assert.equal(s.clipped, false);
  });

  test("playing: after a reset the next frame settles, then the hysteresis is back", () => {
    const s = new StableScale().update(KEY, 0.9, 5);
    s.reset().update(KEY, 0.06, 0);
    assert.equal(s.r, 0.07);
    s.update(KEY, 0.05, 1); // a little under: stays
    assert.equal(s.r, 0.07);
  });
});

describe("rebuiltBetween: when the page's scales start again", () => {
  test("the first frame after a rebuild, another run, other sizes or activations", () => {
    const a = frame();
    assert.equal(rebuiltBetween(a, frame({ data_changed: true })), true);
    assert.equal(rebuiltBetween(a, frame({ run_id: "r2" })), true);
    assert.equal(rebuiltBetween(a, frame({ sizes: [2, 4, 1] })), true);
    assert.equal(rebuiltBetween(a, frame({ activations: ["relu", "tanh", "tanh"] })), true);
  });
  test("not: the next step, a redraw of the same frame, the page's first frame", () => {
    const a = frame({ data_changed: true });
    assert.equal(rebuiltBetween(a, frame({ step: 1 })), false);
    assert.equal(rebuiltBetween(a, a), false, "a redraw (hover, selection) of the rebuilt frame");
    assert.equal(rebuiltBetween(null, a), false);
  });
});
