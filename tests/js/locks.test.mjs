// static/js/locks.js: picking a data set (or a problem type) never changes a setting the
// link's lock= keeps; a data set that cannot work with a locked value is refused, saying why.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { lockOf, outputRefusal, pickUnderLocks } from "../../static/js/locks.js";

const OUTS = ["tanh", "sigmoid", "relu", "linear"];
const OPTS = {
  datasets: [
    { name: "circle", kind: "classification", n_classes: 2 },
    { name: "xor", kind: "classification", n_classes: 2 },
    { name: "plane", kind: "regression", n_classes: 0 },
    { name: "blobs3", kind: "multiclass", n_classes: 3 },
    { name: "digits", kind: "multiclass", n_classes: 10, image: [8, 8] },
  ],
  kinds: {
    classification: { outputs: [...OUTS, "softmax"] },
    regression: { outputs: OUTS },
    multiclass: { outputs: [...OUTS, "softmax"] },
  },
  costs: { quadratic: OUTS, cross_entropy: ["sigmoid"], log_likelihood: ["softmax"] },
  limits: { max_width: 8, max_digits_width: 32 },
};
// The reviewer's page: blobs3, η 0.03, sigmoid output with the quadratic cost, all locked.
const PAGE = {
  dataset: "blobs3", noise: 0, train_share: 0.5, features: ["x1", "x2"], hidden: [4, 2],
  hidden_activation: "tanh", output_activation: "sigmoid", cost: "quadratic", init: "playground",
  learning_rate: 0.03, batch_size: 10,
  lock: ["learning_rate", "hidden_activation", "layers", "init", "output_activation", "cost"],
};
// What picking the digits asks for (their link: the book's 64-30-10 network).
const DIGITS = {
  dataset: "digits", csv: null, noise: 0, train_share: 0.8, hidden: [30], hidden_activation: "sigmoid",
  output_activation: null, cost: null, init: "xavier", learning_rate: 0.5, batch_size: 10,
};
const pick = (name, want, settings) => pickUnderLocks(name, want, { settings, opts: OPTS });

describe("lockOf", () => {
  test("the lock= name that keeps a setting, or all, or none", () => {
    assert.equal(lockOf("hidden", ["layers"]), "layers");
    assert.equal(lockOf("learning_rate", ["noise", "learning_rate"]), "learning_rate");
    assert.equal(lockOf("hidden", ["all"]), "all");
    assert.equal(lockOf("hidden", ["noise"]), null);
    // lock=problem keeps the kind of problem, not the data set of that kind
    assert.equal(lockOf("dataset", ["problem"]), null);
  });
});

describe("pickUnderLocks", () => {
  test("the digits bring their preset but every locked setting keeps its value", () => {
    const { patch, refusal } = pick("digits", DIGITS, PAGE);
    assert.equal(refusal, undefined);
    assert.deepEqual(patch, { dataset: "digits", csv: null, noise: 0, train_share: 0.8, batch_size: 10 });
  });
  test("without locks the whole preset is applied", () => {
    assert.deepEqual(pick("digits", DIGITS, { ...PAGE, lock: [] }).patch, DIGITS);
  });
  test("lock=all leaves only the data set (which it locks too: refused)", () => {
    const r = pick("digits", DIGITS, { ...PAGE, lock: ["all"] });
    assert.match(r.refusal, /lock=all/);
  });
  test("a locked data set is not changed by the problem type", () => {
    const r = pick("plane", { dataset: "plane", csv: null, output_activation: null, cost: null }, { ...PAGE, lock: ["dataset"] });
    assert.equal(r.patch, undefined);
    assert.match(r.refusal, /^plane was not picked: .*keeps the data set blobs3 \(lock=dataset\)\. Nothing was changed\.$/);
  });
  test("a problem type picked with the output and cost locked keeps them", () => {
    const r = pick("blobs3", { dataset: "blobs3", csv: null, output_activation: null, cost: null }, { ...PAGE, dataset: "circle", lock: ["output_activation", "cost"] });
    assert.deepEqual(r.patch, { dataset: "blobs3", csv: null });
  });
  test("lock=problem refuses a data set of another kind, not one of the same kind", () => {
    const page = { ...PAGE, dataset: "circle", lock: ["problem"] };
    assert.match(pick("plane", { dataset: "plane" }, page).refusal, /keeps the problem type classification \(lock=problem\)/);
    assert.deepEqual(pick("xor", { dataset: "xor" }, page).patch, { dataset: "xor" });
  });
  test("locked input features cannot feed the digits' 64 pixels: refused", () => {
    const r = pick("digits", DIGITS, { ...PAGE, lock: ["features"] });
    assert.equal(r.patch, undefined);
    assert.match(r.refusal, /^Digits \(8×8, 10 classes\) was not picked: its 64 pixels go into the network directly, .*x1, x2 \(lock=features\).*Nothing was changed\.$/);
  });
  test("locked hidden layers wider than a 2-D data set allows: refused; the digits allow them", () => {
    const page = { ...PAGE, dataset: "digits", hidden: [30], lock: ["layers"] };
    const r = pick("xor", { hidden: [4, 2], dataset: "xor", csv: null }, page);
    assert.match(r.refusal, /at most 8 neurons per hidden layer.*\[30\] \(lock=layers\)/);
    const wide = { ...PAGE, hidden: [8, 8], lock: ["layers"] };
    assert.deepEqual(pick("digits", DIGITS, wide).patch.hidden, undefined);
  });
  test("a locked output or cost the data set's kind cannot use: refused", () => {
    const soft = { ...PAGE, dataset: "circle", output_activation: "softmax", cost: "log_likelihood" };
    const out = pick("plane", { dataset: "plane" }, { ...soft, lock: ["output_activation"] });
    assert.match(out.refusal, /a regression problem cannot use a softmax output layer.*lock=output_activation/);
    const cost = pick("plane", { dataset: "plane", output_activation: null }, { ...soft, lock: ["cost"] });
    assert.match(cost.refusal, /log_likelihood cost needs.*lock=cost/);
    // unlocked, they go to auto as the problem type asks
    assert.deepEqual(pick("plane", { dataset: "plane", output_activation: null, cost: null }, { ...soft, lock: ["layers"] }).patch, { dataset: "plane", output_activation: null, cost: null });
  });
  test("the data set already picked changes nothing that is locked", () => {
    assert.deepEqual(pick("blobs3", { dataset: "blobs3", learning_rate: 1 }, { ...PAGE, lock: ["dataset", "learning_rate"] }).patch, {});
  });
});

describe("outputRefusal", () => {
  const costs = OPTS.costs;
  test("an output the locked cost cannot pair with is refused", () => {
    const t = outputRefusal("tanh", { settings: { cost: "cross_entropy", lock: ["cost"] }, costs });
    assert.match(t, /tanh output layer cannot pair with the cross_entropy cost.*lock=cost.*Nothing was changed/);
  });
  test("a pairing output, an unlocked cost or an auto cost: allowed", () => {
    assert.equal(outputRefusal("sigmoid", { settings: { cost: "cross_entropy", lock: ["cost"] }, costs }), null);
    assert.equal(outputRefusal("tanh", { settings: { cost: "cross_entropy", lock: [] }, costs }), null);
    assert.equal(outputRefusal("tanh", { settings: { cost: null, lock: ["cost"] }, costs }), null);
    assert.equal(outputRefusal(null, { settings: { cost: "cross_entropy", lock: ["cost"] }, costs }), null);
  });
});
