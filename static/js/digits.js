// Digits that make every written "=" true. The server sends the explained terms in float64;
// a Sheet holds those numbers and the equations between them, and gives each number as many
// significant digits as its equations need: an equation holds when its left side, computed
// exactly (rationals, BigInt) from the numbers *as shown*, rounds to its right side as shown
// (|lhs − rhs| ≤ ½ unit in the last shown digit of rhs). A shown "0" is exactly zero. Where
// 17 digits (all a float64 has) are not enough, the equation is written with "≈".

const MAX_DIGITS = 17;

// -- exact rationals ------------------------------------------------------------------------
const abs = (n) => (n < 0n ? -n : n);
function gcd(a, b) {
  a = abs(a);
  b = abs(b);
  while (b) [a, b] = [b, a % b];
  return a || 1n;
}
function rat(n, d = 1n) {
  if (d < 0n) [n, d] = [-n, -d];
  const g = gcd(n, d);
  return { n: n / g, d: d / g };
}
const add = (a, b) => rat(a.n * b.d + b.n * a.d, a.d * b.d);
const sub = (a, b) => rat(a.n * b.d - b.n * a.d, a.d * b.d);
const mul = (a, b) => rat(a.n * b.n, a.d * b.d);
const div = (a, b) => rat(a.n * b.d, a.d * b.n);
const pow10 = (e) => 10n ** BigInt(e);

/** The decimal a shown string means, and the unit of its last digit ({zero: true} for "0"). */
export function parseShown(text) {
  const s = String(text).replace(/−/g, "-").replace(/\s/g, "");
  const m = /^([-+]?)(\d*)(?:\.(\d*))?(?:e([-+]?\d+))?$/i.exec(s);
  if (!m) throw new Error(`not a number: ${text}`);
  const [, sign, int, frac = "", exp = "0"] = m;
  const digits = BigInt(`${int}${frac}` || "0") * (sign === "-" ? -1n : 1n);
  const e = Number(exp) - frac.length; // value = digits · 10^e, unit = 10^e
  const value = e >= 0 ? rat(digits * pow10(e)) : rat(digits, pow10(-e));
  const unit = e >= 0 ? rat(pow10(e)) : rat(1n, pow10(-e));
  return { value, unit, zero: digits === 0n && !frac && !exp && int === "0" };
}

/** v (a float) to d significant digits as the page writes it: 0.01234, 1.234e−7, −5.000. */
export function show(v, d) {
  if (v === 0) return "0";
  if (!Number.isFinite(v)) return "—";
  let s = v.toPrecision(Math.min(MAX_DIGITS, Math.max(1, d)));
  const m = /^(-?)(\d(?:\.\d*)?)e([-+]\d+)$/.exec(s);
  const e = m ? Number(m[3]) : Math.floor(Math.log10(Math.abs(v)));
  if (m || Math.abs(e) >= 5) {
    // toPrecision switches to exponents at 10^−7; the page does at 10^−5 and 10^5.
    const [mant, ex] = v.toExponential(Math.min(MAX_DIGITS, d) - 1).split("e");
    s = `${mant}e${Number(ex)}`;
  }
  return s.replace(/-/g, "−");
}

const holdsExactly = (lhs, shown) => {
  const r = parseShown(shown);
  if (r.zero) return lhs.n === 0n;
  const diff = sub(lhs, r.value);
  // |diff| ≤ unit / 2  ⇔  2·|diff.n|·unit.d ≤ unit.n·diff.d
  return 2n * abs(diff.n) * r.unit.d <= r.unit.n * diff.d;
};

/** Evaluate tokens (number ids and "+", "−", "·", "/", "(", ")") over exact rationals. */
function evaluate(tokens, value) {
  let i = 0;
  const peek = () => tokens[i];
  function atom() {
    const t = tokens[i++];
    if (t === "(") {
      const v = expr();
      i += 1; // ")"
      return v;
    }
    if (t === "−") return mul(rat(-1n), atom());
    return value(t);
  }
  function term() {
    let v = atom();
    while (peek() === "·" || peek() === "/") {
      const op = tokens[i++];
      const w = atom();
      v = op === "·" ? mul(v, w) : div(v, w);
    }
    return v;
  }
  function expr() {
    let v = term();
    while (peek() === "+" || peek() === "−") {
      const op = tokens[i++];
      const w = term();
      v = op === "+" ? add(v, w) : sub(v, w);
    }
    return v;
  }
  return expr();
}

const OPS = new Set(["+", "−", "·", "/", "(", ")"]);

export class Sheet {
  constructor() {
    this.nums = new Map(); // id → {v, d, fixed}
    this.eqs = [];
  }

  /** A number; `exact`: shown in full whatever the equations say (e.g. η, μ, n). */
  num(id, v, { d = 4, exact = false } = {}) {
    const d0 = exact ? MAX_DIGITS : d;
    this.nums.set(id, { v, d: d0, exact });
    return id;
  }

  /** An equation: lhs tokens (number ids, operators) = rhs id. Returns its index. */
  eq(lhs, rhs) {
    this.eqs.push({ lhs, rhs, approx: false });
    return this.eqs.length - 1;
  }

  text(id) {
    const n = this.nums.get(id);
    if (n.exact) return String(n.v).replace("e+", "e").replace(/-/g, "−"); // shortest round trip
    return show(n.v, n.d);
  }

  value(id) {
    return parseShown(this.text(id)).value;
  }

  holds(e) {
    return holdsExactly(
      evaluate(e.lhs, (id) => this.value(id)),
      this.text(e.rhs),
    );
  }

  /** Raise digits until every equation holds (or mark it ≈). */
  fit() {
    for (let round = 0; round < 4 * MAX_DIGITS; round += 1) {
      let changed = false;
      for (const e of this.eqs) {
        if (e.approx || this.holds(e)) continue;
        const free = e.lhs.filter((t) => !OPS.has(t) && !this.nums.get(t).exact && this.nums.get(t).d < MAX_DIGITS);
        if (free.length === 0) {
          e.approx = true;
          continue;
        }
        for (const id of free) this.nums.get(id).d += 1;
        changed = true;
      }
      if (!changed) break;
    }
    for (const e of this.eqs) if (!e.approx && !this.holds(e)) e.approx = true;
    return this;
  }
}
