// Save and Open an experiment: Save downloads the run's document (GET /api/runs/{id}/export,
// docs/api.md), Open reads a chosen .json file and asks the server to make a run of it
// (POST /api/runs {"import": doc}); the App then switches the page to that run. A document
// the server refuses changes nothing: the page says which field and why.

import { $ } from "./util.js";

/** Where in the document a refusal points, in words: ["body", "import", "parameters",
 * "weights", 1] → "parameters › weights › 1" (the document's own field names). */
export function fieldPath(loc) {
  const at = Array.isArray(loc) ? loc.slice(loc[0] === "body" ? 1 : 0) : [];
  if (at[0] === "import") at.shift();
  return at.length ? at.join(" › ") : "the document";
}

/**
 * Why a file was not opened, in one paragraph: the server's refusal (err: an ApiError, its
 * detail a list of {loc, msg} or a string) or a file that is not JSON (err: a SyntaxError).
 */
export function refusalText(filename, err) {
  const kept = "Nothing was changed: the current run goes on.";
  if (err instanceof SyntaxError) return `${filename} is not a saved run: it is not JSON (${err.message}). ${kept}`;
  if (err?.notObject) return `${filename} is not a saved run: it holds no JSON object. ${kept}`;
  const d = err?.detail;
  if (Array.isArray(d) && d.length) {
    const why = d.map((x) => `${fieldPath(x.loc)}: ${x.msg}`).join("; ");
    return `The server refused ${filename}: ${why}. ${kept}`;
  }
  if (err?.status === 413) return `${filename} is larger than this server accepts. ${kept}`;
  return `The server refused ${filename}: ${err?.text ?? err?.message ?? err}. ${kept}`;
}

/**
 * The run settings each control group of hide= / lock= keeps fixed (the data-control names of
 * templates/index.html, after controls.js's aliases). Groups that change no run setting
 * (speed, play, step, colours, save, open, …) are not listed: a document cannot change them.
 */
export const GROUP_SETTINGS = {
  dataset: ["dataset"], problem: ["dataset"], csv: ["csv"], noise: ["noise"],
  train_share: ["train_share"], batch_size: ["batch_size"], regenerate: ["seed"],
  features: ["features"], layers: ["hidden"], learning_rate: ["learning_rate"],
  hidden_activation: ["hidden_activation"], output_activation: ["output_activation"],
  cost: ["cost"], init: ["init"], regulariser: ["regulariser"], lambda: ["lambda"],
  momentum: ["momentum"], feedback: ["feedback"],
};
const SETTING_LABEL = {
  dataset: "data set", csv: "own data (CSV)", noise: "noise", train_share: "training share",
  batch_size: "batch size", seed: "seed", features: "features", hidden: "hidden layers",
  learning_rate: "learning rate η", hidden_activation: "activation",
  output_activation: "output activation", cost: "cost", init: "initialisation",
  regulariser: "regularisation", lambda: "λ", momentum: "momentum μ", feedback: "BP2 feedback",
};

function shown(key, v) {
  if (key === "csv") return v ? "its own CSV data" : "no CSV data";
  if (v === undefined) return "none given";
  if (v === null) return "auto";
  if (Array.isArray(v)) return key === "hidden" ? `[${v.join(", ")}]` : v.join(", ");
  return String(v);
}

/**
 * Why a document may not be opened on a page whose link locks controls, or null if it may.
 * doc: the parsed document; config: the run's settings on the page; csvText: the page's CSV
 * text (null unless its data set is csv); lock / hide: the link's canonical group names.
 * With nothing locked any document opens. Otherwise the run settings of every locked or
 * hidden group (a teacher hides a control to keep it fixed too; "all" is every setting)
 * must be the page's.
 */
export function lockRefusal(filename, doc, { config, csvText = null, lock = [], hide = [] }) {
  if (!lock.length) return null;
  const groups = [...lock, ...hide];
  const all = groups.includes("all");
  const keys = new Set(all ? Object.values(GROUP_SETTINGS).flat() : groups.flatMap((g) => GROUP_SETTINGS[g] ?? []));
  const theirs = doc?.settings ?? {};
  const ours = { ...config, csv: config.dataset === "csv" ? csvText : null };
  const csvOf = (s) => (s.dataset === "csv" ? (s.csv ?? null) : null);
  const differ = [];
  for (const key of keys) {
    const a = key === "csv" ? csvOf(theirs) : theirs[key];
    const b = ours[key];
    const same = key === "features" && Array.isArray(a) && Array.isArray(b) ? JSON.stringify([...a].sort()) === JSON.stringify([...b].sort()) : JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
    if (!same) differ.push(`${SETTING_LABEL[key] ?? key} ${shown(key, a)} (here ${shown(key, b)})`);
  }
  if (!differ.length) return null;
  const fixed = [`lock=${lock.join(",")}`, ...(hide.length ? [`hide=${hide.join(",")}`] : [])].join(" and ");
  return `${filename} was not opened: this page's link keeps these settings fixed (${fixed}), and ${filename} has ${differ.join(", ")}. Nothing was changed: the current run goes on.`;
}

/** The Save button and the Open file chooser. onSave(); onOpen(text, filename). */
export class SaveOpen {
  constructor({ save, open }, { onSave, onOpen }) {
    this.save = save;
    save.addEventListener("click", () => onSave());
    const input = $("input[type=file]", open);
    input.addEventListener("change", async () => {
      const file = input.files?.[0];
      input.value = ""; // the same file can be chosen again
      if (file) onOpen(await file.text(), file.name);
    });
  }
}
