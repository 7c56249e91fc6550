// static/js/colors.js: what a reader sees of the colour scales. Zero is grey, negative orange,
// positive blue, darker with size; the bar's range is a nice number that does not flicker;
// the log option tells 1e−5 from 0; every tick label sits where its value is coloured; the
// bar's labels never overlap.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { CLASS_COLORS, DECADES, StableScale, colorOf, featureGrid, niceUp, outputMap, renderColorbar, rgbOf } from "../../static/js/colors.js";
import { rng } from "./exact.mjs";

const lum = ([r, g, b]) => 0.2126 * r + 0.7152 * g + 0.0722 * b;
const SUP = "⁰¹²³⁴⁵⁶⁷⁸⁹";
/** A tick label as a number: "−0.75", "1.5", "10⁻²", "−10⁰" (the unit applied by the caller). */
function tickValue(label) {
  const s = label.replace(/^[≤≥]/, "").replace(/−/g, "-");
  const p = /^(-?)10([⁻]?)([⁰¹²³⁴⁵⁶⁷⁸⁹]+)$/.exec(s);
  if (p) return (p[1] ? -1 : 1) * 10 ** ((p[2] ? -1 : 1) * Number([...p[3]].map((c) => SUP.indexOf(c)).join("")));
  assert.match(s, /^-?\d+(\.\d+)?$/, `tick label ${label} is a plain number`);
  return Number(s);
}
const unitFactor = (unit) => (unit ? tickValue(unit.replace("×", "")) : 1);

