"""The gradient across layers over time: per-layer series beside the loss history.

At every measurement of train/test (a frame's ``metrics_step``; the steps of the loss
history), :meth:`LayerHistory.record` keeps per layer l = 2..L the frame's four norms
(``probe_delta`` ‖δ^l‖₂ of the probe, ``probe_grad_w`` ‖∂C_x/∂w^l‖_F of the probe,
``grad_b`` ‖mean δ^l‖₂ = ‖∂C/∂b^l‖₂ and ``grad_w`` ‖∂C/∂w^l‖_F of the batch) and the
health's saturated and dead counts, and every so often the layer histograms. Each point also
keeps which example was the probe (``probe``): the probe's norms of a point measured before
the learner chose another probe are that other example's, and the page says so.

Memory is bounded like the loss history's: the last :data:`POINTS` points (float32, in a
buffer of :data:`_SPARE` more rows, so that dropping the oldest is an occasional copy), and at
most :data:`SNAPSHOTS` histogram snapshots spread over the whole run (when full, every other
one is dropped and only every 2nd, 4th, … later measurement is kept). A point recorded at a
step before the last one (the run went back: a rewind, then training on) first drops the
points after it; one at a step already kept is not (the first stays, as in the loss
history; a rewind measures again at a kept step, and the points after it stay for a rewind
forward). Series are answered *aligned to the steps asked* (the loss
history's), null where a step has no point (an opened document's history, for one).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from app.core.histograms import BINS, Histograms

POINTS = 2_000  # as the loss history (app/runs/measurements.py HISTORY_POINTS)
SNAPSHOTS = 32
NORMS = ("probe_delta", "probe_grad_w", "grad_b", "grad_w")
COUNTS = ("saturated", "dead")
_COLS = len(NORMS) + len(COUNTS)
_SPARE = 64  # rows beyond POINTS: the oldest are dropped by one copy every _SPARE points


def max_bytes(layers: int) -> int:
    """An upper bound on the bytes a history of ``layers`` (L − 1) layers holds."""
    rows = POINTS + _SPARE
    series = rows * (8 + 8 + 4 * layers * _COLS)  # step, probe, the layers' columns
    snaps = SNAPSHOTS * 3 * layers * (8 * (BINS + 1) + 4 * BINS)
    return series + snaps + 4_000


class LayerHistory:
    """Per-layer series and histogram snapshots of one run (for one network shape: call
    :meth:`forget` when it is rebuilt)."""

    def __init__(self) -> None:
        self.forget()

    def forget(self) -> None:
        """Step 0 again (a reset or a rebuild): nothing is kept."""
        self._steps = np.zeros(0, dtype=np.int64)
        self._probes = np.zeros(0, dtype=np.int64)  # the probe's index, −1: not known
        self._rows = np.zeros((0, 0, _COLS), dtype=np.float32)
        self._start = self._end = 0
        self._snap_steps: list[int] = []
        self._snap_edges: list[NDArray[np.float64]] = []
        self._snap_counts: list[NDArray[np.unsignedinteger[Any]]] = []
        self._stride = 1  # a snapshot every ``_stride`` measurements
        self._seen = 0  # measurements recorded since the start (snapshots at multiples)

    def __len__(self) -> int:
        return self._end - self._start

    # -- recording ---------------------------------------------------------------------
    def record(
        self,
        step: int,
        norms: list[dict[str, float]],
        health: list[dict[str, Any]],
        hist: Histograms | None = None,
        probe: int | None = None,
    ) -> None:
        """A point at ``step``: ``norms[i]`` (layer l = i + 2, as the frame's ``norms``),
        ``health`` (the frame's ``health.layers``: the layers counted), the layer
        histograms of the same frame (kept when :meth:`snapshot_due` said so), and the
        index of the probe whose norms ``probe_*`` are (None: not known, e.g. an opened
        document that did not say)."""
        if not self._after_last(step):  # the usual case (training on) skips both searches
            if self._has(step):  # measured again at a step kept (a rewind): the first stays
                if hist is not None and not self._snap_steps:
                    self._snapshot(step, hist)  # an opened run's last step: its first histograms
                return
            self._back_to(step)
        # the frame's norms are finite floats (clipped); anything else is NaN: null; a layer
        # the health does not count has NaN counts
        counts = {h["l"]: (h["saturated"], h["dead"]) for h in health}
        uncounted = (math.nan, math.nan)
        rows = [
            [*(n[k] for k in NORMS), *counts.get(i + 2, uncounted)] for i, n in enumerate(norms)
        ]
        row = np.array(rows, dtype=np.float32).reshape(len(norms), _COLS)
        self._append(step, row, -1 if probe is None else probe)
        due = self._seen % self._stride == 0
        self._seen += 1
        if due and hist is not None:
            self._snapshot(step, hist)

    def snapshot_due(self, step: int) -> bool:
        """A point recorded at ``step`` now would keep a histogram snapshot (so the caller
        counts the histograms for it)."""
        return self._seen % self._stride == 0 and (self._after_last(step) or not self._has(step))

    def _after_last(self, step: int) -> bool:
        """``step`` is after every point kept (or none is kept)."""
        return self._end == self._start or step > int(self._steps[self._end - 1])

    def _has(self, step: int) -> bool:
        kept = self._steps[self._start : self._end]
        at = int(np.searchsorted(kept, step))
        return at < len(kept) and int(kept[at]) == step

    def _back_to(self, step: int) -> None:
        """Drop the points and snapshots at ``step`` or after it."""
        if len(self) and self._steps[self._end - 1] >= step:
            keep = np.searchsorted(self._steps[self._start : self._end], step)
            self._end = self._start + int(keep)
        while self._snap_steps and self._snap_steps[-1] >= step:
            self._snap_steps.pop()
            self._snap_edges.pop()
            self._snap_counts.pop()

    def _append(self, step: int, row: NDArray[np.float32], probe: int) -> None:
        if self._rows.shape[1:] != row.shape:  # the first point (or a new shape): start over
            self._steps = np.zeros(16, dtype=np.int64)
            self._probes = np.zeros(16, dtype=np.int64)
            self._rows = np.zeros((16, *row.shape), dtype=np.float32)
            self._start = self._end = 0
        if self._end == len(self._steps):
            n = len(self)
            if n >= POINTS:  # full: keep the newest POINTS − 1, at the front
                keep = slice(self._end - (POINTS - 1), self._end)
                self._steps[: POINTS - 1] = self._steps[keep]
                self._probes[: POINTS - 1] = self._probes[keep]
                self._rows[: POINTS - 1] = self._rows[keep]
                self._start, self._end = 0, POINTS - 1
            else:  # growing: twice the rows, at most POINTS + _SPARE
                size = min(2 * len(self._steps), POINTS + _SPARE)
                steps = np.zeros(size, dtype=np.int64)
                probes = np.zeros(size, dtype=np.int64)
                rows = np.zeros((size, *row.shape), dtype=np.float32)
                steps[:n] = self._steps[self._start : self._end]
                probes[:n] = self._probes[self._start : self._end]
                rows[:n] = self._rows[self._start : self._end]
                self._steps, self._probes, self._rows = steps, probes, rows
                self._start, self._end = 0, n
        self._steps[self._end] = step
        self._probes[self._end] = probe
        self._rows[self._end] = row
        self._end += 1
        if len(self) > POINTS:
            self._start += 1

    def _snapshot(self, step: int, hist: Histograms) -> None:
        self._snap_steps.append(step)
        self._snap_edges.append(np.where(hist.ok[:, None], hist.edges, np.nan))
        self._snap_counts.append(hist.counts.astype(np.min_scalar_type(hist.counts.max())))
        if len(self._snap_steps) >= SNAPSHOTS:  # every other one, and half as often from now
            for kept in (self._snap_steps, self._snap_edges, self._snap_counts):
                del kept[1::2]  # those at odd multiples of the stride
            self._stride *= 2

    # -- reading -----------------------------------------------------------------------
    @property
    def n_layers(self) -> int:
        """L − 1 of the points kept (0 before the first)."""
        return int(self._rows.shape[1])

    def series(self, steps: list[int]) -> list[dict[str, Any]]:
        """Per layer l = 2..L, each series at the ``steps`` asked (null where there is no
        point): ``{"l", "probe_delta", "probe_grad_w", "grad_b", "grad_w", "saturated",
        "dead"}``; a count series is null as a whole for a layer that is never counted.
        No layers before the first point."""
        n_layers = self.n_layers
        rows = self._aligned(steps, n_layers)
        kept = self._rows[self._start : self._end]
        out = []
        for i in range(n_layers):
            layer: dict[str, Any] = {"l": i + 2}
            for c, name in enumerate(NORMS):
                layer[name] = np.ascontiguousarray(rows[:, i, c])  # float32, NaN: null
            for c, name in enumerate(COUNTS, start=len(NORMS)):
                # "never counted" is the layer's, over every point kept, not the steps asked:
                # no new point (``since`` the last) is ``[]`` for a counted layer
                never = not (~np.isnan(kept[:, i, c])).any()
                layer[name] = None if never else _counts(rows[:, i, c])
            out.append(layer)
        return out

    def probes(self, steps: list[int]) -> list[int | None]:
        """The probe's index at each of the ``steps`` asked: whose ``probe_*`` norms the
        point's are; None where there is no point, or it is not known."""
        probes = self._probes[self._start : self._end]
        found = self._found(steps)
        if found is not None:  # some step without a point
            out = np.full(len(steps), -1, dtype=np.int64)
            at, hit = found
            out[hit] = probes[at[hit]]
            probes = out
        return [None if p < 0 else p for p in probes.tolist()]

    def _aligned(self, steps: list[int], n_layers: int) -> NDArray[np.float32]:
        """``(len(steps), n_layers, cols)``: the point recorded at each step, else NaN."""
        rows = self._rows[self._start : self._end]
        found = self._found(steps)
        if rows.shape[1:2] == (n_layers,) and found is None:
            return rows  # the usual case: a point at every step of the loss history
        out = np.full((len(steps), n_layers, _COLS), np.nan, dtype=np.float32)
        if found is not None and rows.shape[1] == n_layers:
            at, hit = found
            out[hit] = rows[at[hit]]
        return out

    def _found(self, steps: list[int]) -> tuple[NDArray[np.intp], NDArray[np.bool_]] | None:
        """Where each of the ``steps`` asked is among the points kept: (its index, whether it
        is there); None when the steps are exactly the kept ones (the usual case)."""
        kept = self._steps[self._start : self._end]
        want = np.asarray(steps, dtype=np.int64)
        if np.array_equal(kept, want):
            return None
        if not len(kept):
            return np.zeros(len(want), np.intp), np.zeros(len(want), bool)
        at = np.minimum(np.searchsorted(kept, want), len(kept) - 1)
        return at, kept[at] == want

    def histogram_series(self, up_to: int | None) -> dict[str, Any]:
        """The kept histogram snapshots at steps ≤ ``up_to`` (all if None), oldest first:
        ``{"step": [...], "layers": [{"l", "w", "a", "delta"}]}``, each kind a list of
        ``{"edges", "counts"}`` (null where that histogram had a value that is not finite)."""
        idx = [i for i, s in enumerate(self._snap_steps) if up_to is None or s <= up_to]
        n_layers = len(self._snap_edges[0]) // 3 if self._snap_edges else 0
        layers = []
        for i in range(n_layers):
            layer: dict[str, Any] = {"l": i + 2}
            for j, kind in enumerate(("w", "a", "delta")):
                seg = 3 * i + j
                layer[kind] = [self._hist(k, seg) for k in idx]
            layers.append(layer)
        return {"step": [self._snap_steps[k] for k in idx], "layers": layers}

    def _hist(self, k: int, seg: int) -> dict[str, Any] | None:
        edges = self._snap_edges[k]
        if seg >= len(edges) or math.isnan(edges[seg, 0]):
            return None
        return {"edges": edges[seg], "counts": self._snap_counts[k][seg]}


def _counts(col: NDArray[np.float32]) -> list[int | None]:
    """A count series as whole numbers, None where not counted (a step without a point)."""
    counted = ~np.isnan(col)
    if counted.all():
        out: list[int | None] = col.astype(np.int64).tolist()
        return out
    return [int(v) if ok else None for v, ok in zip(col.tolist(), counted.tolist(), strict=True)]
