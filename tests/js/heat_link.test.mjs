// The gradient strip's "over the run" choice (‖∂C/∂w‖ · ‖δ‖ · saturated · dead) is kept in
// the page's link as the view key `heat`, so a reload or a shared link shows the same strip.
// The grammar is the server's (tests/js/grammar.json, a copy of GET /api/preset's, kept equal
// by tests/api/test_presets.py); reading a link is the server's parser (tests/hash_cases.json:
// heat=delta is read, heat=loss is ignored with its reason); writing one is state.js's toHash.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";

import { HEAT_QUANTITIES, heatPick } from "../../static/js/gradient_strip.js";
import { initialSettings, toHash } from "../../static/js/state.js";

const grammar = JSON.parse(readFileSync(new URL("./grammar.json", import.meta.url), "utf8"));
const opts = { default_config: {} };
const same = (x) => x;
/** readLink's answer for a link whose view part the server read as `view`. */
const read = (view = {}) => ({ preset: { config: {}, view: {}, ignored: [] }, hash: { config: {}, view, ignored: [] }, grammar });

describe("the link's heat key", () => {
  test("is a view key whose choices are the strip's selector, ‖∂C/∂w‖ by default", () => {
    const g = grammar.find((k) => k.key === "heat");
    assert.ok(g, "the grammar has a heat key");
    assert.equal(g.target, "view");
    assert.deepEqual(g.choices, HEAT_QUANTITIES); // grad, delta, saturated, dead: the buttons
    assert.equal(g.default, "grad");
    assert.equal(heatPick(g.default, HEAT_QUANTITIES), "grad");
  });

  test("round trip: each choice read from a link is written back into the page's link", () => {
    for (const q of HEAT_QUANTITIES) {
      const s = initialSettings(opts, read({ heat: q }), same);
      assert.equal(s.heat, q);
      const written = toHash(s);
      const params = new URLSearchParams(written);
      assert.deepEqual(params.getAll("heat"), [q], written);
      // Read back (the server's parser gives what was written), written again: the same link.
      assert.equal(toHash(initialSettings(opts, read({ heat: params.get("heat") }), same)), written);
    }
  });

  test("a link without it (or whose value the server ignored) opens on ‖∂C/∂w‖", () => {
    const s = initialSettings(opts, read({}), same);
    assert.equal(s.heat, "grad");
    // Written like the other view keys' defaults (color=backward, over=probe): a link the
    // page wrote overrides a teacher's preset of another choice.
    const params = new URLSearchParams(toHash(s));
    assert.equal(params.get("heat"), "grad");
    assert.equal(params.get("color"), "backward");
  });

  test("a teacher's preset sets it, and the link's own value wins", () => {
    const link = read({ heat: "dead" });
    link.preset.view = { heat: "saturated" };
    assert.equal(initialSettings(opts, link, same).heat, "dead");
    link.hash.view = {};
    assert.equal(initialSettings(opts, link, same).heat, "saturated");
  });
});
