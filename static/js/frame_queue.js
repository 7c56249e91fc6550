// Streamed frames on their way to the screen: at most one is shown per animation frame.
// Frames that arrive faster are coalesced into the newest, keeping the grid, history and
// data_changed of the frames it replaced, and none is shown before the data it is drawn
// with has arrived.

export class FrameQueue {
  /**
   * dataReady(): resolves when the data being loaded has arrived; reloadData(): loads it
   * again (resolves when done); show(frame): put it on screen; received(frame): every frame
   * as it arrives (counting, recording).
   */
  constructor({ dataReady, reloadData, show, received }) {
    this.dataReady = dataReady;
    this.reloadData = reloadData;
    this.show = show;
    this.received = received;
    this.pending = null;
    this.rafId = 0;
    this.flushing = false;
  }

  /** A frame from the stream. */
  push(f) {
    this.received(f);
    const p = this.pending;
    if (p) {
      f.grid = f.grid ?? p.grid;
      f.history = f.history ?? p.history;
      // Data already reloaded for the pending frame need not be reloaded again (unless f says so).
      if (!f.data_changed && p.data_changed) f.data_loaded = p.data_loaded;
      f.data_changed = f.data_changed || p.data_changed;
    }
    this.pending = f;
    if (!this.rafId) this.rafId = requestAnimationFrame(() => this.flush());
  }

  /**
   * Show the pending frame. While its data reloads, newer frames keep merging into `pending`
   * (and no other flush runs), so the frame shown is the newest, with every grid, history and
   * data_changed of the frames it replaced; data that changed again meanwhile is reloaded again.
   */
  async flush() {
    this.rafId = 0;
    if (this.flushing || !this.pending) return;
    this.flushing = true;
    try {
      await this.dataReady()?.catch(() => {}); // the data the frame is drawn with (a failure says so itself)
      while (this.pending.data_changed && this.pending.data_loaded !== true) {
        this.pending.data_loaded = true; // a frame merged in later with data_changed clears it
        await this.reloadData();
      }
    } finally {
      this.flushing = false;
    }
    const f = this.pending;
    this.pending = null;
    this.show(f);
  }
}
