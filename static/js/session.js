// The run's life cycle: find or create the run (its id survives a reload in sessionStorage),
// wait politely when the server is full (429 + Retry-After), stream its frames, reconnect
// after a dropped connection (backoff with jitter, reconnect.js; a run that was playing plays
// on). A run the server evicted while idle is never replaced silently: the page says so and
// offers to recreate it with the same settings. A run gone after a restart (the server kept
// it in memory) is replaced by a new one with the same settings, and the page says so.

import { ApiError, api, openStream } from "./api.js";
import { banner } from "./banner.js";
import { evictedText, expiredText, reconnectDelay, reconnectStatus, replacedText } from "./reconnect.js";
import { configOf, diffKeys, settingsFromRun } from "./state.js";

const RUN_KEY = "bpv.run";
const SENT_KEPT = 64; // messages kept to match errors with (50/s are accepted at most)

export class Session {
  /** hooks: {frame(f), rebuilt(run), data(d), serverError(detail, sent), connected()};
   * sent: the message a server error refused (matched by its id), if known. */
  constructor(store, hooks) {
    this.store = store;
    this.hooks = hooks;
    this.stream = null;
    this.closing = false;
    this.generation = 0; // bumped by every connect(): a reconnect loop from before it stops
    this.resume = false; // the run was playing when its stream dropped: play on reconnect
    this.nextId = 1; // every message sent carries an id; the server's errors echo it
    this.sentById = new Map(); // id -> message, the last SENT_KEPT sent
  }

  /** The config the page asks for (CSV text is kept out of the URL, in memory only). */
  wanted() {
    const c = configOf(this.store.settings);
    if (c.dataset === "csv") c.csv = this.store.csvText ?? null;
    return c;
  }

  async start({ hashGiven }) {
    let run = null;
    let expired = false;
    const id = sessionStorage.getItem(RUN_KEY);
    if (id) {
      try {
        run = await api.getRun(id);
      } catch (err) {
        if (!(err instanceof ApiError) || (err.status !== 404 && err.status !== 422)) throw err;
        expired = true;
      }
    }
    // CSV text never travels in the link: only a reload of the tab that uploaded it keeps it.
    if (this.store.settings.dataset === "csv" && !this.store.csvText && run?.config.dataset !== "csv") {
      this.store.update({ settings: { dataset: this.store.options.default_config.dataset } });
      banner.show("csv", { level: "info", dismiss: true, text: "This link used uploaded CSV data, which links do not carry: showing the default data set instead." });
    }
    if (run) {
      const want = this.wanted();
      const diff = diffKeys(want, run.config).filter((k) => k !== "csv");
      if (hashGiven && diff.length) {
        try {
          run = await api.patchRun(run.id, Object.fromEntries(diff.map((k) => [k, want[k]])));
        } catch (err) {
          if (!(err instanceof ApiError) || err.status !== 422) throw err;
          this.hooks.serverError(err.text);
        }
      }
    } else {
      run = await this.create();
      if (expired) {
        banner.show("expired", {
          level: "info",
          dismiss: true,
          text: expiredText(this.idleFor()),
        });
      }
    }
    // The data and the stream are asked for together (adopt sets store.run at once); main.js
    // applies no frame before its data has arrived (this.loaded).
    const adopted = this.adopt(run);
    this.connect();
    await adopted;
  }

  /** " for 10 minutes": how long a run nobody is connected to lives on ("" if unknown). */
  idleFor() {
    const s = this.store.options?.limits?.idle_timeout_s;
    return !s ? "" : s >= 120 ? ` for ${Math.round(s / 60)} minutes` : ` for ${Math.round(s)} s`;
  }

