// static/js/state.js: the store is the page's one write path. Each update tells each
// subscriber of a changed field exactly once, after the whole patch is in place; updates made
// by subscribers wait their turn, so every subscriber of one update sees the same state.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { Store, settingsFromRun } from "../../static/js/state.js";

describe("Store.update: events", () => {
  test("a subscriber of several changed fields is called once per update", () => {
    const s = new Store();
    const calls = [];
    s.on(["frame", "selection", "settings"], (c) => calls.push([...c.fields].sort()));
    s.update({ frame: { step: 1 }, selection: { type: "neuron", l: 2, j: 0 }, settings: { speed: 5 } });
    assert.deepEqual(calls, [["frame", "selection", "settings"]]);
  });

  test("only subscribers of a changed field are called; an unchanged value fires nothing", () => {
    const s = new Store();
    const frame = { step: 1 };
    let frames = 0;
    let modes = 0;
    s.on("frame", () => (frames += 1));
    s.on("mode", () => (modes += 1));
    s.update({ frame });
    s.update({ frame }); // the same object: no change
    s.update({ mode: "normal" }); // the value it has
    s.update({ settings: { speed: 1 } });
    s.update({ settings: { speed: 1 } });
    assert.equal(frames, 1);
    assert.equal(modes, 0);
  });

  test("settings merge: the keys changed are named, the others kept, arrays compared by value", () => {
    const s = new Store();
    const seen = [];
    s.on("settings", (c) => seen.push([...c.keys]));
    s.update({ settings: { hidden: [4, 2], speed: 1 } });
    s.update({ settings: { hidden: [4, 2] } }); // equal array: no event
    s.update({ settings: { speed: 10 } });
    assert.deepEqual(seen, [["hidden", "speed"], ["speed"]]);
    assert.deepEqual([...s.settings.hidden], [4, 2]);
    assert.equal(s.settings.speed, 10);
  });

  test("meta reaches the subscribers", () => {
    const s = new Store();
    let got = null;
    s.on("frame", (c) => (got = c.meta));
    s.update({ frame: {} }, { force: true });
    assert.deepEqual(got, { force: true });
  });

  test("unsubscribing stops the calls", () => {
    const s = new Store();
    let n = 0;
    const off = s.on("frame", () => (n += 1));
    s.update({ frame: {} });
    off();
    s.update({ frame: {} });
    assert.equal(n, 1);
  });
});

describe("Store.update: consistent state", () => {
  test("every subscriber sees the whole patch applied, whatever its order", () => {
    const s = new Store();
    const seen = [];
    for (const field of ["frame", "selection"]) s.on(field, () => seen.push([s.frame?.step, s.selection?.j]));
    s.update({ frame: { step: 7 }, selection: { type: "neuron", l: 2, j: 3 } });
    assert.deepEqual(seen, [[7, 3], [7, 3]]);
  });

  test("an update made by a subscriber waits until all subscribers of the current one ran", () => {
    const s = new Store();
    const log = [];
    // The first subscriber reacts to a frame by selecting; the second must still see the
    // state of the frame's update (no selection yet), then be told about the selection.
    s.on("frame", () => {
      log.push(`a:${s.selection?.j ?? "-"}`);
      s.update({ selection: { type: "neuron", l: 2, j: 1 } });
    });
    s.on(["frame", "selection"], (c) => log.push(`b:${[...c.fields].join("+")}:${s.selection?.j ?? "-"}`));
    s.update({ frame: { step: 1 } });
    assert.deepEqual(log, ["a:-", "b:frame:-", "b:selection:1"]);
  });

  test("fields have no setters, and settings cannot be changed in place", () => {
    const s = new Store();
    s.update({ settings: { hidden: [4, 2], speed: 1 } });
    assert.throws(() => {
      s.frame = {};
    }, TypeError);
    assert.throws(() => {
      s.settings.speed = 3;
    }, TypeError);
    assert.throws(() => s.settings.hidden.push(8), TypeError);
    assert.equal(s.settings.speed, 1);
  });

  test("a field the store does not have is refused by update and by on", () => {
    const s = new Store();
    assert.throws(() => s.update({ frames: {} }), /no field frames/);
    assert.throws(() => s.on("frames", () => {}), /no field frames/);
  });

  test("a subscriber that throws does not keep the others from drawing, and is reported", () => {
    const errors = [];
    const s = new Store({ report: (err) => errors.push(err.message) });
    let drawn = 0;
    s.on("frame", () => {
      throw new Error("view broke");
    });
    s.on("frame", () => (drawn += 1));
    s.update({ frame: {} });
    s.update({ frame: {} });
    assert.equal(drawn, 2);
    assert.deepEqual(errors, ["view broke", "view broke"]);
  });
});

describe("settingsFromRun", () => {
  test("the run's config for the settings the page has, without the CSV text; lambda_ read as lambda", () => {
    const settings = { learning_rate: 0.03, dataset: "circle", lambda: 0, color: "backward" };
    const run = { config: { learning_rate: 0.1, dataset: "csv", csv: "1,2,0", lambda_: 0.3, seed: 4 } };
    assert.deepEqual(settingsFromRun(run, settings), { learning_rate: 0.1, dataset: "csv", lambda: 0.3 });
  });
});
