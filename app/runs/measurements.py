"""What a run measures about itself: train/test metrics, the loss history, the health.

One reason to change: how a run is measured and what it remembers of its measurements.
The maths is elsewhere (the metrics' forward pass in :mod:`app.runs.metrics`, the
saturation counts and the advice in :mod:`app.runs.insight`); this keeps the last results,
the history of train/test cost and accuracy (one point per measurement, the last
:data:`HISTORY_POINTS`), and, after a rewind, the points that lay ahead of it
(:meth:`Measurements.rewind`): kept until the run trains on or changes, so rewinding
forward again gets them back.
"""

from __future__ import annotations

import itertools
from collections import deque
from typing import Any

from app.runs import insight
from app.runs.experiment import Experiment
from app.runs.layer_history import LayerHistory
from app.runs.metrics import Metrics
from app.runs.state import RunState
from app.settings import Settings

HISTORY_POINTS = 2_000
HISTORY_KEYS = ("step", "epoch", "train_cost", "test_cost", "train_accuracy", "test_accuracy")

# (step, epoch, train cost, test cost, train accuracy, test accuracy)
HistoryPoint = tuple[int, int, float | None, float | None, float | None, float | None]


class OpenedHistory(list[HistoryPoint]):
    """An opened document's loss history (oldest first) with the per-layer series at its
    steps (``layers``, made in the worker thread that opened it)."""

    def __init__(self, points: list[HistoryPoint], layers: LayerHistory) -> None:
        super().__init__(points)
        self.layers = layers


class Measurements:
    """The last metrics (and the step they were measured at), the last health, the history."""

    def __init__(self) -> None:
        self.history: deque[HistoryPoint] = deque(maxlen=HISTORY_POINTS)
        self.layers = LayerHistory()  # per-layer series at the same steps (frame_doc records)
        self._ahead: list[HistoryPoint] = []  # points after a rewind's step, oldest first
        self._metrics: tuple[Metrics, int] | None = None  # the last measured, and its step
        self._health: tuple[RunState, dict[str, Any]] | None = None  # kept like _metrics
        self.advice_pending = False  # the last frame said advice is being tried
        # Changes whenever points already answered may be taken back or replaced (a reset,
        # a rebuild, a rewind, an opened document): a reader merging ``since`` answers
        # reads it all again then. Only appending (and dropping the oldest) keeps it.
        self.revision = 0

    # -- metrics and history --------------------------------------------------------------
    def metrics(self, st: RunState, penalty: float, fresh: bool) -> tuple[Metrics, int]:
        """Train and test metrics and the step they were measured at: measured now if
        ``fresh`` or nothing was measured yet (the history then gets a point), else the last
        ones again."""
        if fresh or self._metrics is None:
            self._metrics = self._measure(st, penalty)
        return self._metrics

    def _measure(self, st: RunState, penalty: float) -> tuple[Metrics, int]:
        tr = st.trainer
        m = st.evaluator(st.cost, penalty)
        point = (tr.step, tr.epoch, m.train_cost, m.test_cost, m.train_accuracy, m.test_accuracy)
        if not self.history or self.history[-1][:2] != point[:2]:
            self.history.append(point)
        return m, tr.step

    def history_dict(self, histograms: bool = False, since: int | None = None) -> dict[str, Any]:
        """The history as columns (GET /api/runs/{id}/history, a frame's ``history``), the
        per-layer series at its steps, and with ``histograms`` the histogram snapshots;
        ``since``: only the points (and snapshots) at steps after it, the snapshots' kept
        steps all in ``histograms.kept`` (a reader of increments drops the others)."""
        points = self._after(since)
        cols = list(zip(*points, strict=True)) if points else [()] * 6
        out: dict[str, Any] = {k: list(c) for k, c in zip(HISTORY_KEYS, cols, strict=True)}
        out["probe"] = self.layers.probes(out["step"])
        out["layers"] = self.layers.series(out["step"])
        last = self.history[-1][0] if self.history else -1
        out["histograms"] = self._histograms(last, since) if histograms else None
        return out

    def _after(self, since: int | None) -> list[HistoryPoint]:
        """The points at steps after ``since`` (all if None), oldest first."""
        if since is None:
            return list(self.history)
        n = 0
        for p in reversed(self.history):  # the steps ascend; the new points are the last few
            if p[0] <= since:
                break
            n += 1
        return list(itertools.islice(self.history, len(self.history) - n, None))

    def _histograms(self, last: int, since: int | None) -> dict[str, Any]:
        hs = self.layers.histogram_series(last)
        if since is None:
            return hs
        new = [i for i, s in enumerate(hs["step"]) if s > since]
        return {
            "step": [hs["step"][i] for i in new],
            "layers": [
                {k: v if k == "l" else [v[i] for i in new] for k, v in layer.items()}
                for layer in hs["layers"]
            ],
            "kept": hs["step"],
        }

    def forget(self) -> None:
        """A new state (step 0 again): the history and the kept metrics are stale."""
        self.history.clear()
        self._ahead.clear()
        self._metrics = None
        self.layers.forget()
        self.revision += 1

    def stale(self) -> None:
        """θ changed other than by training (a rewind, an import): measure again."""
        self._metrics = None
        self._health = None

    # -- rewinding ------------------------------------------------------------------------
    def rewind(self, step: int) -> None:
        """The history up to ``step`` only; the points after it are put aside (in order) and
        come back if the run is rewound forward past them before it trains on."""
        everything = [*self.history, *self._ahead]
        keep = [p for p in everything if p[0] <= step]
        self._ahead = [p for p in everything if p[0] > step]
        self.history.clear()
        self.history.extend(keep)
        self.revision += 1
        self.stale()

    def drop_ahead(self) -> None:
        """The run trains on (or changes) from here: the points put aside are gone."""
        self._ahead.clear()

    def restore(self, points: list[HistoryPoint]) -> None:
        """The history of an opened document (oldest first), and its per-layer series when
        ``points`` is an :class:`OpenedHistory` (:func:`app.runs.document.build_opened`)."""
        self.forget()
        self.history.extend(points)
        if isinstance(points, OpenedHistory):
            self.layers = points.layers

    # -- health ---------------------------------------------------------------------------
    def health(
        self,
        st: RunState,
        config: Experiment,
        settings: Settings,
        diverged: bool,
        fresh: bool,
    ) -> dict[str, Any]:
        """Saturated/dead units (measured with the metrics), and advice tried on this run
        when most units are saturated or dead, or the run diverged."""
        if fresh or self._health is None or self._health[0] is not st:
            self._health = (st, insight.health(st))
        h = dict(self._health[1])
        if diverged:
            h["advice"] = insight.advice(config, settings, "diverged")
        elif h["alarm"]:
            h["advice"] = insight.advice(config, settings, h["reason"])
        # Advice is tried in a background thread: until it is ready, frames say so.
        h["advice_pending"] = (diverged or h["alarm"]) and h["advice"] is None
        self.advice_pending = h["advice_pending"]
        return h

    def advice_arrived(self, config: Experiment, settings: Settings, diverged: bool) -> bool:
        """True once the advice that the last frame said was pending is ready: the next frame
        carries it (a paused stream then sends one)."""
        if not self.advice_pending or self._health is None:
            return False
        reason = "diverged" if diverged else self._health[1]["reason"]
        return insight.advice(config, settings, reason) is not None
