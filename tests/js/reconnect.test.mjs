// static/js/reconnect.js: the waits before reconnecting grow, stay bounded, and are spread so
// that a class whose streams dropped together does not reconnect in lockstep; the learner
// reads "Reconnecting…" at first (not an error), then how long the server has been away.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { CAP_S, FIRST_S, QUIET_ATTEMPTS, reconnectDelay, reconnectStatus, replacedText } from "../../static/js/reconnect.js";

function lcg(seed) {
  let x = seed;
  return () => ((x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
}

describe("reconnectDelay", () => {
  test("the first attempt comes within 1.5 s, the base doubles up to the cap", () => {
    // Bounds from the rule written out: base(n) = min(8, 2^(n-1)), wait in [base/2, 1.5 base).
    const bases = [1, 2, 4, 8, 8, 8, 8, 8, 8, 8];
    bases.forEach((base, i) => {
      assert.equal(reconnectDelay(i + 1, () => 0), base / 2);
      assert.ok(reconnectDelay(i + 1, () => 0.999999) < 1.5 * base);
    });
    assert.equal(FIRST_S, 1);
    assert.ok(reconnectDelay(1, () => 0.999999) < 1.5);
    assert.equal(reconnectDelay(1000, () => 0.5), CAP_S); // no overflow, still the cap
  });

  test("200 pages whose streams dropped together do not come back together", () => {
    const rng = lcg(42);
    for (const attempt of [1, 2, 3]) {
      const waits = Array.from({ length: 200 }, () => reconnectDelay(attempt, rng));
      // Spread over the whole window [base/2, 1.5 base): the earliest and latest tenth apart by
      // most of it, and no 50 ms slot holds more than a tenth of the class.
      const base = FIRST_S * 2 ** (attempt - 1);
      const sorted = [...waits].sort((a, b) => a - b);
      assert.ok(sorted[179] - sorted[20] > 0.6 * base, `attempt ${attempt}: ${sorted[20]}..${sorted[179]}`);
      const slots = new Map();
      for (const w of waits) slots.set(Math.floor(w / 0.05), (slots.get(Math.floor(w / 0.05)) ?? 0) + 1);
      assert.ok(Math.max(...slots.values()) <= 20, `attempt ${attempt}: ${Math.max(...slots.values())} in one slot`);
    }
  });
});

describe("reconnectStatus", () => {
  test("a short drop is an information, not an error", () => {
    for (let attempt = 1; attempt <= QUIET_ATTEMPTS; attempt++) {
      assert.deepEqual(reconnectStatus(attempt, 1, attempt), { level: "info", text: "Reconnecting to the server…" });
    }
  });

  test("a long one says how long and when the next try is", () => {
    const s = reconnectStatus(QUIET_ATTEMPTS + 1, 6.4, 12.2);
    assert.equal(s.level, "warn");
    assert.match(s.text, /^Reconnecting to the server… It has not answered for 12 s; trying again in 6 s\./);
    assert.match(reconnectStatus(9, 8, 300).text, /for 5 minutes;/);
  });
});

test("replacedText names what was lost", () => {
  assert.match(replacedText(12345), /new run with the same settings, starting at step 0\. Its 12,345 steps of training are lost\. /);
  assert.doesNotMatch(replacedText(0), /lost/);
});
