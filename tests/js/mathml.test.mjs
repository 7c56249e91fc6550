// static/js/mathml.js (and the util.js helpers it writes with): symbols in the book's
// notation with 1-based indices, live numbers to 4 significant digits with a real minus sign
// and their full value kept in data-v, and nothing from outside written unescaped.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { math, mi, num, numP, sym } from "../../static/js/mathml.js";
import { fmt } from "../../static/js/util.js";
import { rng, textOf } from "./exact.mjs";

const raw = (x) => x.__raw;

describe("symbols", () => {
  test("w^l_jk: superscript the layer, subscripts j then k, both shown 1-based", () => {
    assert.equal(raw(sym.w(3, 1, 0)), "<msubsup><mi>w</mi><mrow><mn>2</mn><mn>1</mn></mrow><mn>3</mn></msubsup>");
    assert.equal(raw(sym.b(2, 0)), "<msubsup><mi>b</mi><mn>1</mn><mn>2</mn></msubsup>");
  });

  test("δ^l_j, and δ^{l+1} with a written plus; letters stay letters", () => {
    assert.equal(textOf(raw(sym.delta(2, 3))), "δ42");
    assert.equal(raw(sym.delta("l+1")), "<msup><mi>δ</mi><mrow><mi>l</mi><mo>+</mo><mn>1</mn></mrow></msup>");
    assert.equal(raw(sym.delta("l-1")), "<msup><mi>δ</mi><mrow><mi>l</mi><mo>−</mo><mn>1</mn></mrow></msup>");
    assert.equal(raw(sym.a("L", "j")), "<msubsup><mi>a</mi><mi>j</mi><mi>L</mi></msubsup>");
  });

  test("(w^{l+1})^T: the transpose is written", () => {
    assert.equal(textOf(raw(sym.wT("l+1"))), "(wl+1)T");
  });
});

describe("live numbers", () => {
  test("4 significant digits, real minus sign, the full value kept for readers and tests", () => {
    const r = rng(41);
    for (let i = 0; i < 1000; i += 1) {
      const v = (r() - 0.5) * 10 ** Math.floor(-8 + 14 * r());
      const m = /^<mn class="" data-v="([^"]+)">([^<]+)<\/mn>$/.exec(raw(num(v)));
      assert.ok(m, raw(num(v)));
      assert.equal(Number(m[1]), v, "data-v is the exact value");
      assert.doesNotMatch(m[2], /-/, "a real minus sign (U+2212), not a hyphen");
      const shown = Number(m[2].replace(/−/g, "-"));
      assert.ok(Math.abs(shown - v) <= 0.5e-3 * Math.abs(v) * (1 + 1e-12), `${m[2]} is ${v} to 4 digits`);
      const mant = m[2].replace(/e.*$/, "").replace("−", "");
      const sig = (mant.includes(".") ? mant.replace(".", "") : mant.replace(/0+$/, "")).replace(/^0+/, "");
      assert.ok(sig.length <= 4, `${m[2]}: at most 4 significant digits`);
    }
    assert.equal(fmt(0), "0");
    assert.equal(fmt(Number.NaN), "—");
  });

  test("a negative factor in a product is in parentheses", () => {
    assert.equal(textOf(raw(numP(-0.0123))), "(−0.0123)");
    assert.equal(textOf(raw(numP(0.431))), "0.431");
  });

  test("text from outside (a CSV column name) is escaped, never markup", () => {
    const out = raw(math(mi('<img src=x onerror="alert(1)">')));
    assert.doesNotMatch(out, /<img/);
    assert.equal(textOf(out), '<img src=x onerror="alert(1)">');
  });
});
