// static/js/gradient_strip.js: what the heat strip shows over the run (issue 13, item 1).
// Its selector offers ‖∂C/∂w‖ and ‖δ‖ always and a saturated / dead share only where the live
// strip shows that count (the activation registry, tests/js/about.json); a choice not offered
// now is drawn as ‖∂C/∂w‖ but kept; a share is said as count/n and a percentage that is never
// rounded to 0 % or 100 % unless it is; norms come from the Values source's series on a log
// scale, shares are count / n on a linear one, and a layer whose count means nothing has no
// values and says why.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";

import { NONE_RGB, OTHER_RGB, heatOffered, heatPick, heatSeries, layerRows, otherProbes, seqRgb, shareRgb, shareText, shownCounts } from "../../static/js/gradient_strip.js";
import { learnChoices } from "../../static/js/quantities.js";

const about = JSON.parse(readFileSync(new URL("./about.json", import.meta.url), "utf8"));
learnChoices(about);

const luminance = ([r, g, b]) => 0.2126 * r + 0.7152 * g + 0.0722 * b;

/** The strip's rows of a 2-4-2-1 network with these activations for layers 2, 3, 4. */
function rows(acts, health = [{ l: 2, n: 4, saturated: 0, dead: 0 }, { l: 3, n: 2, saturated: 0, dead: 0 }]) {
  return layerRows({ sizes: [2, 4, 2, 1], layers: acts.map((activation, i) => ({ l: i + 2, activation, norms: {} })), health: { layers: health } }, "probe");
}

/** A history of three points of that network (the output never counted: σ′ cancels). */
const HISTORY = {
  step: [10, 20, 30],
  layers: [
    { l: 2, probe_delta: [1e-5, 2e-5, 0], probe_grad_w: [3e-5, 4e-5, 5e-5], grad_b: [1, 2, 3], grad_w: [4, 5, 6], saturated: [0, 1, 4], dead: [0, 0, 0] },
    { l: 3, probe_delta: [0.1, 0.2, 0.3], probe_grad_w: [0.4, 0.5, 0.6], grad_b: [7, 8, 9], grad_w: [10, 11, 12], saturated: [2, null, 1], dead: [1, 2, 2] },
    { l: 4, probe_delta: [0.5, 0.5, 0.5], probe_grad_w: [0.7, 0.7, 0.7], grad_b: [1, 1, 1], grad_w: [1, 1, 1], saturated: null, dead: null },
  ],
};

describe("the selector", () => {
  test("offers a count only where the live strip shows its row", () => {
    assert.deepEqual(heatOffered(shownCounts(rows(["sigmoid", "sigmoid", "sigmoid"]))), ["grad", "delta", "saturated"]);
    assert.deepEqual(heatOffered(shownCounts(rows(["relu", "relu", "linear"]))), ["grad", "delta", "dead"]);
    assert.deepEqual(heatOffered(shownCounts(rows(["relu", "tanh", "sigmoid"]))), ["grad", "delta", "saturated", "dead"]);
    assert.deepEqual(heatOffered(shownCounts(rows(["linear", "linear", "linear"]))), ["grad", "delta"]);
  });
  test("a count that is not 0 is offered even where the activation cannot have it (as the live strip shows it)", () => {
    const r = rows(["linear", "linear", "linear"], [{ l: 2, n: 4, saturated: 0, dead: 1 }]);
    assert.deepEqual(heatOffered(shownCounts(r)), ["grad", "delta", "dead"]);
  });
  test("a choice not offered is drawn as ‖∂C/∂w‖; offered again, it is drawn again", () => {
    assert.equal(heatPick("saturated", ["grad", "delta", "dead"]), "grad");
    assert.equal(heatPick("saturated", ["grad", "delta", "saturated"]), "saturated");
    assert.equal(heatPick("delta", ["grad", "delta"]), "delta");
    assert.equal(heatPick("nonsense", ["grad", "delta"]), "grad");
  });
});

describe("shareText", () => {
  test("count/n and the percentage", () => {
    assert.equal(shareText(5, 8), "5/8 = 62.5 %");
    assert.equal(shareText(0, 8), "0/8 = 0 %");
    assert.equal(shareText(8, 8), "8/8 = 100 %");
    assert.equal(shareText(1, 3), "1/3 = 33.3 %");
    assert.equal(shareText(null, 8), "—");
    assert.equal(shareText(3, null), "3");
  });
  test("a share that is neither none nor all is never said 0 % or 100 %", () => {
    assert.equal(shareText(1, 3000), "1/3000 = <0.1 %");
    assert.equal(shareText(2999, 3000), "2999/3000 = >99.9 %");
  });
  test("the percentage is within 0.05 of count/n for every count of every n up to 200", () => {
    for (let n = 1; n <= 200; n++) {
      for (let c = 0; c <= n; c++) {
        const m = shareText(c, n).match(/^(\d+)\/(\d+) = ([<>]?)([\d.]+) %$/);
        assert.ok(m, shareText(c, n));
        assert.equal(Number(m[1]), c);
        assert.equal(Number(m[2]), n);
        if (!m[3]) assert.ok(Math.abs(Number(m[4]) - (100 * c) / n) <= 0.05 + 1e-9, shareText(c, n));
      }
    }
  });
});

