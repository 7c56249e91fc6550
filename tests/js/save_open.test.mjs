// static/js/save_open.js: a refused document is explained by the field the server named, in
// the document's own terms, and the page says that nothing changed.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { ApiError } from "../../static/js/api.js";
import { fieldPath, lockRefusal, refusalText } from "../../static/js/save_open.js";

describe("fieldPath", () => {
  test("the server's location without the request's part", () => {
    assert.equal(fieldPath(["body", "import", "parameters", "weights", 1]), "parameters › weights › 1");
    assert.equal(fieldPath(["body", "import", "format_version"]), "format_version");
    assert.equal(fieldPath(["body", "import"]), "the document");
    assert.equal(fieldPath(undefined), "the document");
  });
});

describe("refusalText", () => {
  test("a 422 names the field and the server's reason, and says nothing changed", () => {
    const err = new ApiError(422, [{ loc: ["body", "import", "parameters", "weights", 1], msg: "w^3 must be 2 × 4", type: "value_error" }]);
    const t = refusalText("run-100.json", err);
    assert.match(t, /run-100\.json/);
    assert.match(t, /parameters › weights › 1: w\^3 must be 2 × 4/);
    assert.match(t, /Nothing was changed/);
  });
  test("a file that is not JSON is said to be so before anything is sent", () => {
    let err;
    try {
      JSON.parse("{not json");
    } catch (e) {
      err = e;
    }
    assert.match(refusalText("notes.json", err), /not JSON/);
  });
  test("other refusals keep the server's words", () => {
    assert.match(refusalText("a.json", new ApiError(429, "the server is full")), /the server is full/);
    assert.match(refusalText("a.json", new ApiError(413, "too big")), /larger than this server accepts/);
  });
});

describe("lockRefusal", () => {
  const config = { dataset: "xor", hidden: [4, 4], learning_rate: 0.1, features: ["x1", "x2"], momentum: 0, output_activation: null, seed: 1 };
  const doc = (settings) => ({ settings: { ...config, csv: null, ...settings } });

  test("nothing locked: any document opens", () => {
    assert.equal(lockRefusal("a.json", doc({ hidden: [8] }), { config, lock: [], hide: ["layers"] }), null);
  });

  test("a locked or hidden setting that differs is named, with the link's names and that nothing changed", () => {
    const t = lockRefusal("other.json", doc({ dataset: "spiral", hidden: [8, 8, 8], learning_rate: 0.03 }), { config, lock: ["layers", "learning_rate"], hide: ["dataset"] });
    assert.match(t, /^other\.json was not opened/);
    assert.match(t, /lock=layers,learning_rate and hide=dataset/);
    assert.match(t, /hidden layers \[8, 8, 8\] \(here \[4, 4\]\)/);
    assert.match(t, /learning rate η 0\.03 \(here 0\.1\)/);
    assert.match(t, /data set spiral \(here xor\)/);
    assert.match(t, /Nothing was changed/);
  });

  test("settings no lock or hide names may differ; features in another order are the same", () => {
    assert.equal(lockRefusal("a.json", doc({ momentum: 0.9, seed: 5, features: ["x2", "x1"] }), { config, lock: ["learning_rate", "features"], hide: [] }), null);
  });

  test("lock=all keeps every run setting; a group that sets nothing of the run keeps none", () => {
    assert.match(lockRefusal("a.json", doc({ seed: 5 }), { config, lock: ["all"] }), /seed 5 \(here 1\)/);
    assert.equal(lockRefusal("a.json", doc({ seed: 5, hidden: [2] }), { config, lock: ["open", "play", "speed"] }), null);
  });

  test("csv: a document with its own data is refused unless it is the page's CSV", () => {
    const csvDoc = doc({ dataset: "csv", csv: "x1,x2,y\n0,0,1\n" });
    assert.match(lockRefusal("a.json", csvDoc, { config, lock: ["csv"] }), /own data \(CSV\) its own CSV data \(here no CSV data\)/);
    const page = { config: { ...config, dataset: "csv" }, csvText: "x1,x2,y\n0,0,1\n", lock: ["csv"] };
    assert.equal(lockRefusal("a.json", csvDoc, page), null);
  });

  test("a setting the document leaves out is not taken for the page's", () => {
    const { learning_rate, ...rest } = config;
    assert.match(lockRefusal("a.json", { settings: rest }, { config, lock: ["learning_rate"] }), /learning rate η none given \(here 0\.1\)/);
  });
});
