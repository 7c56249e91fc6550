// static/js/save_open.js: a refused document is explained by the field the server named, in
// the document's own terms, and the page says that nothing changed.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { ApiError } from "../../static/js/api.js";
import { fieldPath, refusalText } from "../../static/js/save_open.js";

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
