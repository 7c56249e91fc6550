// One banner under the top bar for what the learner must know now: server full, connection
// lost, training diverged, a refused setting. Messages are keyed; text is always escaped.

import { $, html, setHTML } from "./util.js";

const messages = new Map();
const ORDER = { error: 0, diverged: 1, warn: 2, info: 3 };

/** What the banner's elements depend on: all but the messages' text (a step count changes
 * 10 times a second while playing; rebuilding the buttons then would swallow their clicks). */
function shapeOf(items) {
  return JSON.stringify(items.map(([key, m]) => [key, m.level, (m.actions ?? []).map((a) => a.label), !!m.dismiss]));
}

let shape = null;

function render() {
  const el = $("#banner");
  if (!el) return;
  const items = [...messages.entries()].sort((a, b) => (ORDER[a[1].level] ?? 9) - (ORDER[b[1].level] ?? 9));
  el.hidden = items.length === 0;
  const s = shapeOf(items);
  if (s === shape) {
    // Same messages and buttons: only a text changed; update it in place (textContent escapes).
    for (const [key, m] of items) {
      const span = el.querySelector(`[data-banner="${CSS.escape(key)}"] > span`);
      if (span && span.textContent !== m.text) span.textContent = m.text;
    }
    return;
  }
  shape = s;
  setHTML(
    el,
    html`${items.map(
      ([key, m]) => html`<div class="msg ${m.level}" data-banner="${key}"><span>${m.text}</span>${(m.actions ?? []).map(
        (a, i) => html`<button data-banner-action="${key}:${i}">${a.label}</button>`,
      )}${m.dismiss ? html`<button class="x" data-banner-dismiss="${key}" aria-label="dismiss">×</button>` : ""}</div>`,
    )}`,
  );
}

document.addEventListener("click", (ev) => {
  const act = ev.target.closest?.("[data-banner-action]");
  if (act) {
    const [key, i] = act.dataset.bannerAction.split(":");
    messages.get(key)?.actions?.[Number(i)]?.run();
  }
  const x = ev.target.closest?.("[data-banner-dismiss]");
  if (x) {
    messages.get(x.dataset.bannerDismiss)?.onDismiss?.();
    banner.clear(x.dataset.bannerDismiss);
  }
});

export const banner = {
  /** m: {level: error|diverged|warn|info, text, actions: [{label, run}], dismiss, onDismiss} */
  show(key, m) {
    messages.set(key, m);
    render();
  },
  clear(key) {
    if (messages.delete(key)) render();
  },
  has: (key) => messages.has(key),
};
