// static/js/nudge.js: how the measured slope and backprop's value are written side by side.
// The page says "they agree to d significant digits: both round to X"; a reader who rounds
// either number to d digits must get X, and at d + 1 digits they must not both give the same
// text. The marked shared part must be text both numbers start with, and the first digit after
// it must differ (the reader sees where they part).

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { show } from "../../static/js/digits.js";
import { agreeDigits, sharedDigits, sideBySide } from "../../static/js/nudge.js";

const CASES = [
  [-0.14333263074615868, -0.1433326307515641], // a central difference and backprop: 9 digits
  [0.06731971815518492, 0.06731971816120964],
  [1.2345e-7, 1.2346e-7],
  [0.1234, 0.2345], // no digit in common
  [0.09999999, 0.10000001], // agree when rounded, share no text
  [5, 5],
  [-2.5e6, -2.5000004e6],
];

describe("agreeDigits", () => {
  test("rounding both to the stated digits gives one text; one more digit does not", () => {
    for (const [x, y] of CASES) {
      const d = agreeDigits(x, y);
      if (d > 0) assert.equal(show(x, d), show(y, d), `${x} ${y} at ${d}`);
      if (d < 17) assert.notEqual(show(x, d + 1), show(y, d + 1), `${x} ${y} at ${d + 1}`);
    }
  });
  test("known cases", () => {
    assert.equal(agreeDigits(-0.14333263074615868, -0.1433326307515641), 9);
    assert.equal(agreeDigits(0.1234, 0.2345), 0);
    assert.equal(agreeDigits(0.09999999, 0.10000001), 6); // 0.100000 both
    assert.equal(agreeDigits(5, 5), 17);
  });
});

describe("sideBySide", () => {
  test("the marked part is shared text and the next character differs", () => {
    for (const [x, y] of CASES) {
      const s = sideBySide(x, y, agreeDigits(x, y));
      const mark = s.a.slice(0, s.common);
      assert.ok(s.b.startsWith(mark), `${s.a} ${s.b}`);
      if (x !== y) {
        assert.notEqual(s.a, s.b, `shown alike: ${s.a}`);
        if (s.common > 0) assert.notEqual(s.a[s.common], s.b[s.common]);
      } else {
        assert.equal(Number(s.a.replace(/−/g, "-")), x); // equal numbers written in full
      }
    }
  });
  test("nothing is marked where no significant digit is shared", () => {
    assert.equal(sideBySide(0.1234, 0.2345, 0).common, 0); // not the "0."
    assert.equal(sideBySide(0.09999999, 0.10000001, 6).common, 0);
  });
  test("a 9-digit agreement is shown with the 10th digit, where they part", () => {
    const s = sideBySide(-0.14333263074615868, -0.1433326307515641, 9);
    assert.equal(s.a, "−0.1433326307");
    assert.equal(s.b, "−0.1433326308");
    assert.equal(s.a.slice(0, s.common), "−0.143332630");
  });
});

describe("sharedDigits", () => {
  test("the note's count is the significant digits of the marked text", () => {
    // the reviewer's pair: both start "0.00821656344", so 9 digits, and no rounded form
    // (0.00821656345) is claimed for them
    const [x, y] = [0.008216563447, 0.008216563446];
    const s = sideBySide(x, y, agreeDigits(x, y));
    assert.equal(s.a.slice(0, s.common), "0.00821656344");
    assert.equal(sharedDigits(s.a.slice(0, s.common)), 9);
    assert.equal(sharedDigits("−0.143332630"), 9);
    assert.equal(sharedDigits("1.23"), 3);
    assert.equal(sharedDigits("10.0"), 3);
    assert.equal(sharedDigits(""), 0);
    assert.equal(sharedDigits("−2.50000"), 6);
  });
});