  /**
   * The server no longer has this run (evicted while nobody was connected, deleted, or lost in
   * a restart: the page cannot tell which). Keep what is on screen, say what is known and lost, and offer to recreate the
   * experiment with the same settings (a new run starts at step 0: training is not kept).
   */
  evicted() {
    this.hooks.closed?.();
    const step = this.store.frame?.step;
    const recreate = async () => {
      banner.show("expired", { level: "info", text: "Recreating the experiment with the same settings…" });
      try {
        await this.adopt(await this.create());
      } catch (err) {
        banner.show("expired", { level: "error", text: `Could not recreate it: ${err.text ?? err.message}`, actions: [{ label: "Try again", run: recreate }] });
        return;
      }
      banner.clear("expired");
      this.connect();
    };
    banner.show("expired", {
      level: "warn",
      text: evictedText(step, this.idleFor()),
      actions: [{ label: "Recreate it with the same settings", run: recreate }],
    });
  }

  async create() {
    const want = this.wanted();
    for (let refused = 0; ; ) {
      try {
        const run = await api.createRun(want);
        banner.clear("full");
        return run;
      } catch (err) {
        if (err instanceof ApiError && err.status === 429) {
          await this.waitFull(err);
          continue;
        }
        if (err instanceof ApiError && err.status === 422 && refused < 5) {
          // The link asked for something the server refuses: say so, drop those fields
          // (the server's defaults take their place) and keep the rest.
          refused += 1;
          this.hooks.serverError(err.text);
          const fields = Array.isArray(err.detail) ? err.detail.map((d) => d.loc?.[1]).filter((f) => f in want) : [];
          if (fields.length === 0) return api.createRun({});
          for (const f of fields) delete want[f];
          continue;
        }
        throw err;
      }
    }
  }

  /**
   * A 429: say which limit the server named (in its own words) and a next step that helps.
   * Retry-After is when the stalest idle run that would make room is evicted: a countdown to
   * it is shown for the server-wide limits, and for this client's limits only when one of its
   * runs is idle already (else Retry-After is just the idle timeout: waiting alone brings
   * nothing while its other tabs stay open).
   */
  waitFull(err) {
    const said = `The server said: “${err.text}”.`;
    const idle = this.store.options?.limits?.idle_timeout_s ?? Infinity;
    const retry = Math.max(1, Math.round(err.retryAfter ?? 10));
    let why;
    let countdown = true;
    if (err.reason === "client_runs" || err.reason === "client_memory") {
      const what = err.reason === "client_runs" ? "too many live runs" : "runs that need too much memory";
      const raise = err.reason === "client_runs" ? "BPV_MAX_RUNS_PER_CLIENT" : "BPV_CLIENT_MEMORY_MB";
      why = `This page cannot start a run: this computer (its network address) already has ${what} on the server. ${said} Each open tab of this page holds a run, and a closed tab's run is freed once nobody has watched it ${this.idleFor().trim() || "for a while"}. Close other tabs of this page, or ask the teacher to raise ${raise}.`;
      countdown = retry < idle;
      if (countdown) why += " One of your runs is idle and will be freed soon:";
    } else {
      why = `${err.reason === "server_memory" ? "The server's memory for runs is in use right now." : "The server is full: every training slot is in use right now."} ${said}`;
    }
    return new Promise((resolve) => {
      let timer = 0;
      let left = retry;
      const go = () => {
        clearInterval(timer);
        banner.show("full", { level: "warn", text: "Asking the server for a training slot…" });
        this.hooks.waiting?.(false); // the loading note stops saying "Building the network…"
        resolve();
      };
      const tick = () => {
        this.hooks.waiting?.(true, countdown ? left : null);
        banner.show("full", {
          level: "warn",
          text: countdown ? `${why} This page will try again in ${left} s.` : why,
          actions: [{ label: countdown ? "Try again now" : "Try again", run: go }],
        });
      };
      if (countdown) {
        timer = setInterval(() => {
          left -= 1;
          if (left <= 0) go();
          else tick();
        }, 1000);
      }
      tick();
    });
  }

  async adopt(run) {
    this.store.update({ run, settings: settingsFromRun(run, this.store.settings) });
    sessionStorage.setItem(RUN_KEY, run.id);
    await this.reloadData();
  }

  reloadData() {
    this.loaded = (async () => {
      const data = await api.data(this.store.run.id);
      data.__rev = (this.store.data?.__rev ?? 0) + 1;
      this.store.update({ data });
      this.hooks.data?.(data);
    })();
    return this.loaded;
  }

