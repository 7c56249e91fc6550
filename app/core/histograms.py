"""Histograms of many segments of one flat array at once, with short exact bin edges.

A frame sends the distributions of each layer's weights, activations and δ (TensorBoard's
histogram view, for this network): ``BINS`` equal-width bins per segment, counted by a fixed
list of NumPy calls whatever the number of segments (a call costs about a microsecond here,
so one call per histogram would cost more than the counting).

Edges: a segment's ``[min, max]`` is widened outwards to 4 decimal digits of its range
(``10^(3 − ⌊log10(max − min)⌋)`` is the unit), and the ``BINS − 1`` inner edges are the
equal-width ones rounded to the same unit, so the edges that are sent are short decimals
(``-0.1234``, ``0.0567``) and every value lies inside them. The counts are those of
``numpy.histogram(values, bins=edges)`` with exactly those edges: bins ``[e_i, e_{i+1})``,
the last one closed ``[e_{B-1}, e_B]``. A constant segment gets the range
``c ± 0.5·max(1, |c|)``; a segment with a value that is not finite gets no histogram
(``ok`` False, its edges and counts zero).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]
Counts = NDArray[np.int64]

BINS = 20
# A range below this share of the values' magnitude is widened to it: its edges then still
# differ in float64 (4 digits of a range of 1e-9·|c| need 13 significant digits).
_NARROWEST = 1e-9
_TINY = 1e-290  # a range below it is taken as a single value (its unit would underflow)


@dataclass(frozen=True)
class Histograms:
    """``edges`` ``(S, B + 1)``, ``counts`` ``(S, B)``, ``ok`` ``(S,)``: per segment."""

    edges: Array
    counts: Counts
    ok: NDArray[np.bool_]


class SegmentHistograms:
    """Histograms of ``len(sizes)`` consecutive segments of a flat array of ``sum(sizes)``
    values (segment s is the next ``sizes[s]`` values), ``bins`` bins each."""

    def __init__(self, sizes: Sequence[int], bins: int = BINS) -> None:
        if not sizes or min(sizes) < 1:
            raise ValueError("every segment needs at least one value")
        if bins < 1:
            raise ValueError("bins must be >= 1")
        self.sizes = list(sizes)
        self.bins = bins
        self.n_segments = len(sizes)
        self._starts = np.cumsum([0, *sizes[:-1]])
        self._seg = np.repeat(np.arange(len(sizes)), sizes)
        self._fractions = np.arange(bins + 1) / bins  # the edges' fractions of the range
        self._signs = np.ones(bins + 1)
        self._signs[-1] = -1.0
        self._halves = np.full(bins + 1, 0.5)
        self._halves[0] = self._halves[-1] = 0.0
        self._base = self._seg * (bins + 1)  # where each value's segment's edges start
        self._all_ok = np.ones(len(sizes), dtype=np.bool_)
        self._all_ok.flags.writeable = False
        self._offsets = self._seg * bins  # ... and its counts

    def __call__(self, values: Array) -> Histograms:
        """The histograms of ``values`` ``(sum(sizes),)``."""
        with np.errstate(all="ignore"):  # non-finite segments are marked, not warned about
            return self._count(np.asarray(values, dtype=np.float64))

    def _count(self, v: Array) -> Histograms:
        if v.shape != (len(self._seg),):
            raise ValueError(f"expected {len(self._seg)} values, got shape {v.shape}")
        S, B, seg = self.n_segments, self.bins, self._seg
        lo = np.minimum.reduceat(v, self._starts)
        hi = np.maximum.reduceat(v, self._starts)
        span = hi - lo
        mag = np.maximum(np.negative(lo), hi)  # max(|lo|, |hi|), as lo ≤ hi
        ok = None
        # NaN or ±inf in a segment, or a range too narrow to split: the careful way
        if not np.minimum.reduce(span - _NARROWEST * mag) > _TINY:
            lo, hi, ok = _careful_range(lo, hi)
            span = hi - lo
            v = np.where(ok[seg], v, 0.0)  # the values of a segment without a histogram
        # The unit: 10^-d with d = 3 − ⌊log10(range)⌋, so the range spans 1,000-9,999 units.
        # Edges in units: the ends ⌊lo⌋ and ⌈hi⌉, the inner ones the equal-width edges
        # rounded to whole units (one floor: ⌈x⌉ = −⌊−x⌋ and ⌊x + ½⌋).
        k = (np.log10(span) + _K0).astype(np.intp)
        scale = _SCALE[k]
        g = np.multiply.outer(span * scale, self._fractions)
        g += (lo * scale)[:, None]
        g *= self._signs
        g += self._halves
        r = np.floor(g)
        r *= self._signs
        edges = r * _DIV[k]  # the float nearest each short decimal: an exact power of ten
        edges /= _MUL[k]  # divides (d > 0) or multiplies (d < 0) the whole number of units
        ends = edges[:, :: self.bins]
        if not np.minimum.reduce(np.minimum(lo - ends[:, 0], ends[:, 1] - hi)) >= 0.0:
            edges = _outward(edges, r, lo, hi, k)  # float error left an end inside a value
        # bin of each value: the equal-width estimate, then one step left or right where the
        # rounded edges say so (rounding moved an edge by under a unit; a bin is ≥ 50 units)
        lo_r = edges[:, 0]
        width = edges[:, -1] - lo_r
        width *= 1.0 / B
        idx = ((v - lo_r[seg]) / width[seg]).astype(np.int64)
        np.minimum(idx, B - 1, out=idx)
        flat_e, base = edges.reshape(-1), self._base
        idx -= v < flat_e[base + idx]
        idx += (v >= flat_e[base + idx + 1]) & (idx < B - 1)  # the last bin is closed
        idx += self._offsets
        counts = np.bincount(idx, minlength=S * B).reshape(S, B)
        if ok is None:
            return Histograms(edges, counts, self._all_ok)
        counts[~ok] = 0
        edges[~ok] = 0.0
        return Histograms(edges, counts, ok)


# _SCALE[k] = 10^d for k = ⌊log10(range)⌋ + _K0, d = 3 − ⌊log10(range)⌋; _MUL and _DIV are
# its exact parts (10^d, 1 when d ≥ 0; 1, 10^-d when d < 0) as columns.
_K0 = 400
_D = 3 - (np.arange(2 * _K0) - _K0).clip(-300, 300)
_SCALE = 10.0 ** _D.astype(np.float64)
_MUL = (10.0 ** np.maximum(_D, 0).astype(np.float64))[:, None]
_DIV = (10.0 ** np.maximum(-_D, 0).astype(np.float64))[:, None]


def _outward(edges: Array, r: Array, lo: Array, hi: Array, k: NDArray[np.intp]) -> Array:
    """``edges`` with an end that float rounding left inside ``[lo, hi]`` one unit further
    out (``r``: the edges in units)."""
    r = r.copy()
    r[:, 0] -= edges[:, 0] > lo
    r[:, -1] += edges[:, -1] < hi
    out: Array = r * _DIV[k]
    out /= _MUL[k]
    return out


def _careful_range(lo: Array, hi: Array) -> tuple[Array, Array, NDArray[np.bool_]]:
    """Ranges for the segments whose ``[lo, hi]`` has a value that is not finite (marked not
    ``ok``; a dummy range), is a single value ``c`` or narrower than ``_TINY``
    (``c ± 0.5·max(1, |c|)``), or is too narrow for float64 to split (widened about its
    middle to ``_NARROWEST·|c|``)."""
    span = hi - lo
    ok = np.isfinite(span)
    lo, hi = np.where(ok, lo, 0.0), np.where(ok, hi, 1.0)
    span = hi - lo
    mag = np.maximum(np.abs(lo), np.abs(hi))
    flat = span <= _TINY
    half = np.where(flat, 0.5 * np.maximum(1.0, mag), 0.5 * _NARROWEST * mag)
    widen = flat | (span < _NARROWEST * mag)
    mid = 0.5 * lo + 0.5 * hi
    return np.where(widen, mid - half, lo), np.where(widen, mid + half, hi), ok
