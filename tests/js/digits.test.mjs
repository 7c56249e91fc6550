// static/js/digits.js: the digits the guides write. A reader who recomputes an equation
// exactly from the numbers as shown must land within half a unit of the last shown digit of
// the result; "≈" only where even all 17 digits of a float64 cannot do that. Checked here with
// fractions of our own (exact.mjs), on seeded random cases, cancellation included.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { Sheet, show } from "../../static/js/digits.js";
import { cmp, evaluateText, fabs, frac, holds, mul, ofFloat, readShown, rng, sub } from "./exact.mjs";

const OPS = new Set(["+", "−", "·", "/", "(", ")"]);

/** An equation as the page writes it: negatives after an operator in parentheses. */
function written(sheet, e) {
  const E = sheet.eqs[e];
  let prev = null;
  const parts = E.lhs.map((t) => {
    const s = OPS.has(t) ? t : sheet.text(t);
    const out = !OPS.has(t) && s.startsWith("−") && prev !== null && prev !== "(" ? `(${s})` : s;
    prev = t;
    return out;
  });
  return { lhs: parts.join(""), rel: E.approx ? "≈" : "=", rhs: sheet.text(E.rhs) };
}

/** Every "=" on the sheet holds when read back exactly; returns the written equations. */
function assertEveryEqualsHolds(sheet) {
  return sheet.eqs.map((_, e) => {
    const w = written(sheet, e);
    if (w.rel === "=") assert.ok(holds(evaluateText(w.lhs), w.rhs), `${w.lhs} = ${w.rhs} does not hold`);
    return w;
  });
}

const sigDigits = (text) => readShown(text).digits;

describe("show: a float as the page writes it", () => {
  test("a real minus sign and exponents from 10⁻⁵ and 10⁵ on, as the docs say", () => {
    assert.equal(show(-5, 4), "−5.000");
    assert.equal(show(0.01234, 4), "0.01234");
    assert.equal(show(0.0001234, 4), "0.0001234");
    assert.equal(show(0.00001234, 4), "1.234e−5");
    assert.equal(show(1.234e-7, 4), "1.234e−7");
    // Below 10⁵ too when the digits asked for cannot show the integer part without padding.
    assert.equal(show(12345.6, 4), "1.235e4");
    assert.equal(show(12345.6, 6), "12345.6");
    assert.equal(show(123456, 4), "1.235e5");
    assert.equal(show(0, 4), "0");
    assert.equal(show(Number.NaN, 4), "—");
  });

  test("d significant digits, correctly rounded, for floats of every size", () => {
    const r = rng(1);
    for (let i = 0; i < 1500; i += 1) {
      const v = (r() < 0.5 ? -1 : 1) * (1 + 9 * r()) * 10 ** Math.floor(-12 + 24 * r());
      const d = 1 + Math.floor(17 * r());
      const s = show(v, d);
      const { value, unit, digits } = readShown(s);
      assert.equal(digits, d, `${v} to ${d} digits was written ${s}`);
      // |shown − v| ≤ ½ unit: the reader's number is v rounded, not truncated or shifted.
      assert.ok(cmp(mul(fabs(sub(value, ofFloat(v))), frac(2n)), unit) <= 0, `${s} is not ${v} rounded`);
    }
  });

  test("17 digits give the float back", () => {
    const r = rng(2);
    for (let i = 0; i < 2000; i += 1) {
      const v = (r() - 0.5) * 10 ** Math.floor(-20 + 40 * r());
      assert.equal(Number(show(v, 17).replace(/−/g, "-")), v);
    }
  });
});

/** A sum of products Σ wᵢ·aᵢ + b = z, z computed in float64 the way the server does. */
function forwardSheet(r, n, scale = 1) {
  const s = new Sheet();
  const lhs = [];
  let z = 0;
  for (let i = 0; i < n; i += 1) {
    const w = (r() - 0.5) * 2 * scale;
    const a = r() - 0.5;
    z += w * a;
    if (i) lhs.push("+");
    lhs.push(s.num(`w${i}`, w), "·", s.num(`a${i}`, a));
  }
  const b = (r() - 0.5) * 0.2;
  z += b;
  lhs.push("+", s.num("b", b));
  s.eq(lhs, s.num("z", z));
  return s;
}

