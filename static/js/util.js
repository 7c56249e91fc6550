// Small helpers shared by every module: escaping, number formatting, index glyphs.
// Every string that did not come from this file (URL hash, CSV names, server messages)
// goes through esc() before it reaches innerHTML or any Plotly text.

const ESC = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** HTML-escape any value (numbers and null included). */
export function esc(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ESC[c]);
}

/** A tagged template whose ${} substitutions are escaped; nest html`` results with raw(). */
export function raw(s) {
  return { __raw: String(s) };
}
export function html(strings, ...values) {
  let out = strings[0];
  values.forEach((v, i) => {
    if (Array.isArray(v)) out += v.map((x) => (x && x.__raw !== undefined ? x.__raw : esc(x))).join("");
    else out += v && v.__raw !== undefined ? v.__raw : esc(v);
    out += strings[i + 1];
  });
  return raw(out);
}

/** Format a number to 4 significant digits with a real minus sign: −0.01234, 1.234e−5. */
export function fmt(v, digits = 4) {
  if (v === null || v === undefined || Number.isNaN(v)) return "—";
  if (v === 0) return "0";
  const a = Math.abs(v);
  let s;
  if (a >= 1e5 || a < 1e-4) {
    s = v.toExponential(digits - 1).replace(/\.?0+e/, "e").replace("e+", "e");
  } else {
    s = String(Number(v.toPrecision(digits)));
  }
  return s.replace(/-/g, "−");
}

/** Parse what fmt() wrote (used by tests and by the walkthrough's own checks). */
export function unfmt(s) {
  return Number(String(s).replace(/−/g, "-").replace(/\s/g, ""));
}

const SUP = "⁰¹²³⁴⁵⁶⁷⁸⁹";
const SUB = "₀₁₂₃₄₅₆₇₈₉";
export const sup = (n) => String(n).replace(/\d/g, (d) => SUP[d]);
export const sub = (n) => String(n).replace(/\d/g, (d) => SUB[d]);

/** Plain-text names in the notation, 1-based neuron indices, layer l = 1..L. */
export const name = {
  w: (l, j, k) => `w${sup(l)}${sub(j + 1)}${sub(k + 1)}`,
  b: (l, j) => `b${sup(l)}${sub(j + 1)}`,
  delta: (l, j) => `δ${sup(l)}${sub(j + 1)}`,
  a: (l, j) => `a${sup(l)}${sub(j + 1)}`,
  z: (l, j) => `z${sup(l)}${sub(j + 1)}`,
};

/** The smallest "nice" number (1, 2, 5 × 10^k) at least v; the colour-bar range. */
export function niceMax(v) {
  if (!(v > 0) || !Number.isFinite(v)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 5, 10]) if (m * p >= v * (1 - 1e-9)) return m * p;
  return 10 * p;
}

export function maxAbs(matrixOrVector, start = 0) {
  let m = start;
  for (const row of matrixOrVector) {
    if (Array.isArray(row)) for (const x of row) m = Math.max(m, Math.abs(x));
    else m = Math.max(m, Math.abs(row));
  }
  return m;
}

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

/** Set innerHTML from an html`` result only: plain strings are refused, so nothing unescaped slips in. */
export function setHTML(el, content) {
  if (!content || content.__raw === undefined) throw new TypeError("setHTML needs html`` content");
  el.innerHTML = content.__raw;
}

/**
 * Delete a run the page has left, once none of ``feeds`` (HistoryFeed, TimelineFeed) still
 * asks the server about it: each feed stops wanting it at once, and ``del(id)`` is called
 * when no request of theirs is in flight (one sent before the switch and answered after the
 * DELETE would be a 404, logged by the browser). Polls every ``every`` ms.
 */
export async function retireRun(id, feeds, del, every = 20) {
  for (const f of feeds) if (f.want?.runId === id) f.want = null;
  while (feeds.some((f) => f.inFlight)) await new Promise((r) => setTimeout(r, every));
  return del(id);
}

/** One step of a feed that asks the server at most once per ``feed.every`` ms: fetch now, or
 * set a timer for when it may, unless a request or timer is pending, there is no run to ask
 * about, or ``finished()`` says nothing more is wanted. The feed has ``inFlight``, ``timer``,
 * ``want.runId``, ``last``, ``every``, ``clock()``, ``later(fn, ms)``, ``kick()``, ``fetch()``. */
export function kickThrottled(feed, finished = () => false) {
  if (feed.inFlight || feed.timer !== null || !feed.want?.runId || finished()) return;
  const wait = feed.last + feed.every - feed.clock();
  if (wait > 0) {
    feed.timer = feed.later(() => {
      feed.timer = null;
      feed.kick();
    }, wait);
    return;
  }
  feed.fetch();
}
