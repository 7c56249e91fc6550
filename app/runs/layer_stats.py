"""A frame's ``histograms``: per layer, the distributions of w^l and of the batch's a^l and δ^l.

The values are read from a frame builder's buffer (:class:`app.runs.frames.FrameBuilder`)
after its :meth:`~app.runs.frames.FrameBuilder.fill`: ``w^l`` (``n_l·n_{l-1}`` weights, no
biases) at the frame's θ, and ``a^l`` and ``δ^l`` of the ``m`` examples of the frame's batch
(``m·n_l`` values each; the probe's column is left out), gathered by one index made once
per builder and counted by :class:`app.core.histograms.SegmentHistograms` (``BINS`` bins).
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np
from numpy.typing import NDArray

from app.core.fast_step import FastStep
from app.core.histograms import BINS, Histograms, SegmentHistograms
from app.runs.frames import FrameBuilder
from app.runs.layer_history import LayerHistory

KINDS = ("w", "a", "delta")  # per layer, in this order


class LayerSamples:
    """Where a builder's buffer holds each layer's ``w``, batch ``a`` and batch ``δ``, and
    the histograms of them."""

    def __init__(self, builder: FrameBuilder) -> None:
        ar, sizes = builder.arena, builder.sizes
        rec0, cols = ar.start["XR"] + ar.n_x, ar.cols
        index = np.arange(FastStep.record_size(sizes, cols)) + rec0
        _, a, _, d = builder.step.record_views(index)  # each (1+m, n_l); row 0: the probe
        w = ar.theta_views(ar.region(np.arange(ar.size), "W"))  # [w | b] (n_l, n_{l-1}+1)
        parts: list[NDArray[Any]] = []
        for i in range(len(sizes) - 1):
            parts += [w[i][:, :-1], a[i][1:], d[i][1:]]
        self.index = np.concatenate([p.reshape(-1) for p in parts])
        self.histograms = SegmentHistograms([p.size for p in parts], BINS)
        self.m = builder.m
        self.n_layers = len(sizes) - 1
        self._values = np.zeros(self.index.size)
        self._last: tuple[int, Histograms] | None = None

    def __call__(self, buf: NDArray[np.float64], fills: int) -> Histograms:
        """The histograms of the values in ``buf`` (the builder's buffer after its fill number
        ``fills``); the last ones again after the same fill (a paused run asked again)."""
        last = self._last
        if last is not None and last[0] == fills:
            return last[1]
        buf.take(self.index, out=self._values, mode="wrap")  # in range: made from arange
        h = self.histograms(self._values)
        self._last = (fills, h)
        return h

    def as_json(self, h: Histograms) -> dict[str, Any]:
        """The frame's ``histograms`` object (``docs/frames.md``)."""
        layers = []
        for i in range(self.n_layers):
            layer: dict[str, Any] = {"l": i + 2}
            for j, kind in enumerate(KINDS):
                s = 3 * i + j
                ok = bool(h.ok[s])
                layer[kind] = {"edges": h.edges[s], "counts": h.counts[s]} if ok else None
            layers.append(layer)
        return {"bins": self.histograms.bins, "m": self.m, "layers": layers}


_SAMPLES: weakref.WeakKeyDictionary[FrameBuilder, LayerSamples] = weakref.WeakKeyDictionary()


def samples(builder: FrameBuilder) -> LayerSamples:
    """The :class:`LayerSamples` of ``builder``, made at its first use and kept with it."""
    s = _SAMPLES.get(builder)
    if s is None:
        s = _SAMPLES[builder] = LayerSamples(builder)
    return s


def histograms(builder: FrameBuilder) -> tuple[dict[str, Any], Histograms]:
    """The frame's ``histograms`` object for ``builder``'s last fill, and the counts."""
    s = samples(builder)
    h = s(builder.buf, builder.fills)
    return s.as_json(h), h


def measured(
    history: LayerHistory,
    builder: FrameBuilder,
    step: int,
    health: list[dict[str, Any]],
    send: bool,
    probe: int,
) -> dict[str, Any] | None:
    """At a measurement (a frame with fresh train/test metrics): a point of the run's layer
    history at ``step`` (the builder's norms, the health's per-layer counts ``health``, and
    the histograms when a snapshot is due, and ``probe``, the index of the example whose
    ``probe_*`` norms they are), and the frame's ``histograms`` object if
    ``send`` (else None: the histograms are only counted when sent or kept)."""
    obj, h = None, None
    if send or history.snapshot_due(step):
        obj, h = histograms(builder)
    history.record(step, builder.plan.norms(), health, h, probe)
    return obj if send else None
