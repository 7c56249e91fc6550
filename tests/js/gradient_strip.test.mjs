// static/js/gradient_strip.js and distributions.js: the arithmetic behind the gradient across
// layers and the layers' histograms. The log axis gives 0 no place (it is said "0", never
// drawn as a tiny bar), is monotone and puts each decade where its label says; the heat
// strip's colours tell 0 from 1e−5 and grow with the value; the history is read at most once
// a second and again when the page shows a new step; the histograms' snapshots, ridges and
// counts are checked against plain scans.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { snapshots, thinned, ridgePoints, valueCount, xRange } from "../../static/js/distributions.js";
import { HistoryFeed, ZERO_RGB, mergeHistory, columnIndex, decadeLabel, decadeRange, frameCaveats, heatRgb, logPos, normText, seqRgb } from "../../static/js/gradient_strip.js";

function lcg(seed) {
  let x = seed;
  return () => (x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
}

const luminance = ([r, g, b]) => 0.2126 * r + 0.7152 * g + 0.0722 * b;

describe("normText", () => {
  test("0 is said 0; a missing norm is a dash; small norms keep 3 significant digits", () => {
    assert.equal(normText(0), "0");
    assert.equal(normText(null), "—");
    assert.equal(normText(undefined), "—");
    assert.equal(normText(5.0234e-5), "5.02e−5");
    assert.equal(normText(1e-300), "1.00e−300", "a tiny norm is not 0");
    assert.equal(normText(0.6234), "0.623");
    assert.equal(normText(12345), "1.23e4");
  });
  test("what it shows reads back within half a unit of its last digit", () => {
    const r = lcg(3);
    for (let i = 0; i < 2000; i++) {
      const v = 10 ** (-9 + 14 * r());
      const s = normText(v);
      const back = Number(s.replace("−", "-"));
      const unit = 10 ** (Math.floor(Math.log10(v)) - 2); // 3 significant digits (trailing zeros dropped)
      assert.ok(Math.abs(back - v) <= unit / 2 + 1e-12 * v, `${v} shown as ${s}`);
    }
  });
});

describe("log axis", () => {
  test("0, negative and missing values have no position; the ends are 0 and 1; clamped", () => {
    for (const v of [0, -1e-5, null, undefined, NaN, Infinity]) assert.equal(logPos(v, -5, 0), null, String(v));
    assert.equal(logPos(1e-5, -5, 0), 0);
    assert.equal(logPos(1, -5, 0), 1);
    assert.equal(logPos(1e-9, -5, 0), 0);
    assert.equal(logPos(100, -5, 0), 1);
    assert.ok(Math.abs(logPos(1e-3, -5, 0) - 0.4) < 1e-12, "a decade is 1/5 of a five-decade axis");
  });
  test("monotone: a larger norm is never lower", () => {
    const r = lcg(11);
    const vs = Array.from({ length: 3000 }, () => 10 ** (-8 + 8 * r())).sort((a, b) => a - b);
    for (let i = 1; i < vs.length; i++) assert.ok(logPos(vs[i], -8, 0) >= logPos(vs[i - 1], -8, 0));
    for (let i = 1; i < vs.length; i++) if (vs[i] > vs[i - 1] * 1.000001) assert.ok(logPos(vs[i], -8, 0) > logPos(vs[i - 1], -8, 0));
  });
  test("the decade range holds every positive value, ignores 0, and is whole decades", () => {
    const r = lcg(5);
    for (let t = 0; t < 300; t++) {
      const vs = Array.from({ length: 1 + Math.floor(r() * 8) }, () => (r() < 0.2 ? 0 : 10 ** (-10 + 11 * r())));
      const [lo, hi] = decadeRange(vs, { min: 2, max: 12 });
      assert.ok(Number.isInteger(lo) && Number.isInteger(hi) && hi - lo >= 2 && hi - lo <= 12);
      const pos = vs.filter((v) => v > 0);
      if (!pos.length) continue;
      assert.ok(10 ** hi >= Math.max(...pos) * (1 - 1e-12), `${hi} below ${Math.max(...pos)}`);
      if (hi - lo < 12) assert.ok(10 ** lo <= Math.min(...pos) * (1 + 1e-12), `${lo} above ${Math.min(...pos)}`);
    }
    assert.deepEqual(decadeRange([0, 0]), [-2, 0]);
    assert.deepEqual(decadeRange([5e-5, 0.62]), [-5, 0]);
  });
  test("decade labels", () => {
    assert.deepEqual([-5, -1, 0, 1, 2].map(decadeLabel), ["10⁻⁵", "10⁻¹", "1", "10", "10²"]);
  });
});

describe("heat strip colours", () => {
  test("0 is white and differs from 1e−5 and from every colour of the scale", () => {
    assert.deepEqual(heatRgb(0, -6, 0), ZERO_RGB);
    assert.notDeepEqual(heatRgb(1e-5, -6, 0), heatRgb(0, -6, 0));
    for (let t = 0; t <= 1; t += 0.01) assert.notDeepEqual(seqRgb(t), ZERO_RGB);
  });
  test("brighter for larger norms (viridis: luminance grows along the scale)", () => {
    let prev = -1;
    for (let e = -6; e <= 0; e += 0.05) {
      const y = luminance(heatRgb(10 ** e, -6, 0));
      assert.ok(y >= prev - 1e-9, `10^${e}`);
      prev = y;
    }
  });
  test("columns: at most cols, increasing, the newest point always last", () => {
    for (const [n, cols] of [[0, 10], [5, 10], [10, 10], [11, 10], [2000, 240], [241, 240]]) {
      const idx = columnIndex(n, cols);
      assert.equal(idx.length, Math.min(n, cols));
      if (n) assert.equal(idx[idx.length - 1], n - 1);
      for (let i = 1; i < idx.length; i++) assert.ok(idx[i] > idx[i - 1]);
    }
  });
});

describe("HistoryFeed", () => {
  function rig(points = 1) {
    let t = 0;
    const timers = [];
    const asked = [];
    const put = [];
    const pending = [];
    const feed = new HistoryFeed({
      get: (id, h) => {
        asked.push([id, h, t]);
        return new Promise((resolve) => pending.push(() => resolve({ revision: 0, step: Array.from({ length: points }, (_, i) => i), layers: [] })));
      },
      put: (x) => put.push(x),
      now: () => t,
      later: (fn, ms) => timers.push([t + ms, fn]),
    });
    const advance = async (ms) => {
      t += ms;
      for (let i = timers.length - 1; i >= 0; i--) {
        if (timers[i][0] <= t) timers.splice(i, 1)[0][1]();
      }
      await new Promise((r) => setImmediate(r));
    };
    const answer = async () => {
      while (pending.length) pending.shift()();
      await new Promise((r) => setImmediate(r));
    };
    return { feed, asked, put, advance, answer };
  }

  test("at most one read a second however many frames come, and the last frame is read", async () => {
    const { feed, asked, put, advance, answer } = rig();
    for (let step = 1; step <= 100; step++) {
      feed.frame("r1", step);
      await answer();
      await advance(33);
    }
    await advance(2000);
    await answer();
    const times = asked.map((a) => a[2]);
    for (let i = 1; i < times.length; i++) assert.ok(times[i] - times[i - 1] >= 1000, `reads at ${times}`);
    assert.ok(asked.length >= 3 && asked.length <= 5, `${asked.length} reads for 3.3 s of frames`);
    assert.equal(put[put.length - 1].run_id, "r1");
    feed.frame("r1", 100); // the same step again: nothing new to read
    await advance(5000);
    assert.equal(asked.length, times.length);
  });

  test("after the first read only the points after the last one are asked for; a new revision reads it all", async () => {
    let t = 0;
    const timers = [];
    const asked = [];
    const put = [];
    let revision = 0;
    let last = 0; // the server's newest step
    const answer = (since) => {
      const steps = [];
      for (let s = since === null ? 1 : since + 1; s <= last; s++) steps.push(s);
      return { revision, step: steps, epoch: steps.map(() => 0), train_cost: steps.map((s) => 1 / s), test_cost: steps, train_accuracy: steps, test_accuracy: steps, layers: [], histograms: null };
    };
    const feed = new HistoryFeed({
      get: async (id, h, since) => {
        asked.push(since);
        return answer(since);
      },
      put: (x) => put.push(x),
      now: () => t,
      later: (fn, ms) => timers.push([t + ms, fn]),
    });
    const advance = async (ms) => {
      t += ms;
      for (let i = timers.length - 1; i >= 0; i--) if (timers[i][0] <= t) timers.splice(i, 1)[0][1]();
      for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
    };
    for (last = 1; last <= 30; last++) {
      feed.frame("r1", last);
      await advance(250);
    }
    last = 30;
    await advance(2000);
    assert.equal(asked[0], null, "the first read is of everything");
    assert.ok(asked.slice(1).every((s) => s !== null), `${asked}`);
    assert.deepEqual(put.at(-1).step, Array.from({ length: 30 }, (_, i) => i + 1), "every point once, in order");
    assert.deepEqual(put.at(-1).train_cost, put.at(-1).step.map((s) => 1 / s));
    // The run is rewound and trains on: the points after 10 are others now.
    revision = 1;
    last = 12;
    const n = asked.length;
    feed.frame("r1", 12);
    await advance(2000);
    assert.deepEqual(asked.slice(n), [30, null], "the increment's revision differs: it is all read again");
    assert.deepEqual(put.at(-1).step, Array.from({ length: 12 }, (_, i) => i + 1));
  });

  test("histograms asked for once wanted; never two reads at once", async () => {
    const { feed, asked, advance, answer } = rig();
    feed.frame("r1", 1);
    feed.wantHistograms(true);
    feed.frame("r1", 2);
    assert.equal(asked.length, 1, "one read in flight");
    await answer();
    await advance(1000);
    await answer();
    assert.deepEqual(asked.map((a) => a[1]), [false, true]);
    assert.equal(asked[1][0], "r1");
  });
});

describe("distributions", () => {
  const hist = (edges, counts) => ({ edges, counts });
  test("snapshots: the history's up to the frame, then the frame's own when newer", () => {
    const h = { step: [0, 10, 20], layers: [{ l: 2, w: [hist([0, 1], [4]), null, hist([0, 2], [4])], a: [], delta: [] }] };
    const f = { layers: [{ l: 2, w: hist([-1, 1], [4]) }] };
    assert.deepEqual(snapshots(h, f, 25, 2, "w").map((s) => s.step), [0, 20, 25]);
    assert.deepEqual(snapshots(h, f, 20, 2, "w").map((s) => [s.step, s.edges[0]]), [[0, 0], [20, -1]]);
    assert.deepEqual(snapshots(h, null, 15, 2, "w").map((s) => s.step), [0]);
    assert.deepEqual(xRange(snapshots(h, f, 25, 2, "w")), [-1, 2]);
    assert.deepEqual(xRange([hist([3, 3], [2])]), [2.5, 3.5]);
  });
  test("the ridge is a step line over the bins, as tall as its count", () => {
    const pts = ridgePoints(hist([0, 1, 2], [2, 4]), [0, 2], 100, 50, 20, 4)
      .split(" ")
      .map((p) => p.split(",").map(Number));
    assert.deepEqual(pts, [[0, 50], [0, 40], [50, 40], [50, 30], [100, 30], [100, 50]]);
  });
  test("value counts and thinning", () => {
    assert.equal(valueCount([2, 8, 8, 1], 2, "w", 10), 16);
    assert.equal(valueCount([2, 8, 8, 1], 4, "w", 10), 8);
    assert.equal(valueCount([2, 8, 8, 1], 3, "a", 10), 80);
    const xs = Array.from({ length: 40 }, (_, i) => i);
    const t = thinned(xs, 12);
    assert.equal(t.length, 12);
    assert.equal(t[t.length - 1], 39);
    for (let i = 1; i < t.length; i++) assert.ok(t[i] > t[i - 1]);
    assert.equal(thinned(xs.slice(0, 5), 12).length, 5);
  });
});

describe("mergeHistory", () => {
  // A server of its own: points at steps 1..last (a layer history from step `layersFrom`,
  // layer 3's saturation counted from step `countFrom`), snapshots at every 4th step, the
  // newest `limit` points kept, at most 3 snapshots (the oldest dropped).
  function server({ last, limit = 1000, layersFrom = 1, countFrom = 1 }) {
    const first = Math.max(1, last - limit + 1);
    const all = [];
    for (let s = first; s <= last; s++) all.push(s);
    const snaps = all.filter((s) => s % 4 === 0).slice(-3);
    const hist = (s, k) => ({ edges: [s, s + 1], counts: [k.length + s] });
    const read = (since) => {
      const steps = all.filter((s) => since === null || s > since);
      const anyLayers = all.some((s) => s >= layersFrom);
      const val = (s, l) => (s >= layersFrom ? s * l : null);
      // as the server's counts: null as a whole for a layer no kept point counts, else one
      // per step asked ([] when none is asked: a read since the last point)
      const countSeries = (f) => (all.every((s) => f(s) === null) ? null : steps.map(f));
      const sn = snaps.filter((s) => since === null || s > since);
      return {
        revision: 7,
        step: steps,
        epoch: steps.map((s) => Math.floor(s / 5)),
        train_cost: steps.map((s) => (s % 3 ? 1 / s : null)),
        test_cost: steps.map((s) => 2 / s),
        train_accuracy: steps.map(() => 0.5),
        test_accuracy: steps.map(() => null),
        probe: steps.map((s) => (s >= layersFrom ? Math.floor(s / 10) : null)), // the probe changed every 10 steps
        layers: anyLayers
          ? [2, 3].map((l) => ({
              l,
              probe_delta: steps.map((s) => val(s, l)),
              probe_grad_w: steps.map((s) => val(s, l + 1)),
              grad_b: steps.map((s) => val(s, l + 2)),
              grad_w: steps.map((s) => val(s, l + 3)),
              saturated: countSeries(l === 3 ? (s) => (s >= countFrom && s >= layersFrom ? s % 7 : null) : (s) => (s >= layersFrom ? 1 : null)),
              dead: l === 2 ? countSeries((s) => (s >= layersFrom ? 0 : null)) : null,
            }))
          : [],
        histograms: { step: sn, layers: [2, 3].map((l) => ({ l, w: sn.map((s) => hist(s, "w")), a: sn.map((s) => hist(s, "aa")), delta: sn.map(() => null) })), ...(since === null ? {} : { kept: snaps }) },
      };
    };
    return read;
  }
  const full = (o) => server(o)(null);
  const strip = (h) => JSON.parse(JSON.stringify(h));

  test("a full read merged with the next increment is the next full read", () => {
    for (const [a, b, opts] of [
      [5, 9, {}],
      [5, 5, {}], // nothing new: the counted layers' counts are []
      [6, 6, { countFrom: 10 }], // nothing new, a count series not counted yet: null
      [12, 40, { limit: 20 }], // the oldest points dropped by the server, some of them the page's
      [3, 30, { limit: 10 }], // every point the page had is gone
      [6, 14, { layersFrom: 9 }], // layers appear after the first read (an opened run's history)
      [6, 14, { countFrom: 10 }], // a count series null as a whole, then counted
    ]) {
      const have = full({ ...opts, last: a });
      const inc = server({ ...opts, last: b })(a);
      const before = strip(have);
      assert.deepEqual(strip(mergeHistory(have, inc, opts.limit ?? 1000)), strip(full({ ...opts, last: b })), `${a} → ${b} ${JSON.stringify(opts)}`);
      assert.deepEqual(strip(have), before, "the history held is not changed");
    }
  });

  test("merging step by step gives what one read gives", () => {
    const opts = { limit: 25, layersFrom: 4, countFrom: 8 };
    let have = full({ ...opts, last: 2 });
    for (let last = 3; last <= 60; last += 1 + (last % 3)) {
      have = mergeHistory(have, server({ ...opts, last })(have.step.at(-1)), 25);
      assert.deepEqual(strip(have), strip(full({ ...opts, last })), `at ${last}`);
    }
  });
});

// A reviewer read "‖∂Cₓ/∂w²‖ = 0.0772" under the inverse rule, the rule's own gradient, where
// backprop's is about 0.76; and 0s that stood for NaN in a diverged run.
describe("the gradient panel's note says what its numbers are", () => {
  const layer = (extra = {}) => ({ l: 2, delta: [0.1], ...extra });
  test("under a BP2 rule: the rule's δ and ∂C/∂w, not backprop's", () => {
    const note = frameCaveats({ status: "paused", layers: [layer({ true_delta: [0.3] })] });
    assert.match(note, /the rule's δ and ∂C\/∂w, what it trains with, not backprop's/);
    assert.equal(frameCaveats({ status: "paused", layers: [layer()] }), "");
  });
  test("a diverged frame: ±1e30 for an overflow, 0 for NaN", () => {
    assert.match(frameCaveats({ status: "diverged", layers: [layer()] }), /Diverged: a value that overflowed is shown as ±1e30, one that is not a number \(NaN\) as 0\./);
  });
});