describe("the diverging colour map", () => {
  test("zero is grey, negatives orange, positives blue", () => {
    const [r0, g0, b0] = rgbOf(0);
    assert.ok(r0 === g0 && g0 === b0, `0 is grey, got ${rgbOf(0)}`);
    for (const t of [0.1, 0.5, 1]) {
      const [r, , b] = rgbOf(-t);
      const [r2, , b2] = rgbOf(t);
      assert.ok(r > b + 20, `−${t} is orange, got ${rgbOf(-t)}`);
      assert.ok(b2 > r2 + 20, `${t} is blue, got ${rgbOf(t)}`);
    }
  });

  test("larger |value|, darker colour; beyond the ends, the end colour", () => {
    for (const sign of [-1, 1]) {
      let prev = lum(rgbOf(0));
      for (let i = 1; i <= 20; i += 1) {
        const L = lum(rgbOf((sign * i) / 20));
        assert.ok(L < prev, `|t| = ${i / 20} is darker than ${(i - 1) / 20}`);
        prev = L;
      }
      assert.deepEqual(rgbOf(sign * 3), rgbOf(sign));
    }
  });

  test("colorOf is the same colour as hex", () => {
    const r = rng(11);
    for (let i = 0; i < 200; i += 1) {
      const t = 2.4 * r() - 1.2;
      const hex = colorOf(t);
      assert.match(hex, /^#[0-9a-f]{6}$/);
      assert.deepEqual([1, 3, 5].map((k) => parseInt(hex.slice(k, k + 2), 16)), rgbOf(t));
    }
  });

  test("output map: the two classes on either side of the boundary, classes by Okabe-Ito", () => {
    const tanh = outputMap({ lo: -1, hi: 1, mid: 0, discrete: false });
    assert.deepEqual(tanh(0), rgbOf(0));
    assert.deepEqual(tanh(1), rgbOf(1));
    const sig = outputMap({ lo: 0, hi: 1, mid: 0.5, cut: 0.5, discrete: true });
    assert.deepEqual(sig(0.49), rgbOf(-0.75));
    assert.deepEqual(sig(0.51), rgbOf(0.75));
    assert.deepEqual(sig(0.5), rgbOf(-0.75), "a = cut is not above it: the − class, as the server counts it");
    const relu = outputMap({ lo: -1, hi: 1, mid: 0, cut: 0, discrete: true });
    assert.deepEqual(relu(0), rgbOf(-0.75), "a dead ReLU's exact 0 is the − class (the server: a > 0)");
    assert.deepEqual(relu(-0), rgbOf(-0.75));
    assert.deepEqual(relu(1e-300), rgbOf(0.75));
    const multi = outputMap({ lo: 0, hi: 3, mid: 1, discrete: true, kind: "multiclass" });
    const seen = new Set([0, 1, 2, 3].map((k) => multi(k).join()));
    assert.equal(seen.size, 4, "four classes, four colours");
    assert.equal(new Set(CLASS_COLORS).size, CLASS_COLORS.length);
  });

  test("input thumbnails: a feature over the plane, scaled to ±1, bottom row first", () => {
    const g = featureGrid("x2", [[-6, 6], [-6, 6]], 5);
    assert.deepEqual(g[0], [-1, -1, -1, -1, -1], "row 0 is the bottom of the plane (x₂ = −6)");
    assert.deepEqual(g[4], [1, 1, 1, 1, 1]);
    const sq = featureGrid("x1^2", [[-2, 4], [-1, 1]], 3);
    assert.deepEqual(sq[1], [0.25, 0.0625, 1], "x₁² at −2, 1, 4 over its largest, 16");
    assert.equal(featureGrid("nonsense", [[-1, 1], [-1, 1]]), null);
  });
});

describe("nice ranges", () => {
  test("the smallest of 1, 1.5, 2, 3, 5, 7 × 10ᵏ at least the value, written short", () => {
    const ladder = [1, 1.5, 2, 3, 5, 7, 10];
    const r = rng(12);
    for (let i = 0; i < 3000; i += 1) {
      const v = (1 + 9 * r()) * 10 ** Math.floor(-9 + 18 * r());
      const n = niceUp(v);
      assert.ok(n >= v * (1 - 1e-9), `${n} covers ${v}`);
      const k = Math.floor(Math.log10(n) + 1e-9);
      const m = n / 10 ** k;
      assert.ok(ladder.some((x) => Math.abs(x - m) < 1e-9), `${n} is on the ladder`);
      const below = ladder[ladder.findIndex((x) => Math.abs(x - m) < 1e-9) - 1] ?? 0.7;
      assert.ok(below * 10 ** k < v * (1 - 1e-9), `${n} is the smallest ladder number ≥ ${v}`);
      assert.equal(String(n), String(Number(n.toPrecision(2))), `${n} has no float residue`);
    }
    assert.equal(niceUp(0), 1);
    assert.equal(niceUp(Number.NaN), 1);
    assert.equal(niceUp(Infinity), 1);
  });

  test("log ranges are powers of ten", () => {
    for (const [v, n] of [[0.5, 1], [1, 1], [1.01, 10], [0.00002, 0.0001], [300, 1000]]) assert.equal(niceUp(v, true), n, `log niceUp(${v})`);
  });
});

const fresh = (max, key = "backward|probe|linear") => new StableScale().update(key, max, 0);

describe("StableScale: a range that does not jump", () => {

  test("a new quantity starts at its nice range", () => {
    assert.equal(fresh(0.42).r, 0.5);
    assert.equal(fresh(0.42).clipped, false);
  });

  test("values a little beyond: grows only when they stay beyond for several steps", () => {
    const s = fresh(0.42);
    s.update("backward|probe|linear", 0.6, 1);
    assert.equal(s.r, 0.5, "one step beyond does not move the range");
    assert.ok(s.clipped, "but the bar says values lie beyond it");
    for (let step = 2; step <= 5; step += 1) s.update("backward|probe|linear", 0.6, step);
    assert.equal(s.r, 0.7, "five steps beyond do");
  });

  test("past twice the range it grows at once", () => {
    const s = fresh(0.42);
    s.update("backward|probe|linear", 1.2, 1);
    assert.equal(s.r, 1.5);
  });

  test("a run coming to rest, or sent back in time, settles at once; steps at rest do not", () => {
    // Playing: the values fell from 0.42 to 0.1159 (the largest |w·δ|, a reviewer's case);
    // the range stays at 0.5 for SHRINK frames. The paused frame settles it: 0.15, so the
    // strongest edge is drawn at 77 % of the ramp, not 23 %.
    const s = fresh(0.42);
    s.update("backward|probe|linear", 0.1159, 1);
    assert.equal(s.r, 0.5, "still playing: the range holds");
    s.update("backward|probe|linear", 0.1159, 2, true);
    assert.equal(s.r, 0.15, "paused: settled on the values");
    assert.ok(Math.abs(s.t(0.1159) - 0.7727) < 1e-3);
    s.update("backward|probe|linear", 0.16, 3, true);
    assert.equal(s.r, 0.15, "one step at rest: the hysteresis holds (colours compare)");
    for (let i = 0; i < 5; i += 1) s.update("backward|probe|linear", 0.16, 3, true);
    assert.equal(s.r, 0.15, "redraws at rest keep it");
    s.update("backward|probe|linear", 0.03, 1, true);
    assert.equal(s.r, 0.03, "rewound to step 1: settled");
    s.update("backward|probe|linear", 0.02, 2);
    s.update("backward|probe|linear", 0.6, 3);
    s.update("backward|probe|linear", 0.1, 4, true);
    assert.equal(s.r, 0.1, "playing again, then paused: settled again");
  });

  test("redraws (hover, selection) at the same step never move it", () => {
    const s = fresh(0.42);
    for (let i = 0; i < 20; i += 1) s.update("backward|probe|linear", 0.6, 7);
    assert.equal(s.r, 0.5);
  });

  test("values hovering around the range's end for 200 steps: no flicker", () => {
    const s = fresh(0.5);
    const seen = new Set();
    for (let step = 1; step <= 200; step += 1) {
      s.update("backward|probe|linear", step % 2 ? 0.55 : 0.45, step);
      seen.add(s.r);
    }
    assert.deepEqual([...seen], [0.5]);
  });

  test("shrinks only after values stay well inside for many steps", () => {
    const s = fresh(5);
    for (let step = 1; step <= 5; step += 1) s.update("backward|probe|linear", 0.2, step);
    assert.equal(s.r, 5, "five quiet steps keep the range");
    for (let step = 6; step <= 40; step += 1) s.update("backward|probe|linear", 0.2, step);
    assert.equal(s.r, 0.2, "forty move it to the values' own range");
    const t = fresh(5);
    for (let step = 1; step <= 40; step += 1) t.update("backward|probe|linear", step % 4 ? 0.2 : 2, step);
    assert.equal(t.r, 5, "values coming back now and then keep it");
  });

  test("linear ticks: the value each label names is coloured where the label sits", () => {
    const r = rng(13);
    for (let i = 0; i < 500; i += 1) {
      const s = fresh((1 + 9 * r()) * 10 ** Math.floor(-8 + 14 * r()));
      const { labels, unit } = s.ticks();
      assert.equal(labels.length, 5);
      assert.equal(new Set(labels).size, 5, `distinct labels ${labels}`);
      labels.forEach((lab, i) => {
        assert.ok(lab.replace(/[−.]/g, "").replace(/^0+/, "").length <= 3, `${lab}: at most 3 digits`);
        const v = tickValue(lab) * unitFactor(unit);
        assert.ok(Math.abs(s.t(v) - (i / 2 - 1)) < 2e-3, `${lab}${unit} (r = ${s.r}) sits at ${i / 4} of the bar`);
      });
      if (s.r >= 0.01 && s.r < 1000) assert.equal(unit, "");
      else assert.match(unit, /^×10[⁻]?[⁰¹²³⁴⁵⁶⁷⁸⁹]+$/);
    }
  });

  test("symmetric log: 1e−5 is not 0, decades sit where the ticks say, sign kept", () => {
    for (const r of [1e-6, 0.001, 1, 100]) {
      const lin = fresh(r);
      const log = fresh(r, "backward|probe|log");
      assert.equal(log.r, r);
      const small = r / 10 ** DECADES;
      assert.equal(colorOf(lin.t(small)), colorOf(0), "linear: 10⁻⁴ of the range looks like 0");
      assert.notEqual(colorOf(log.t(small)), colorOf(0), "log: it does not");
      assert.equal(log.t(0), 0);
      assert.ok(Math.abs(log.t(r) - 1) < 1e-12 && Math.abs(log.t(-r) + 1) < 1e-12);
      const { labels } = log.ticks();
      labels.forEach((lab, i) => assert.ok(Math.abs(log.t(tickValue(lab)) - (i / 2 - 1)) < 0.01, `${lab} at ${i / 4}`));
      let prev = -2;
      for (let e = -8; e <= 0; e += 0.25) {
        const t = log.t(r * 10 ** e);
        assert.ok(t > prev, "monotone");
        assert.equal(log.t(-r * 10 ** e), -t, "odd");
        prev = t;
      }
    }
  });
});

/** A stand-in for the colour bar's elements: label boxes laid out as app.css places them. */
function fakeBar(width) {
  const CH = 6.6; // px per character at the bar's 11px font
  const spans = Array.from({ length: 5 }, () => ({
    textContent: "",
    hidden: false,
    className: "",
    style: {},
    getBoundingClientRect() {
      const w = this.textContent.length * CH;
      const x = (parseFloat(this.style.left) / 100) * width;
      const left = this.className === "first" ? x : this.className === "last" ? x - w : x - w / 2;
      return { left, right: left + w };
    },
  }));
  const title = { textContent: "" };
  return {
    spans,
    heading: title,
    clientWidth: width,
    dataset: {},
    classList: { toggle() {} },
    querySelector: (sel) => (sel === ".cb-title" ? title : null),
    querySelectorAll: (sel) => (sel === ".cb-ticks span" ? spans : []),
  };
}

describe("renderColorbar", () => {
  test("labels never overlap, the two ends always show, ≥ when values lie beyond", () => {
    const r = rng(14);
    for (let i = 0; i < 300; i += 1) {
      const width = 60 + Math.floor(340 * r());
      const key = r() < 0.3 ? "weight|probe|log" : "weight|probe|linear";
      const s = fresh(r() * 10 ** Math.floor(-7 + 12 * r()), key);
      if (r() < 0.3) s.update(key, s.r * 1.5, 1);
      const bar = fakeBar(width);
      renderColorbar(bar, s, "edges: weight w");
      const shown = bar.spans.filter((x) => !x.hidden);
      assert.ok(!bar.spans[0].hidden && !bar.spans[4].hidden, "both ends labelled");
      const boxes = shown.map((x) => x.getBoundingClientRect());
      for (let k = 1; k < boxes.length; k += 1) assert.ok(boxes[k].left >= boxes[k - 1].right, `labels ${shown.map((x) => x.textContent)} overlap in ${width}px`);
      assert.equal(bar.spans[4].textContent.startsWith("≥"), s.clipped);
      assert.equal(bar.spans[0].textContent.startsWith("≤"), s.clipped);
      if (s.log) assert.match(bar.heading.textContent, /log scale/);
      const { unit } = s.ticks();
      if (unit) assert.ok(bar.heading.textContent.includes(`(${unit})`), `${bar.heading.textContent} names the labels' unit ${unit}`);
    }
  });

  test("a wide bar shows all five labels", () => {
    const bar = fakeBar(400);
    renderColorbar(bar, fresh(0.3), "edges");
    assert.deepEqual(
      bar.spans.filter((x) => !x.hidden).map((x) => x.textContent),
      ["−0.3", "−0.15", "0", "0.15", "0.3"],
    );
  });
});
