// static/js/reconnect.js: what the banner says when the server no longer has a run. A 404
// does not say why (the idle evictor, a DELETE seconds ago, a restart of a server that keeps
// runs in memory), so the banner says what is known and gives the causes as possibilities; a
// learner read "it closes runs nobody has been connected to for 10 minutes" about a run
// deleted seconds before, and "Its 1 steps of training are lost".

import assert from "node:assert/strict";
import { test } from "node:test";

import { evictedText, expiredText, replacedText, stepCount } from "../../static/js/reconnect.js";

const IDLE = " for 10 minutes";
const ALL = [expiredText(IDLE), evictedText(2, IDLE), replacedText(2, IDLE)];

test("each banner says the run is no longer on the server and asserts no cause", () => {
  for (const text of ALL) {
    assert.match(text, /^The server no longer ha[sd] (this tab's previous run|this experiment|your run)/, text);
    assert.doesNotMatch(text, /\(it closes runs|The server restarted and/, text);
    // Every cause is offered as a possibility, in one sentence that says so.
    assert.match(text, /Possible causes: the server closes runs nobody has been connected to for 10 minutes, the run was deleted, or the server restarted/, text);
  }
  assert.match(expiredText(""), /connected to, the run was deleted/, "no timeout known: none made up");
});

test("one step is a step, singular; more are steps", () => {
  assert.equal(stepCount(1), "1 step");
  assert.equal(stepCount(2), "2 steps");
  assert.equal(stepCount(12345), "12,345 steps");
  assert.match(replacedText(1), /Its 1 step of training is lost\./);
  assert.doesNotMatch(replacedText(1), /1 steps|are lost/);
  assert.match(replacedText(30), /Its 30 steps of training are lost\./);
  assert.match(evictedText(1), /It had trained for 1 step; that training is lost\./);
  assert.match(evictedText(2), /It had trained for 2 steps;/);
  for (const text of [replacedText(0), evictedText(0), evictedText(undefined)]) assert.doesNotMatch(text, /lost\.|trained for/, text);
});