describe("share colours (linear 0-100 %)", () => {
  test("missing is grey; 0 and 1 are the scale's ends; brighter for a larger share", () => {
    assert.deepEqual(shareRgb(null), NONE_RGB);
    assert.deepEqual(shareRgb(undefined), NONE_RGB);
    assert.deepEqual(shareRgb(0), seqRgb(0));
    assert.deepEqual(shareRgb(1), seqRgb(1));
    assert.notDeepEqual(shareRgb(0), NONE_RGB);
    let prev = -1;
    for (let t = 0; t <= 1; t += 0.01) {
      const y = luminance(shareRgb(t));
      assert.ok(y >= prev - 1e-9, String(t));
      prev = y;
    }
  });
});

describe("heatSeries", () => {
  const sig = rows(["sigmoid", "sigmoid", "sigmoid"]);
  test("no history or no points: nothing to draw", () => {
    assert.equal(heatSeries(null, "grad", "probe", sig), null);
    assert.equal(heatSeries({ step: [], layers: [] }, "delta", "probe", sig), null);
  });
  test("the norms: the Values source's series on a log scale whose decades hold them", () => {
    for (const [over, q, key] of [["probe", "grad", "probe_grad_w"], ["probe", "delta", "probe_delta"], ["mean", "grad", "grad_w"], ["mean", "delta", "grad_b"]]) {
      const h = heatSeries(HISTORY, q, over, sig);
      assert.equal(h.scale, "log");
      assert.equal(h.key, key);
      assert.deepEqual(h.rows.map((r) => r.l), [2, 3, 4]);
      h.rows.forEach((r, i) => assert.deepEqual(r.values, HISTORY.layers[i][key]));
      const pos = HISTORY.layers.flatMap((s) => s[key]).filter((v) => v > 0);
      assert.ok(10 ** h.lo <= Math.min(...pos) && 10 ** h.hi >= Math.max(...pos), `${key}: ${h.lo}..${h.hi}`);
      assert.deepEqual(h.idx, [0, 1, 2]);
    }
    assert.match(heatSeries(HISTORY, "delta", "probe", sig).caption, /‖δˡ‖ over the run/);
  });
  // A reviewer: after picking another probe, the strip's "‖δ‖ of the probe over the run"
  // showed the old example's norms as the new one's.
  test("the probe's norms of a step measured on another probe are that example's: named, grey, out of the scale", () => {
    const h3 = { ...HISTORY, probe: [12, 12, 40] };
    assert.deepEqual(otherProbes(h3, 40), [12, 12, null]);
    assert.deepEqual(otherProbes(h3, 12), [null, null, 40]);
    assert.deepEqual(otherProbes({ ...HISTORY, probe: [null, 12, 40] }, 40), [null, 12, null], "not known: not said to be another's");
    assert.deepEqual(otherProbes(HISTORY, 40), [null, null, null], "a history that does not say");
    const h = heatSeries(h3, "delta", "probe", sig, 40);
    assert.deepEqual(h.other, [12, 12, null]);
    assert.match(h.caption, /‖δˡ‖ of probe #40 over the run/);
    h.rows.forEach((r, i) => assert.deepEqual(r.values, HISTORY.layers[i].probe_delta, "the values stay (the readout names them)"));
    // the scale holds this probe's values only: layer 2's 1e-5 and 2e-5 were the other probe's
    assert.equal(h.lo, -2, `${h.lo}..${h.hi}`);
    const all = heatSeries(h3, "delta", "probe", sig, 12);
    assert.deepEqual(all.other, [null, null, 40]);
    assert.ok(all.lo <= -5);
    // the batch's norms and the counts do not depend on the probe
    for (const [q, over] of [["delta", "mean"], ["grad", "mean"], ["saturated", "probe"]]) {
      assert.deepEqual(heatSeries(h3, q, over, sig, 40).other, [null, null, null], `${q} ${over}`);
    }
    assert.notDeepEqual(OTHER_RGB, NONE_RGB);
  });
  test("saturated: count / n per layer; the output (never counted) has no values and says why", () => {
    const h = heatSeries(HISTORY, "saturated", "probe", sig);
    assert.equal(h.scale, "share");
    assert.deepEqual(h.rows[0].values, [0, 0.25, 1]);
    assert.deepEqual(h.rows[0].counts, [0, 1, 4]);
    assert.equal(h.rows[0].n, 4);
    assert.deepEqual(h.rows[1].values, [1, null, 0.5], "a step without a count has no value");
    assert.equal(h.rows[1].why, null);
    assert.deepEqual(h.rows[2].values, [null, null, null]);
    assert.match(h.rows[2].why, /σ′ cancels in BP1/);
    assert.equal(h.rows[2].short, "not counted: σ′ cancels in BP1 at this output");
    assert.match(h.caption, /saturated units/);
  });
  test("dead: a layer that cannot die and never did has no values and says why; one that did is drawn", () => {
    const h = heatSeries(HISTORY, "dead", "probe", rows(["sigmoid", "sigmoid", "sigmoid"]));
    assert.deepEqual(h.rows[0].values, [null, null, null]);
    assert.match(h.rows[0].why, /sigmoid units cannot die/);
    assert.equal(h.rows[0].short, "not counted: sigmoid units cannot die", "the readout's reason, without the long explanation");
    assert.deepEqual(h.rows[1].values, [0.5, 1, 1], "σ layer 3 has dead counts above 0: shown, as the live strip shows them");
    const relu = heatSeries(HISTORY, "dead", "probe", rows(["relu", "relu", "sigmoid"]));
    assert.deepEqual(relu.rows[0].values, [0, 0, 0], "a ReLU layer with none dead is 0 %, not missing");
    assert.equal(relu.rows[0].why, null);
  });
});
