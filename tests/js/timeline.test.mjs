// static/js/timeline.js: the rewind slider's arithmetic. The latest kept step at or before a
// position is checked against a plain scan; the keys move one kept step (or ten, or to the
// ends); the marks sit at step/max of the width; the timeline is asked for at most once a
// second and ends up to date when the run pauses; rewinds go one at a time, latest wins.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { Scrubber, TimelineFeed, keptAtOrBefore, keptText, keyTarget, markPositions, sliderMax } from "../../static/js/timeline.js";

/** Kept steps as the server keeps them: every step to 100, then thinning out. */
function keptSteps(rng, last) {
  const s = new Set(Array.from({ length: 101 }, (_, i) => i));
  for (let x = 100; x < last; x += 1 + Math.floor(rng() * 200)) s.add(x);
  s.add(last);
  return [...s].sort((a, b) => a - b);
}

function lcg(seed) {
  let x = seed;
  return () => ((x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
}

describe("keptAtOrBefore", () => {
  test("is the largest kept step not after s (the first when s is before all)", () => {
    const rng = lcg(7);
    for (let trial = 0; trial < 20; trial++) {
      const steps = keptSteps(rng, 300 + Math.floor(rng() * 5000));
      for (let i = 0; i < 200; i++) {
        const s = Math.floor(rng() * (steps[steps.length - 1] + 50)) - 10;
        const scan = steps.filter((x) => x <= s);
        assert.equal(keptAtOrBefore(steps, s), scan.length ? scan[scan.length - 1] : steps[0], `s=${s}`);
      }
    }
  });
  test("nothing kept: null", () => assert.equal(keptAtOrBefore([], 5), null));
});

describe("keyTarget", () => {
  const steps = [0, 1, 2, 50, 100, 180, 400, 1000];
  test("arrows move one kept step, page keys ten, Home/End to the ends", () => {
    assert.equal(keyTarget(steps, 100, "ArrowLeft"), 50);
    assert.equal(keyTarget(steps, 100, "ArrowDown"), 50);
    assert.equal(keyTarget(steps, 100, "ArrowRight"), 180);
    assert.equal(keyTarget(steps, 100, "ArrowUp"), 180);
    assert.equal(keyTarget(steps, 100, "Home"), 0);
    assert.equal(keyTarget(steps, 100, "End"), 1000);
    assert.equal(keyTarget(steps, 1000, "PageDown"), 0); // fewer than ten before it: the first
    assert.equal(keyTarget(steps, 0, "PageUp"), 1000);
  });
  test("from a step between kept ones, left is the kept step before it, right the one after", () => {
    assert.equal(keyTarget(steps, 250, "ArrowLeft"), 180);
    assert.equal(keyTarget(steps, 250, "ArrowRight"), 400);
    assert.equal(keyTarget(steps, 1234, "ArrowLeft"), 1000); // trained on since the last kept one
  });
  test("at the ends they stay; other keys are the browser's", () => {
    assert.equal(keyTarget(steps, 0, "ArrowLeft"), 0);
    assert.equal(keyTarget(steps, 1000, "ArrowRight"), 1000);
    assert.equal(keyTarget(steps, 100, "a"), null);
    assert.equal(keyTarget([], 100, "Home"), null);
  });
});

describe("keptText", () => {
  test("says how many steps are kept, their span and the memory against the budget", () => {
    assert.equal(keptText([0, 1, 2, 5120], { bytes: 187200, budget_bytes: 1000000 }), "· 4 kept steps, 0–5,120 (187 of 1,000 kB)");
    assert.equal(keptText([0], { bytes: 1000, budget_bytes: 192000 }), "· 1 kept step, step 0 (1 of 192 kB)");
    assert.equal(keptText([], null), "· no kept steps yet");
  });
});

describe("sliderMax and markPositions", () => {
  test("the slider reaches the last kept step or the step trained to, whichever is later", () => {
    assert.equal(sliderMax([0, 10, 500], 300), 500); // after a rewind: the steps kept ahead
    assert.equal(sliderMax([0, 10, 500], 640), 640);
    assert.equal(sliderMax([], 0), 1);
  });
  test("a mark is at step/max of the width, none closer than 2 px, later ones marked ahead", () => {
    const steps = [0, 1, 2, 3, 50, 100, 400, 1000];
    const marks = markPositions(steps, 1000, 200, 400);
    for (const m of marks) {
      assert.equal(m.x, (m.step / 1000) * 200);
      assert.equal(m.ahead, m.step > 400);
    }
    for (let i = 1; i < marks.length; i++) assert.ok(marks[i].x - marks[i - 1].x >= 2);
    assert.deepEqual(marks.map((m) => m.step), [0, 50, 100, 400, 1000]); // 1-3 are within 2 px of 0
  });
  test("the first and the last kept steps are always marked", () => {
    const marks = markPositions([0, 1, 500, 998, 999, 1000], 1000, 100, 1000);
    assert.deepEqual(marks.map((m) => m.step), [0, 500, 1000]);
    assert.deepEqual(markPositions([0, 1], 1000, 100, 1).map((m) => m.step), [0, 1]);
  });
});

/** A fake clock and timers: advance(ms) runs what falls due. */
function fakeTime() {
  let now = 0;
  let timers = [];
  return {
    now: () => now,
    later: (fn, ms) => {
      timers.push({ at: now + ms, fn });
      return timers.length;
    },
    async advance(ms) {
      const end = now + ms;
      for (;;) {
        timers.sort((a, b) => a.at - b.at);
        const t = timers[0];
        if (!t || t.at > end) break;
        timers = timers.slice(1);
        now = t.at;
        t.fn();
        await flush();
      }
      now = end;
      await flush(); // answers on their way arrive
    },
  };
}
const flush = () => new Promise((r) => setImmediate(r));

describe("TimelineFeed", () => {
  test("while the run trains: at most one request per second, never two at once", async () => {
    const time = fakeTime();
    const asked = [];
    let serverStep = 0;
    let open = 0;
    let most = 0;
    const feed = new TimelineFeed({
      now: time.now,
      later: time.later,
      get: async () => {
        open += 1;
        most = Math.max(most, open);
        asked.push(time.now());
        await flush();
        open -= 1;
        return { steps: [0], step: serverStep };
      },
      put: () => {},
    });
    for (let t = 0; t < 5000; t += 33) {
      serverStep += 10;
      feed.frame("run", serverStep);
      await time.advance(33);
    }
    for (let i = 1; i < asked.length; i++) assert.ok(asked[i] - asked[i - 1] >= 1000, `${asked}`);
    assert.ok(asked.length >= 4 && asked.length <= 6, `${asked.length} requests in 5 s`);
    assert.equal(most, 1);
  });
  test("a run that pauses ends with the timeline of its last step; a paused run asks nothing", async () => {
    const time = fakeTime();
    let serverStep = 0;
    const got = [];
    const feed = new TimelineFeed({ now: time.now, later: time.later, get: async () => ({ steps: [0, serverStep], step: serverStep }), put: (tl) => got.push(tl) });
    serverStep = 10;
    feed.frame("run", 10);
    await time.advance(100);
    serverStep = 20;
    feed.frame("run", 20); // within the second: held back
    await time.advance(100);
    assert.equal(got.length, 1);
    await time.advance(1000);
    assert.equal(got.at(-1).step, 20);
    assert.equal(got.at(-1).run_id, "run");
    const n = got.length;
    feed.frame("run", 20); // the same step again (a redraw): nothing to ask
    await time.advance(3000);
    assert.equal(got.length, n);
    feed.frame("other", 0); // another run: asked for at once (its second has passed)
    await time.advance(10);
    assert.equal(got.at(-1).run_id, "other");
  });
});

describe("TimelineFeed after a refusal", () => {
  test("a run that is gone is not asked for again until a frame comes", async () => {
    const time = fakeTime();
    let asked = 0;
    const feed = new TimelineFeed({
      now: time.now,
      later: time.later,
      get: async () => {
        asked += 1;
        throw new Error("404");
      },
      put: () => {},
    });
    feed.frame("gone", 5);
    await time.advance(10_000);
    assert.equal(asked, 1);
    feed.frame("gone", 5); // the next frame: one more try
    await time.advance(10_000);
    assert.equal(asked, 2);
  });
});

describe("Scrubber", () => {
  test("one rewind at a time; steps asked meanwhile collapse into the latest", async () => {
    const started = [];
    const finish = [];
    const s = new Scrubber((step) => {
      started.push(step);
      return new Promise((r) => finish.push(r));
    });
    const done = s.to(100);
    s.to(90);
    s.to(80);
    s.to(70);
    await flush();
    assert.deepEqual(started, [100]);
    finish.shift()();
    await flush();
    assert.deepEqual(started, [100, 70]);
    finish.shift()();
    await done;
    assert.equal(s.busy, null);
    s.to(5); // a new drag starts a new run of rewinds
    await flush();
    assert.deepEqual(started, [100, 70, 5]);
    finish.shift()();
  });
  test("a refused rewind does not stop the next one", async () => {
    const started = [];
    const s = new Scrubber(async (step) => {
      started.push(step);
      if (step === 1) throw new Error("refused");
    });
    const p = s.to(1);
    s.to(2);
    await p;
    assert.deepEqual(started, [1, 2]);
  });
});