describe("Sheet.fit: every written = holds", () => {
  test("forward sums of products (z = Σ w·a + b): all =, and few digits", () => {
    const r = rng(3);
    const digits = [];
    for (let c = 0; c < 250; c += 1) {
      const s = forwardSheet(r, 1 + Math.floor(8 * r())).fit();
      for (const w of assertEveryEqualsHolds(s)) assert.equal(w.rel, "=", `${w.lhs} ≈ ${w.rhs}: no cancellation here`);
      for (const id of s.nums.keys()) digits.push(sigDigits(s.text(id)));
    }
    // Readable: most numbers keep the default 4 digits; a few need one or two more.
    digits.sort((a, b) => a - b);
    assert.equal(digits[Math.floor(digits.length / 2)], 4, "the median number has 4 digits");
    assert.ok(digits[Math.floor(0.95 * digits.length)] <= 6, `95 % of numbers have ≤ 6 digits (got ${digits[Math.floor(0.95 * digits.length)]})`);
  });

  test("a chain (s = Σ w·δ, then δ = s·σ′): raising s for the second keeps the first true", () => {
    const r = rng(4);
    for (let c = 0; c < 200; c += 1) {
      const s = new Sheet();
      const lhs = [];
      let sum = 0;
      const n = 1 + Math.floor(6 * r());
      for (let j = 0; j < n; j += 1) {
        const w = r() - 0.5;
        const d = (r() - 0.5) * 10 ** (-4 * r());
        sum += w * d;
        if (j) lhs.push("+");
        lhs.push(s.num(`w${j}`, w), "·", s.num(`d${j}`, d));
      }
      const sp = r() < 0.1 ? 0 : 0.25 * r();
      s.eq(lhs, s.num("sum", sum));
      s.eq(["sum", "·", s.num("sp", sp)], s.num("delta", sum * sp));
      s.fit();
      for (const w of assertEveryEqualsHolds(s)) assert.equal(w.rel, "=", `${w.lhs} ${w.rel} ${w.rhs}`);
    }
  });

  test("an update w − η·g = w′ with η shown exactly as typed", () => {
    const r = rng(5);
    for (let c = 0; c < 300; c += 1) {
      const s = new Sheet();
      const typed = ["0.00001", "0.0001", "0.001", "0.003", "0.01", "0.03", "0.1", "0.3", "1", "3", "10"][Math.floor(11 * r())];
      const eta = Number(typed.replace("−", "-"));
      const w = r() - 0.5;
      const g = (r() - 0.5) * 10 ** (-6 * r());
      s.num("eta", eta, { exact: true });
      s.eq([s.num("w", w), "−", "eta", "·", s.num("g", g)], s.num("w2", w - eta * g));
      s.fit();
      assert.equal(s.text("eta"), typed, "η is written as typed, neither padded nor rounded");
      assertEveryEqualsHolds(s);
    }
  });

  test("cancellation: a + b far smaller than a and b is written with = and enough digits", () => {
    const r = rng(6);
    for (let k = 2; k <= 12; k += 1) {
      for (let c = 0; c < 20; c += 1) {
        const a = 0.1 + r();
        const b = -a * (1 - (1 + r()) * 10 ** -k);
        const s = new Sheet();
        s.eq([s.num("a", a), "+", s.num("b", b)], s.num("c", a + b));
        s.fit();
        const [w] = assertEveryEqualsHolds(s);
        assert.equal(w.rel, "=", `${w.lhs} ${w.rel} ${w.rhs}: 17 digits are enough for 1e−${k}`);
        assert.ok(sigDigits(s.text("a")) > k, `${w.lhs} = ${w.rhs}: too few digits for terms that cancel to 1e−${k}`);
      }
    }
  });

  test("≈ only where all 17 digits cannot make it hold", () => {
    const s = new Sheet();
    // In float64 1e16 + 1 − 1e16 is 0; the exact sum of the shown terms is 1, so "= 0" would lie.
    s.eq([s.num("a", 1e16), "+", s.num("b", 1), "−", s.num("c", 1e16)], s.num("z", 1e16 + 1 - 1e16));
    const r = rng(7);
    const near = [];
    for (let c = 0; c < 50; c += 1) {
      const a = 0.5 + r();
      const b = -(a - a * 2 ** -52 * Math.ceil(1 + 8 * r()));
      near.push(s.eq([s.num(`a${c}`, a), "+", s.num(`b${c}`, b)], s.num(`c${c}`, a + b)));
    }
    s.fit();
    const written0 = written(s, 0);
    assert.equal(written0.rel, "≈", `${written0.lhs} ${written0.rel} ${written0.rhs}`);
    assert.equal(written0.rhs, "0");
    for (const [e, E] of s.eqs.entries()) {
      if (!E.approx) continue;
      const w = written(s, e);
      for (const t of E.lhs) if (!OPS.has(t)) assert.equal(sigDigits(s.text(t)), 17, `${w.lhs} ≈ ${w.rhs} before using all 17 digits`);
      assert.ok(!holds(evaluateText(w.lhs), w.rhs), `${w.lhs} ≈ ${w.rhs} though = holds`);
    }
    assertEveryEqualsHolds(s);
    assert.ok(near.some((e) => s.eqs[e].approx), "some cancellations to 1 ulp are past float64");
  });

  test("a shown 0 is exactly zero: ReLU's σ′ = 0 makes δ = 0 with =", () => {
    const s = new Sheet();
    s.eq([s.num("sum", 0.123456789), "·", s.num("sp", 0)], s.num("delta", 0));
    s.fit();
    const [w] = assertEveryEqualsHolds(s);
    assert.deepEqual([w.lhs, w.rel, w.rhs], ["0.1235·0", "=", "0"]);
  });
});
