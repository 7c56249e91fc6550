// Exact arithmetic for the JS tests, written apart from static/js/digits.js so that a test
// reading a shown equation does not share the code it checks. A fraction is [n, d] (BigInt,
// d > 0, lowest terms). A reader's text ("−0.01234", "1.5e−7", "(", "·") becomes fractions.

const abs = (n) => (n < 0n ? -n : n);
const gcd = (a, b) => {
  a = abs(a);
  b = abs(b);
  while (b) [a, b] = [b, a % b];
  return a;
};

export function frac(n, d = 1n) {
  if (d === 0n) throw new Error("division by zero");
  if (d < 0n) [n, d] = [-n, -d];
  const g = gcd(n, d) || 1n;
  return [n / g, d / g];
}
export const add = (a, b) => frac(a[0] * b[1] + b[0] * a[1], a[1] * b[1]);
export const sub = (a, b) => frac(a[0] * b[1] - b[0] * a[1], a[1] * b[1]);
export const mul = (a, b) => frac(a[0] * b[0], a[1] * b[1]);
export const div = (a, b) => frac(a[0] * b[1], a[1] * b[0]);
export const cmp = (a, b) => {
  const x = a[0] * b[1] - b[0] * a[1];
  return x < 0n ? -1 : x > 0n ? 1 : 0;
};
export const fabs = (a) => [abs(a[0]), a[1]];

/** The exact value of a float64 (every float is a dyadic rational). */
export function ofFloat(x) {
  if (!Number.isFinite(x)) throw new Error(`not finite: ${x}`);
  if (x === 0) return [0n, 1n];
  const buf = new DataView(new ArrayBuffer(8));
  buf.setFloat64(0, x);
  const bits = buf.getBigUint64(0);
  const sign = bits >> 63n ? -1n : 1n;
  const e = Number((bits >> 52n) & 0x7ffn);
  const m = bits & ((1n << 52n) - 1n);
  const mant = e === 0 ? m : m | (1n << 52n);
  const p = (e === 0 ? 1 : e) - 1075; // x = mant · 2^p
  return p >= 0 ? frac(sign * mant * (1n << BigInt(p))) : frac(sign * mant, 1n << BigInt(-p));
}

/** A number as a reader sees it: its exact value and the unit of its last digit. */
export function readShown(text) {
  const s = text.replace(/−/g, "-").trim();
  const m = /^(-?)(\d+)(?:\.(\d+))?(?:e(-?\d+))?$/.exec(s);
  if (!m) throw new Error(`a reader cannot read ${JSON.stringify(text)} as a number`);
  const [, sign, int, fr = "", ex = "0"] = m;
  const digits = BigInt(int + fr) * (sign ? -1n : 1n);
  const e = Number(ex) - fr.length;
  const p = 10n ** BigInt(Math.abs(e));
  return { value: e >= 0 ? frac(digits * p) : frac(digits, p), unit: e >= 0 ? frac(p) : frac(1n, p), digits: (int + fr).replace(/^0+/, "").length };
}

/** Does a shown right side hold for an exact left side (|lhs − rhs| ≤ ½ unit; "0" exactly)? */
export function holds(lhs, rhsText) {
  if (rhsText.trim() === "0") return lhs[0] === 0n;
  const r = readShown(rhsText);
  return cmp(mul(fabs(sub(lhs, r.value)), frac(2n)), r.unit) <= 0;
}

/**
 * Evaluate what a reader sees, e.g. "0.5·(−0.25)+1.0e−3", over exact fractions: numbers,
 * + − · / and parentheses, with the usual precedence (a leading − negates).
 */
export function evaluateText(text) {
  const toks = text.replace(/\s/g, "").match(/\d+(?:\.\d+)?(?:e[−-]?\d+)?|[+−\-·×/()]/g);
  if (!toks || toks.join("") !== text.replace(/\s/g, "")) throw new Error(`unreadable: ${text}`);
  let i = 0;
  const atom = () => {
    const t = toks[i++];
    if (t === "(") {
      const v = expr();
      if (toks[i++] !== ")") throw new Error(`unbalanced: ${text}`);
      return v;
    }
    if (t === "−" || t === "-") return mul(frac(-1n), atom());
    return readShown(t).value;
  };
  const term = () => {
    let v = atom();
    while (toks[i] === "·" || toks[i] === "×" || toks[i] === "/") v = toks[i++] === "/" ? div(v, atom()) : mul(v, atom());
    return v;
  };
  const expr = () => {
    let v = term();
    while (toks[i] === "+" || toks[i] === "−" || toks[i] === "-") v = toks[i++] === "+" ? add(v, term()) : sub(v, term());
    return v;
  };
  const v = expr();
  if (i !== toks.length) throw new Error(`trailing tokens in ${text}`);
  return v;
}

/** A seeded generator (mulberry32), so every run checks the same cases. */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The text a reader sees in a markup fragment (tags dropped, entities decoded). */
export function textOf(markup) {
  return markup
    .replace(/<[^>]*>/g, "")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, "&");
}