  connect() {
    const id = this.store.run.id;
    this.generation += 1;
    this.stream = openStream(id, {
      open: () => {
        banner.clear("conn");
        this.hooks.connected?.();
        if (this.resume) this.send({ type: "play" });
        this.resume = false;
      },
      frame: (f) => this.hooks.frame(f),
      rebuilt: (run) => {
        this.store.update({ run });
        this.hooks.rebuilt(run);
      },
      error: (detail, id) => {
        const text = typeof detail === "string" ? detail : JSON.stringify(detail);
        this.hooks.serverError(text, id === undefined ? undefined : this.sentById.get(id));
      },
      close: (ev) => this.onClose(ev),
    });
  }

  async onClose(ev) {
    if (this.closing) return;
    this.stream = null;
    this.resume ||= this.store.frame?.status === "running";
    this.hooks.closed?.(); // the server pauses a run whose stream closed
    if (ev?.code === 4404) {
      // The server no longer knows this run (evicted after being idle): say so, offer it back.
      banner.clear("conn");
      this.evicted();
      return;
    }
    if (ev?.code === 4000) {
      // Another stream took this run (the same tab state opened twice) or it was deleted.
      try {
        await api.getRun(this.store.run.id);
      } catch (err) {
        if (err instanceof ApiError && err.status === 404) return this.onClose({ code: 4404 });
      }
      banner.show("conn", {
        level: "warn",
        text: "This experiment was opened in another tab or window, which now drives it; this page stopped.",
        actions: [
          { label: "Continue here", run: () => this.connect() },
          { label: "Start a separate copy", run: async () => { await this.adopt(await this.create()); this.connect(); } },
        ],
      });
      return;
    }
    return this.reconnect();
  }

  /**
   * The stream dropped (the server restarting, a worker gone, the network): say
   * "Reconnecting…", and ask for the run again after a jittered, growing wait until the
   * server answers. It has the run: stream it again (playing on if it was). It no longer has
   * it (a restart lost it): a new run with the same settings, and a message saying so.
   */
  async reconnect() {
    const generation = this.generation;
    const dropped = performance.now();
    for (let attempt = 1; ; attempt++) {
      const wait = reconnectDelay(attempt);
      banner.show("conn", reconnectStatus(attempt, wait, (performance.now() - dropped) / 1000));
      await new Promise((r) => setTimeout(r, wait * 1000));
      if (generation !== this.generation) return; // connected meanwhile by other means
      let run = null;
      try {
        run = await api.getRun(this.store.run.id);
      } catch (err) {
        if (!(err instanceof ApiError) || err.status !== 404) continue; // not answering yet
      }
      if (generation !== this.generation) return;
      if (run) {
        this.store.update({ run });
        this.connect();
        return;
      }
      return this.replace();
    }
  }

  /** The server answered 404 for the run after a drop: a fresh run with the same settings. */
  async replace() {
    const step = this.store.frame?.step;
    let run;
    try {
      run = await this.create();
    } catch {
      banner.clear("conn");
      this.evicted(); // could not make one: the page says so and offers to try again
      return;
    }
    await this.adopt(run);
    banner.show("expired", { level: "info", dismiss: true, text: replacedText(step, this.idleFor()) });
    this.connect();
  }

  /** Send a stream message with a fresh id (docs/api.md); returns the id (null: not sent). */
  send(msg) {
    if (!this.stream) {
      // Reconnecting: a play or pause pressed meanwhile is what happens once connected.
      if (msg.type === "play" || msg.type === "pause") this.resume = msg.type === "play";
      return null;
    }
    const id = this.nextId++;
    this.sentById.set(id, msg);
    if (this.sentById.size > SENT_KEPT) this.sentById.delete(this.sentById.keys().next().value);
    this.stream.send({ ...msg, id });
    return id;
  }

  /** w^l_jk = value (j, k 0-based); a refusal reaches serverError with this message. */
  setWeight(l, j, k, value) {
    return this.send({ type: "set_weight", l, j, k, value });
  }

  get open() {
    return !!this.stream?.open;
  }
}
