// The banners for training that has stopped working: divergence, and most units saturated or
// dead (frame.health, docs/frames.md). The advice is the server's, tried on this very run:
// rebuilt from step 0 with the same seed at smaller learning rates, and only a rate that
// neither diverged nor left the units saturated/dead (and lowered the cost) is offered.

import { banner } from "./banner.js";
import { fmt } from "./util.js";

let dismissedAt = null; // the run/config the learner dismissed the saturation banner for

const OUTCOME = {
  ok: "worked",
  diverged: "diverged",
  saturated: "left most units saturated",
  dead: "left most units dead",
  "no progress": "did not lower the cost",
};

function tried(advice) {
  return advice.tried.map((t) => `η = ${fmt(t.learning_rate)} ${OUTCOME[t.outcome] ?? t.outcome}`).join("; ");
}

/** What the server's trial found, in words, and the actions it supports. */
function adviceParts(advice, { setEta }, pending = false) {
  if (!advice) {
    // The server tries smaller learning rates on this run in the background; a later frame has it.
    const text = pending ? " Trying smaller learning rates on this run from step 0…" : "";
    return { text, actions: [] };
  }
  const ok = advice.tried.find((t) => t.outcome === "ok");
  if (ok) {
    const cost = ok.cost_before !== null && ok.cost_after !== null ? ` (training cost ${fmt(ok.cost_before)} → ${fmt(ok.cost_after)})` : "";
    return {
      text: ` Tried on this run from step 0 (same data and initial weights): η = ${fmt(ok.learning_rate)} trained ${ok.steps} steps without diverging and with most units working${cost}.${advice.tried.length > 1 ? ` Before it: ${tried({ tried: advice.tried.slice(0, -1) })}.` : ""}`,
      actions: [{ label: `Use η = ${fmt(ok.learning_rate)} and reset`, run: () => setEta(ok.learning_rate) }],
    };
  }
  return {
    text: ` Smaller learning rates were tried on this run from step 0 and none fixed it (${tried(advice)}): try another activation (e.g. leaky ReLU), initialisation or network size.`,
    actions: [],
  };
}

function units(frame, what) {
  const hidden = frame.health.layers.filter((h) => h.l < frame.sizes.length);
  const n = hidden.reduce((s, h) => s + (h.n ?? 0), 0);
  const k = hidden.reduce((s, h) => s + h[what], 0);
  return { k, n };
}

/** Show or clear the divergence and saturation banners for this frame. */
export function showHealth(frame, { setEta, reset }) {
  const health = frame.health;
  const advice = health?.advice ?? null;
  if (frame.status === "diverged") {
    const a = adviceParts(advice, { setEta }, Boolean(health?.advice_pending));
    banner.show("diverged", {
      level: "diverged",
      text: `Training diverged at step ${frame.step}: the weights grew without bound, so the numbers stopped being finite. The learning rate η = ${fmt(frame.hyper.learning_rate)} is too large for this network and data.${a.text}`,
      actions: [...a.actions, { label: "Reset", run: reset }],
    });
  } else {
    banner.clear("diverged");
  }
  const key = `${frame.run_id}|${frame.hyper.learning_rate}`;
  if (!health || !health.alarm || frame.status === "diverged") {
    banner.clear("health");
    if (!health?.alarm) dismissedAt = null;
    return;
  }
  if (dismissedAt === key) return;
  const sat = health.saturated_share;
  const dead = health.dead_share;
  let what;
  if (health.reason === "dead") {
    const { k, n } = units(frame, "dead");
    what = `${k} of ${n} hidden ReLU units are dead: their weighted input z is ≤ 0 for every training example, so σ′ = 0 and BP4 gives their weights a zero gradient: they will never learn again.`;
  } else if (sat + dead > 0.5) {
    const { k, n } = units(frame, "saturated");
    what = `${k} of ${n} hidden units are saturated: σ′(z) is below 1 % of its largest value for most training examples, so BP2 passes almost no error back through them and their weights barely move.`;
  } else {
    what = `The output is saturated at wrong answers: σ′(z) of the output layer is below 1 % of its largest value for most training examples, so δ = (a − y)·σ′(z) is almost 0 even where a is far from y, and nothing learns.`;
  }
  const a = adviceParts(advice, { setEta }, Boolean(health?.advice_pending));
  banner.show("health", {
    level: "warn",
    text: `Training has stalled at step ${frame.step} with η = ${fmt(frame.hyper.learning_rate)}. ${what}${a.text}`,
    actions: a.actions,
    dismiss: true,
    onDismiss: () => {
      dismissedAt = key;
    },
  });
}
