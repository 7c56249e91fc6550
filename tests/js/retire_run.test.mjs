// static/js/util.js retireRun: a run the page leaves (Open replaces it) is deleted only once
// the history and timeline feeds ask nothing more about it. A request sent before the switch
// and answered after the DELETE was a 404 in the browser's console (seen in CI:
// test_save_then_open_goes_on_from_the_same_weights, two 404s at teardown).

import assert from "node:assert/strict";
import { test } from "node:test";

import { HistoryFeed } from "../../static/js/gradient_strip.js";
import { TimelineFeed } from "../../static/js/timeline.js";
import { retireRun } from "../../static/js/util.js";

/** A server whose answers the test releases by hand; every request and the DELETE logged. */
function server() {
  const log = [];
  const pending = [];
  const deleted = new Set();
  const answer = (what, id, body) =>
    new Promise((resolve, reject) => {
      log.push(`${what} ${id}`);
      pending.push(() => (deleted.has(id) ? reject(new Error("404")) : resolve(body)));
    });
  return {
    log,
    deleted,
    release: () => pending.splice(0).forEach((f) => f()),
    timeline: (id) => answer("timeline", id, { step: 5, steps: [0, 5] }),
    history: (id) => answer("history", id, { step: [5], revision: 1, layers: [] }),
    del: (id) => {
      log.push(`DELETE ${id}`);
      deleted.add(id);
    },
  };
}

const tick = () => new Promise((r) => setTimeout(r, 5));

test("the DELETE waits for the requests in flight and nothing is asked about the run after it", async () => {
  const s = server();
  const later = (fn, ms) => setTimeout(fn, Math.min(ms, 5));
  const tl = new TimelineFeed({ get: s.timeline, put: () => {}, later, every: 0 });
  const hf = new HistoryFeed({ get: s.history, put: () => {}, later, every: 0 });
  tl.frame("old", 5);
  hf.frame("old", "5");
  assert.deepEqual(s.log, ["timeline old", "history old"]); // both in flight
  const done = retireRun("old", [tl, hf], s.del, 1);
  await tick();
  assert.ok(!s.log.includes("DELETE old"), "deleted while its requests were in flight");
  s.release(); // the answers come back after the switch
  await done;
  assert.equal(s.log.at(-1), "DELETE old");
  for (let i = 0; i < 5; i++) {
    await tick(); // timers of the feeds, if any were left, fire now
    s.release();
  }
  const after = s.log.slice(s.log.indexOf("DELETE old") + 1);
  assert.deepEqual(after, [], `asked about the deleted run: ${after}`);
  // The feeds go on with the next run the page shows.
  tl.frame("new", 7);
  hf.frame("new", "7");
  await tick();
  assert.ok(s.log.includes("timeline new") && s.log.includes("history new"));
});

test("a run no feed is asking about is deleted at once", async () => {
  const s = server();
  const tl = new TimelineFeed({ get: s.timeline, put: () => {} });
  await retireRun("old", [tl], s.del, 1);
  assert.deepEqual(s.log, ["DELETE old"]);
});
