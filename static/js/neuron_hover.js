// Playground's signature interaction: while the pointer is on a neuron of the network view,
// the big output plot shows that neuron's output over the input plane (its full 64 x 64 grid,
// GET /api/runs/{id}/grid/{l}/{j}); when the pointer leaves, the decision boundary returns.
// While hovering, a frame that brings a new grid (the weights changed) fetches it again.

export class NeuronHover {
  /** boundary: the BoundaryPlot (showNeuron(grid | null)); runId(): the current run's id. */
  constructor(boundary, runId) {
    this.boundary = boundary;
    this.runId = runId;
    this.target = null; // {l, j} hovered
    this.inFlight = false;
    this.stale = false;
    this.gridRef = null;
  }

  /** h: the network view's hover ({type: "neuron" | "edge", l, j, ...}) or null. */
  set(h) {
    const next = h && h.type === "neuron" ? { l: h.l, j: h.j } : null;
    if (next && this.target && next.l === this.target.l && next.j === this.target.j) return;
    this.target = next;
    if (!next) {
      this.boundary.showNeuron(null);
      return;
    }
    this.fetch();
  }

  /** Every applied frame: a new grid means new weights, so the hovered picture is refetched. */
  frame(frame) {
    if (frame.grid && frame.grid !== this.gridRef) {
      this.gridRef = frame.grid;
      if (this.target) this.fetch();
    }
  }

  async fetch() {
    if (this.inFlight) {
      this.stale = true;
      return;
    }
    const want = this.target;
    const id = this.runId();
    if (!want || !id) return;
    this.inFlight = true;
    try {
      const res = await fetch(`/api/runs/${encodeURIComponent(id)}/grid/${want.l}/${want.j}`);
      const g = res.ok ? await res.json() : null;
      // Show it only if the pointer is still on that neuron.
      if (g && this.target && this.target.l === want.l && this.target.j === want.j) this.boundary.showNeuron(g);
    } catch {
      // the connection banner says what is wrong; the boundary stays
    } finally {
      this.inFlight = false;
      if (this.stale) {
        this.stale = false;
        if (this.target) this.fetch();
      }
    }
  }
}
