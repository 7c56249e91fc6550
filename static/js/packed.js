// A packed stream frame (docs/frames.md, "Packed frames") read back into exactly the frame
// JSON.parse gives for the same frame sent as JSON: the page asks for packed frames
// (?encoding=f32) and reads them here, in one place (api.js), so nothing after it knows.
//
// The message: uint32 LE n | n bytes of JSON header (space-padded: 4 + n is a multiple of 4)
// | float32 LE data. A packed array is {"$f32": offset, "shape": [d1, ...]} in the header:
// data[offset ...] in row-major order, put back as nested plain arrays.

const REF = "$f32";
// 10^k, exact as doubles for k <= 22
const POW10 = Array.from({ length: 23 }, (_, k) => Number(`1e${k}`));
// 10^e for e = LOWEST..25: |x| in [10^-19, 10^25) has a 4-digit scale 10^k, |k| ≤ 22
const LOWEST = -19;
const DECADES = Array.from({ length: 45 }, (_, i) => Number(`1e${i + LOWEST}`));

/**
 * The number JSON.parse gives for the float32 `x` as the server writes it: its shortest
 * decimal that reads back as the same float32 (orjson's, Ryu's: on a tie, the even one).
 * A frame's numbers are rounded to 4 significant digits before they are stored as float32:
 * for those the decimal is m·10^(e−3), m an integer of at most 4 digits, and m / 10^(3−e)
 * (or m · 10^(e−3)) is the double nearest that decimal (one correctly rounded operation on
 * exact operands), as JSON.parse makes it. Other floats take the longer way (shortest).
 */
export function jsonNumber(x) {
  if (x === 0 || !Number.isFinite(x)) return x; // keeps −0 (JSON "-0.0")
  // e = ⌊log10 |x|⌋ by a binary search of DECADES (Math.log10 costs more than the rest)
  const abs = Math.abs(x);
  let lo = 0;
  let hi = DECADES.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (DECADES[mid] <= abs) lo = mid + 1;
    else hi = mid;
  }
  const k = 3 - (lo - 1 + LOWEST); // 10^k: the scale that makes x an integer of 4 digits
  let v = NaN;
  if (lo === 0 || lo === DECADES.length) return shortest(x); // below 10^-19, or 10^25 and up
  if (k >= 0) v = Math.round(x * POW10[k]) / POW10[k];
  else v = Math.round(x / POW10[-k]) * POW10[-k];
  // At most one decimal of 4 significant digits reads back as a given normal float32 (they
  // are at least 10^-4 apart relatively, float32s 2^-23), so it is the shortest: fewer
  // digits would be the same decimal with its zeros dropped.
  return Math.fround(v) === x ? v : shortest(x);
}

/** The shortest decimal (fewest significant digits) that reads back as the float32 `x`: of
 * two, the nearer to x; of two as near, the one with an even last digit. */
export function shortest(x) {
  for (let p = 1; p <= 9; p++) {
    const [m, e] = x.toExponential(p - 1).split("e");
    const sign = m[0] === "-" ? "-" : "";
    const d = Number(m.replace(/[-.]/g, "")); // the nearest p-digit decimal: d·10^exp
    const exp = Number(e) - p + 1;
    const at = (n) => Number(`${sign}${n}e${exp}`);
    const other = Math.abs(at(d)) > Math.abs(x) ? d - 1 : d + 1; // the next on x's other side
    const dOk = Math.fround(at(d)) === x;
    const otherOk = other > 0 && Math.fround(at(other)) === x;
    if (dOk && otherOk) {
      const lo = Math.min(d, other);
      if (Number(`${sign}${lo * 10 + 5}e${exp - 1}`) === x) return at(lo % 2 ? lo + 1 : lo);
      return at(d);
    }
    if (dOk) return at(d);
    if (otherOk) return at(other);
  }
  return x;
}

function nested(data, at, shape, dim) {
  const n = shape[dim];
  const out = new Array(n);
  if (dim === shape.length - 1) {
    for (let i = 0; i < n; i++) out[i] = jsonNumber(data[at + i]);
    return out;
  }
  let stride = 1;
  for (let d = dim + 1; d < shape.length; d++) stride *= shape[d];
  for (let i = 0; i < n; i++) out[i] = nested(data, at + i * stride, shape, dim + 1);
  return out;
}

function resolve(node, data) {
  if (node === null || typeof node !== "object") return node;
  if (Array.isArray(node)) {
    for (let i = 0; i < node.length; i++) {
      const v = node[i];
      if (v !== null && typeof v === "object") node[i] = resolve(v, data);
    }
    return node;
  }
  if (REF in node) return node.shape.length ? nested(data, node[REF], node.shape, 0) : jsonNumber(data[node[REF]]);
  for (const key in node) {
    const v = node[key];
    if (v !== null && typeof v === "object") node[key] = resolve(v, data);
  }
  return node;
}

/** The frame (or message) in the ArrayBuffer `buf`, as JSON.parse would give it. */
export function unpack(buf) {
  const n = new DataView(buf).getUint32(0, true);
  const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buf, 4, n)));
  // Float32Array reads the platform's byte order: little-endian on every browser platform
  // there is; a big-endian one gets a DataView copy.
  const count = (buf.byteLength - 4 - n) >> 2;
  let data;
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] === 1) {
    data = new Float32Array(buf, 4 + n, count);
  } else {
    const view = new DataView(buf, 4 + n);
    data = Float32Array.from({ length: count }, (_, i) => view.getFloat32(4 * i, true));
  }
  return resolve(header, data);
}
