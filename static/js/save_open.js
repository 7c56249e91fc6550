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
