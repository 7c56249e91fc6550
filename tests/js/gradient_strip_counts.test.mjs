// static/js/gradient_strip.js: the saturated and dead counts of the gradient strip say
// something only for a layer whose activation can saturate (tanh, σ) or die (ReLU), as the
// activation registry (tests/js/about.json, a copy of GET /api/options) says. A learner saw
// "dead ReLU 0/1" under a tanh output layer: a count that can never be anything but 0.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";

import { layerRows, shownCounts, unitCell } from "../../static/js/gradient_strip.js";
import { learnChoices } from "../../static/js/quantities.js";

const about = JSON.parse(readFileSync(new URL("./about.json", import.meta.url), "utf8"));
learnChoices(about);

/** A frame of a 2-4-2-1 network with these activations for layers 2, 3, 4 and these counts. */
function frame(acts, health) {
  return {
    sizes: [2, 4, 2, 1],
    layers: acts.map((activation, i) => ({ l: i + 2, activation, norms: {} })),
    health: { layers: health },
  };
}

const HEALTH = [
  { l: 2, n: 4, saturated: 0, dead: 0 },
  { l: 3, n: 2, saturated: 0, dead: 1 },
  { l: 4, n: 1, saturated: 1, dead: 0 },
];

describe("saturated and dead counts", () => {
  test("ReLU hidden layers and a tanh output: the output has no dead count, the ReLUs no saturated count", () => {
    const rows = layerRows(frame(["relu", "relu", "tanh"], HEALTH), "probe");
    const dead = rows.map((r) => unitCell(r, "dead"));
    const sat = rows.map((r) => unitCell(r, "saturated"));
    assert.deepEqual(
      dead.map((c) => c.text),
      ["0/4", "1/2", "—"],
    );
    assert.match(dead[2].title, /tanh units cannot die/);
    assert.deepEqual(
      sat.map((c) => c.text),
      ["—", "—", "1/1"],
    );
    assert.match(sat[0].title, /ReLU units do not saturate/);
    assert.deepEqual(shownCounts(rows), { saturated: true, dead: true });
  });

  test("every activation of the registry: a count is a number exactly where the registry says the activation can have it", () => {
    for (const [name, a] of Object.entries(about.activations)) {
      const rows = layerRows(frame(["tanh", "tanh", name], HEALTH.map((h) => ({ ...h, saturated: 0, dead: 0 }))), "probe");
      const out = rows[2];
      assert.equal(unitCell(out, "dead").text === "0/1", !!a.dies, `${name} dead`);
      assert.equal(unitCell(out, "saturated").text === "0/1", !!a.saturates, `${name} saturated`);
    }
  });

  test("a row is shown only when some layer can have that count", () => {
    const tanh = layerRows(frame(["tanh", "tanh", "sigmoid"], HEALTH.map((h) => ({ ...h, dead: 0 }))), "probe");
    assert.deepEqual(shownCounts(tanh), { saturated: true, dead: false });
    const relu = layerRows(frame(["relu", "relu", "linear"], HEALTH.map((h) => ({ ...h, saturated: 0 }))), "probe");
    assert.deepEqual(shownCounts(relu), { saturated: false, dead: true });
  });

  test("a layer the health does not count (σ′ cancels in BP1 at the output) is a dash that says so", () => {
    const rows = layerRows(frame(["relu", "relu", "sigmoid"], HEALTH.slice(0, 2)), "probe");
    const c = unitCell(rows[2], "saturated");
    assert.equal(c.text, "—");
    assert.match(c.title, /σ′ cancels in BP1/);
  });
});
