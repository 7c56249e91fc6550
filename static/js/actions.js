// What the learner can do to the experiment, as the controls call it: each action changes
// the store (store.update) and tells the server (the run's stream, or PATCH for a CSV).
// The views redraw themselves from the store's events; nothing here draws.

import { api } from "./api.js";
import { banner } from "./banner.js";
import { plainWords } from "./controls.js";
import { saveFile } from "./downloads.js";
import { lockOf } from "./locks.js";
import { lockRefusal, refusalText } from "./save_open.js";
import { KEEP_WEIGHTS, configOf, settingsFromRun } from "./state.js";

/** The actions of app (an App: its store, session and setMode). */
export function makeActions(app) {
  const store = app.store;
  const send = (msg) => app.session?.send(msg);
  /** Pause a playing run; resolves once a frame says it is paused (or after 3 s). */
  const paused = () =>
    new Promise((resolve) => {
      if (store.frame?.status !== "running") return resolve();
      let timer = 0;
      const off = store.on("frame", () => store.frame.status !== "running" && done());
      const done = () => {
        off();
        clearTimeout(timer);
        resolve();
      };
      timer = setTimeout(done, 3000);
      send({ type: "pause" });
    });
  const actions = {
    /** Change run settings; all but KEEP_WEIGHTS rebuild the network (and end a guide). */
    set(patch) {
      const rebuilds = Object.keys(patch).some((k) => !KEEP_WEIGHTS.includes(k));
      const { csv, ...settings } = patch; // the server keeps the run's CSV text across partial changes
      const next = { settings };
      if (patch.dataset && patch.dataset !== "csv") Object.assign(next, { csvText: null, csvName: "" }); // no longer the data
      if (rebuilds) next.selection = null;
      store.update(next);
      if (rebuilds && store.mode !== "normal") app.setMode("normal");
      send({ type: "set", ...settings });
    },
    /** Change how the page shows things (colours, test points, …): no message to the server. */
    view(patch) {
      store.update({ settings: patch });
    },
    togglePlay() {
      if (store.mode === "stepthrough") app.setMode("normal");
      send({ type: store.frame?.status === "running" ? "pause" : "play" });
    },
    step: () => send({ type: "step", steps: 1 }),
    reset: () => send({ type: "reset" }),
    speed(n) {
      store.update({ settings: { speed: n } });
      send({ type: "speed", steps_per_frame: n });
    },
    layers(delta) {
      const hidden = [...store.settings.hidden];
      if (delta > 0 && hidden.length < Math.min(6, store.options.limits.max_layers)) hidden.push(hidden.length ? hidden[hidden.length - 1] : 2);
      if (delta < 0 && hidden.length) hidden.pop();
      actions.set({ hidden });
    },
    probe(index) {
      store.update({ settings: { probe: index } });
      send({ type: "probe", index });
    },
    /**
     * Back (or forward) to a kept step: pause, POST /rewind, and show its frame by the
     * stream's own path (every view follows); the selection's terms are asked for again.
     * Resolves with the frame shown, or null (refused: said in a banner).
     */
    async rewind(step) {
      const run = store.run;
      if (!run) return null;
      await paused();
      let frame = null;
      for (let busy = 0; ; busy++) {
        try {
          frame = await api.rewind(run.id, step);
          break;
        } catch (err) {
          if (err.status === 409 && busy < 10) {
            await new Promise((r) => setTimeout(r, 100)); // the run is finishing a step
            continue;
          }
          banner.show("rewind", { level: "error", dismiss: true, text: `Could not go back to step ${step}: ${plainWords(err.text ?? err.message)}` });
          return null;
        }
      }
      if (store.run?.id !== run.id) return null; // another run was opened meanwhile
      banner.clear("rewind");
      app.frames.push(frame);
      app.sentSelection = null; // the stream answers a select with a frame holding `explain`
      app.syncSelection();
      app.timelineFeed.stale();
      return frame;
    },
    /** Download the run's document as the server writes it (run-<step>.json). */
    async save() {
      try {
        const { text, filename } = await api.exportRun(store.run.id);
        saveFile(new Blob([text], { type: "application/json" }), filename ?? `run-${store.frame?.step ?? 0}.json`);
      } catch (err) {
        banner.show("save", { level: "error", dismiss: true, text: `Could not save the run: ${plainWords(err.text ?? err.message)}` });
      }
    },
    /**
     * Open a saved run (a file's text): the server makes a run of it, and the page switches to
     * it as to any new run (settings, link, stream); the previous run is closed. A refused
     * document changes nothing and the banner says which field and why. While the link locks
     * anything, a document whose locked or hidden settings are not the page's is refused here
     * (lockRefusal), before the server is asked. Resolves true if opened.
     */
    async open(text, filename) {
      let run;
      try {
        const doc = JSON.parse(text);
        if (!doc || typeof doc !== "object" || Array.isArray(doc)) throw Object.assign(new Error("no object"), { notObject: true });
        const { lock, hide } = store.settings;
        const locked = lockRefusal(filename, doc, { config: store.run?.config ?? configOf(store.settings), csvText: store.csvText ?? null, lock, hide });
        if (locked) {
          banner.show("open", { level: "error", dismiss: true, text: locked });
          return false;
        }
        run = await api.importRun(doc);
        const csv = doc.settings?.dataset === "csv" ? doc.settings.csv ?? null : null;
        banner.clear("open");
        if (store.mode !== "normal") app.setMode("normal");
        store.update({ selection: null, timeline: null, csvText: csv, csvName: csv ? filename : "" });
      } catch (err) {
        banner.show("open", { level: "error", dismiss: true, text: refusalText(filename, err) });
        return false;
      }
      const old = store.run;
      await app.switchRun(run);
      if (old && old.id !== run.id) app.closeRun(old.id); // nothing shows it any more
      banner.show("open", { level: "info", dismiss: true, text: `Opened ${filename}: the run goes on from step ${run.step.toLocaleString("en-US")} exactly as it would have.` });
      return true;
    },
    /** CSV text can exceed a stream message (max_ws_message_bytes): it goes by PATCH. */
    async csv(text, filename) {
      try {
        // A CSV's labels decide its kind of problem, so its output and cost start on auto.
        // The digits' 30 hidden neurons are wider than other data may have: back to the default.
        // A setting the page's link locks keeps its value (a CSV its value cannot work with is
        // refused, by the server naming the field, or here for the hidden layers).
        const lock = store.settings.lock ?? [];
        const cap = store.options.limits.max_width;
        const wide = store.settings.hidden.some((n) => n > cap);
        const hiddenBy = lockOf("hidden", lock);
        if (wide && hiddenBy) {
          banner.show("locked", { level: "error", dismiss: true, text: `${filename} was not opened: own data allows at most ${cap} neurons per hidden layer, but this page's link keeps the hidden layers at [${store.settings.hidden.join(", ")}] (lock=${hiddenBy}). Nothing was changed.` });
          return;
        }
        const reset = { output_activation: null, cost: null, ...(wide ? { hidden: store.options.default_config.hidden } : {}) };
        const patch = { dataset: "csv", csv: text };
        for (const [k, v] of Object.entries(reset)) if (!lockOf(k, lock)) patch[k] = v;
        const run = await api.patchRun(store.run.id, patch);
        banner.clear("server");
        store.update({ csvText: text, csvName: filename, selection: null });
        if (store.mode !== "normal") app.setMode("normal");
        store.update({ run, settings: settingsFromRun(run, store.settings) });
        await app.session.reloadData();
        send({ type: "reset" }); // the stream sends the rebuilt run's first frame
      } catch (err) {
        banner.show("server", { level: "error", dismiss: true, text: `The server refused ${filename}: ${plainWords(err.text ?? err.message)}` });
      }
    },
  };
  return actions;
}
