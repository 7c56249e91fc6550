// static/js/figure_export.js: the digits' views as one SVG for a report. Each image must be
// its 64 pixels, in place (row-major, squares side by side) and in the colours the page
// painted; the titles, the output bars and the colour bars' labels as the page shows them.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { colorbarMarkup, digitsSVG, wrapText } from "../../static/js/figure_export.js";

const px = (seed) => Array.from({ length: 64 }, (_, k) => [(seed * 37 + k * 3) % 256, (seed * 11 + k * 5) % 256, (seed + k * 7) % 256]);
const bar = (title) => ({ title, ticks: [{ text: "≤−0.5", at: 0 }, { text: "0", at: 0.5 }, { text: "≥0.5", at: 1 }] });

function model(hidden = 30) {
  return {
    shape: [8, 8],
    input: { title: "Probe digit: training digit #12, a “3”", rgb: px(1) },
    back: { title: "What the error says about each pixel: (w²)ᵀδ²", rgb: px(2), bar: bar("∂C/∂a¹ (probe)") },
    output: {
      title: "Output a³ (softmax), one per class",
      bars: Array.from({ length: 10 }, (_, i) => ({ label: String(i), value: (i / 10).toFixed(3), frac: i / 10, pred: i === 9, truth: i === 3 })),
      verdict: "Predicted 9, true 3: wrong",
      right: false,
      accuracy: "Test accuracy 91.2 % on 360 held-out digits; training 93.0 % (at step 400)",
    },
    weights: { title: "Weights into each hidden neuron j: w²ⱼ· as an 8×8 image", bar: bar("w² (all 30 images)"), images: Array.from({ length: hidden }, (_, j) => px(10 + j)) },
  };
}

/** The pixels of the image `tag` in an SVG text: [{x, y, w, h, rgb, k}] in the order drawn. */
function pixels(svg, tag) {
  const start = svg.indexOf(`<g ${tag} `);
  assert.ok(start >= 0, tag);
  const g = svg.slice(start, svg.indexOf("</g>", start));
  return [...g.matchAll(/<rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="([\d.]+)" fill="rgb\((\d+),(\d+),(\d+)\)" data-k="(\d+)"\/>/g)].map((m) => ({
    x: Number(m[1]),
    y: Number(m[2]),
    w: Number(m[3]),
    h: Number(m[4]),
    rgb: [Number(m[5]), Number(m[6]), Number(m[7])],
    k: Number(m[8]),
  }));
}

describe("digitsSVG", () => {
  const m = model();
  const svg = digitsSVG(m, "backprop-viz: the 64-30-10 network on the digits at step 400");

  test("every image is 64 square pixels on an 8×8 grid, in the page's colours", () => {
    const images = [["data-img=\"input\"", m.input.rgb], ["data-img=\"back\"", m.back.rgb], ...m.weights.images.map((rgb, j) => [`data-img="w" data-j="${j}"`, rgb])];
    assert.equal(images.length, 32);
    for (const [tag, rgb] of images) {
      const p = pixels(svg, tag);
      assert.equal(p.length, 64, tag);
      const x0 = p[0].x;
      const y0 = p[0].y;
      const s = p[0].w;
      p.forEach((q, k) => {
        assert.equal(q.k, k);
        assert.deepEqual(q.rgb, rgb[k], `${tag} pixel ${k}`);
        assert.equal(q.w, s);
        assert.equal(q.h, s);
        // pixel k is at row ⌊k/8⌋, column k mod 8, squares touching
        assert.equal(q.x, x0 + (k % 8) * s, `${tag} x of ${k}`);
        assert.equal(q.y, y0 + Math.floor(k / 8) * s, `${tag} y of ${k}`);
      });
    }
  });

  test("the images do not overlap, and all lie inside the drawing", () => {
    const w = Number(/width="(\d+)"/.exec(svg)[1]);
    const h = Number(/height="(\d+)"/.exec(svg)[1]);
    const boxes = [...svg.matchAll(/<g (data-img="[^"]+"(?: data-j="\d+")?)/g)].map(([, tag]) => {
      const p = pixels(svg, tag);
      return { tag, x0: p[0].x, y0: p[0].y, x1: p[63].x + p[63].w, y1: p[63].y + p[63].h };
    });
    assert.equal(boxes.length, 32);
    for (const b of boxes) assert.ok(b.x0 >= 0 && b.y0 >= 0 && b.x1 <= w && b.y1 <= h, JSON.stringify(b));
    for (const [i, a] of boxes.entries()) for (const b of boxes.slice(i + 1)) assert.ok(a.x1 <= b.x0 || b.x1 <= a.x0 || a.y1 <= b.y0 || b.y1 <= a.y0, `${a.tag} overlaps ${b.tag}`);
  });

  test("the titles, the verdict, the output values and the colour bars' labels are written", () => {
    const texts = [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((x) => x[1]).join(" ");
    for (const s of ["the 64-30-10 network on the digits at step 400", "Probe digit:", "(w²)ᵀδ²", "Output a³ (softmax), one per class", "Predicted 9, true 3: wrong", "∂C/∂a¹ (probe)", "w² (all 30 images)", "≤−0.5", "≥0.5", "0.900", "Test accuracy 91.2 %"]) assert.ok(texts.includes(s), s);
    // The neurons are numbered 1..30 under their images.
    for (let j = 1; j <= 30; j++) assert.match(svg, new RegExp(`font-size="9" fill="#667085">${j}</text>`));
  });

  test("bars as long as the page's, the predicted one in the accent colour", () => {
    const fills = [...svg.matchAll(/<rect x="[\d.]+" y="[\d.]+" width="([\d.]+)" height="8" rx="2" fill="(#[0-9a-f]+)" data-class="(\d)"\/>/g)];
    assert.equal(fills.length, 10);
    const w9 = Number(fills[9][1]);
    fills.forEach(([, w, colour, cls]) => {
      assert.ok(Math.abs(Number(w) - (w9 * Number(cls)) / 9) < 0.02, `class ${cls}: ${w}`);
      assert.equal(colour, cls === "9" ? "#2166ac" : "#98a2b3");
    });
  });

  test("any number of hidden neurons fits: 1, 10, 100", () => {
    for (const n of [1, 10, 100]) {
      const s = digitsSVG(model(n), "c");
      assert.equal((s.match(/data-img="w"/g) ?? []).length, n);
      const h = Number(/height="(\d+)"/.exec(s)[1]);
      const last = pixels(s, `data-img="w" data-j="${n - 1}"`);
      assert.ok(last[63].y + last[63].h < h);
    }
  });
});

describe("pieces", () => {
  test("wrapText: whole words, lines no longer than asked (a long word alone)", () => {
    assert.deepEqual(wrapText("What the error says about each pixel: (w²)ᵀδ²", 22), ["What the error says", "about each pixel:", "(w²)ᵀδ²"]);
    assert.deepEqual(wrapText("a verylongwordindeed b", 5), ["a", "verylongwordindeed", "b"]);
    assert.deepEqual(wrapText("", 5), []);
  });

  test("colorbarMarkup: each tick at its place on the ramp", () => {
    const s = colorbarMarkup({ title: "t", ticks: [{ text: "−1", at: 0 }, { text: "0", at: 0.5 }, { text: "1", at: 1 }] }, 10, 0, 100, "id");
    const xs = [...s.matchAll(/<text x="([\d.]+)"[^>]*font-size="10"[^>]*>([^<]*)</g)].map((x) => [x[2], Number(x[1])]);
    assert.deepEqual(xs, [["−1", 10], ["0", 60], ["1", 110]]);
  });
});
