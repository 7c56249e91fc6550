// static/js/packed.js: a packed stream frame read back is the frame JSON.parse gives for the
// same frame sent as JSON, number for number (Object.is: the same double, −0 included).
// packed_frame.json holds what the server wrote (tests/runs/test_packed_frames.py checks it
// is this server's format): a real frame as JSON and packed, and edge values (±0, the
// smallest and largest float32, ±1e30 clipped, 4-digit and arbitrary floats) beside
// orjson's JSON of them.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";

import { jsonNumber, unpack } from "../../static/js/packed.js";

const FIX = JSON.parse(readFileSync(new URL("./packed_frame.json", import.meta.url), "utf8"));

function bytes(b64) {
  const buf = Buffer.from(b64, "base64");
  return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength); // an ArrayBuffer
}

/** Every leaf of `got` is Object.is the same as `want`'s; returns how many numbers. */
function same(got, want, path = "") {
  if (typeof want === "number") {
    assert.ok(Object.is(got, want), `${path}: ${got} !== ${want}`);
    return 1;
  }
  if (want === null || typeof want !== "object") {
    assert.equal(got, want, path);
    return 0;
  }
  assert.equal(Array.isArray(got), Array.isArray(want), `${path}: array?`);
  assert.deepEqual(Object.keys(got), Object.keys(want), path);
  let n = 0;
  for (const k of Object.keys(want)) n += same(got[k], want[k], `${path}.${k}`);
  return n;
}

describe("unpack: a packed frame is the JSON frame", () => {
  test("a real frame with its grid: every number the same double, every array a plain array", () => {
    const want = JSON.parse(FIX.frame_json);
    const got = unpack(bytes(FIX.frame_packed));
    const n = same(got, want);
    assert.ok(n > 4096 + 2 * 256, `only ${n} numbers compared`);
    assert.ok(Array.isArray(got.layers[0].w[0]) && !ArrayBuffer.isView(got.layers[0].w[0]));
    assert.equal(got.grid.output.length, 64);
    assert.equal(got.grid.output[63].length, 64);
    assert.deepEqual([got.grid.neurons.length, got.grid.neurons[0].length], [2, 16]);
  });

  test("edge values: ±0, the float32 extremes, clipped 1e30, 4-digit and arbitrary floats", () => {
    const want = JSON.parse(FIX.values_json);
    const got = unpack(bytes(FIX.values_packed));
    assert.ok(same(got, want) > 800);
    assert.ok(Object.is(got.values[1], -0));
    assert.deepEqual(got.empty, []);
    assert.equal(got.matrix[1][2].length, 5);
  });
});

describe("jsonNumber: the shortest decimal that reads back as the float32", () => {
  test("it reads back as the same float32, and no shorter decimal does", () => {
    const f = new Float32Array(1);
    const u = new Uint32Array(f.buffer);
    let seed = 12345;
    for (let i = 0; i < 3000; i++) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      u[0] = seed; // any bit pattern
      const x = f[0];
      if (!Number.isFinite(x)) continue;
      const v = jsonNumber(x);
      assert.equal(Math.fround(v), x);
      const digits = x === 0 ? 1 : v.toExponential().split("e")[0].replace(/[-.]/g, "").length;
      for (let p = 1; p < digits; p++) assert.notEqual(Math.fround(Number(x.toPrecision(p))), x);
    }
  });

  test("4-digit values come back as their decimals", () => {
    for (const s of ["0.1235", "-98770", "1.235e-7", "3.333e29", "0.0001234", "1000", "9.999e-20"]) {
      assert.ok(Object.is(jsonNumber(Math.fround(Number(s))), Number(s)), s);
    }
  });
});
