// loss_plot.js undone(): which points of the curve the page had a rewind undid (drawn faded
// after the step shown). A rewind cuts the history, a reset or a new network replaces it.
import assert from "node:assert/strict";
import { test } from "node:test";
import { undone } from "../../static/js/loss_plot.js";

/** A history at these steps with these train costs (the other columns follow the cost). */
function hist(steps, costs) {
  return { step: steps, epoch: steps.map(() => 0), train_cost: costs, test_cost: costs, train_accuracy: costs.map(() => null), test_accuracy: costs.map(() => null) };
}

const page = hist([0, 30, 60, 90, 120], [0.5, 0.48, 0.4, 0.3, 0.25]);

test("a rewind keeps what came after the step shown, though the server measured elsewhere", () => {
  // The server's history has a point at 48 the page never had; its costs at 0 and 30 agree.
  const u = undone(page, hist([0, 30, 48], [0.5, 0.48, 0.45]), 50);
  assert.deepEqual(u.step, [60, 90, 120]);
  assert.deepEqual(u.train_cost, [0.4, 0.3, 0.25]);
});

test("a rewind forward to the last step leaves nothing undone", () => {
  assert.deepEqual(undone(page, page, 120).step, []);
});

test("a reset (empty history) or a new network (another cost at step 0) undid nothing shown", () => {
  assert.deepEqual(undone(page, hist([], []), 0).step, []);
  assert.deepEqual(undone(page, hist([0], [0.61]), 0).step, []);
});
