"""Segment histograms: the counts are numpy.histogram's with the edges sent, the edges are
short decimals that hold every value, degenerate and non-finite segments are handled."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from app.core.histograms import BINS, SegmentHistograms


def _check(sizes: list[int], values: np.ndarray) -> None:
    h = SegmentHistograms(sizes)(values)
    assert h.edges.shape == (len(sizes), BINS + 1) and h.counts.shape == (len(sizes), BINS)
    start = 0
    for s, n in enumerate(sizes):
        seg = values[start : start + n]
        start += n
        if not np.isfinite(seg).all():
            assert not h.ok[s]
            continue
        assert h.ok[s]
        edges = h.edges[s]
        assert np.all(np.diff(edges) > 0)
        assert edges[0] <= seg.min() and seg.max() <= edges[-1]
        expected, _ = np.histogram(seg, bins=edges)
        np.testing.assert_array_equal(h.counts[s], expected)
        assert h.counts[s].sum() == n


finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(1, 40), min_size=1, max_size=8).flatmap(
        lambda sizes: st.tuples(st.just(sizes), hnp.arrays(np.float64, sum(sizes), elements=finite))
    )
)
def test_counts_are_numpy_histogram_with_the_edges_sent(case: tuple[list[int], np.ndarray]) -> None:
    _check(*case)


@pytest.mark.parametrize("scale", [1e-30, 1e-6, 1e-3, 1.0, 7.5, 1e4, 1e12])
def test_any_scale_and_values_on_the_edges(scale: float) -> None:
    rng = np.random.default_rng(0)
    sizes = [5, 30, 64, 3]
    v = rng.normal(size=sum(sizes)) * scale
    _check(sizes, v)
    # values that lie exactly on the grid of their range (integer-valued, like pixels)
    _check(sizes, np.round(v / scale * 4) * scale)


def test_the_edges_are_short_decimals() -> None:
    rng = np.random.default_rng(1)
    sizes = [40, 40, 40]
    v = rng.normal(size=120) * np.repeat([0.37, 2e-5, 350.0], 40)
    h = SegmentHistograms(sizes)(v)
    for edges in h.edges:
        span = edges[-1] - edges[0]
        unit = 10.0 ** (np.floor(np.log10(span)) - 3)
        # whole units of 10^(⌊log10 range⌋ − 3): 4 digits of the range, written short
        np.testing.assert_allclose(edges / unit, np.round(edges / unit), atol=1e-6)
        assert max(len(repr(float(e))) for e in edges) <= 12


def test_constant_and_zero_segments_get_numpys_range() -> None:
    sizes = [6, 4, 1]
    v = np.array([0.0] * 6 + [0.25] * 4 + [-3e6])
    h = SegmentHistograms(sizes)(v)
    np.testing.assert_array_equal(h.edges[0], np.linspace(-0.5, 0.5, BINS + 1).round(12))
    assert h.edges[1][0] == -0.25 and h.edges[1][-1] == 0.75
    assert h.edges[2][0] <= -3e6 <= h.edges[2][-1]
    assert h.counts[0][BINS // 2] == 6 and h.counts.sum() == 11
    _check(sizes, v)


def test_a_segment_that_is_not_finite_has_no_histogram_and_spoils_no_other() -> None:
    sizes = [3, 3, 3]
    v = np.array([1.0, np.nan, 2.0, 1.0, 2.0, 3.0, np.inf, 0.0, 1.0])
    h = SegmentHistograms(sizes)(v)
    assert h.ok.tolist() == [False, True, False]
    assert np.isfinite(h.edges).all() and h.counts[0].sum() == h.counts[2].sum() == 0
    _check(sizes, v)
