// What the learner can do to the experiment, as the controls call it: each action changes
// the store (store.update) and tells the server (the run's stream, or PATCH for a CSV).
// The views redraw themselves from the store's events; nothing here draws.

import { api } from "./api.js";
import { banner } from "./banner.js";
import { plainWords } from "./controls.js";
import { KEEP_WEIGHTS, settingsFromRun } from "./state.js";

/** The actions of app (an App: its store, session and setMode). */
export function makeActions(app) {
  const store = app.store;
  const send = (msg) => app.session?.send(msg);
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
    /** CSV text can exceed a stream message (max_ws_message_bytes): it goes by PATCH. */
    async csv(text, filename) {
      try {
        // A CSV's labels decide its kind of problem, so its output and cost start on auto.
        const run = await api.patchRun(store.run.id, { dataset: "csv", csv: text, output_activation: null, cost: null });
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
