"""Per-layer series beside the loss history: aligned, bounded, and going back with the run."""

from __future__ import annotations

import numpy as np
import orjson

from app.core.histograms import SegmentHistograms
from app.runs.layer_history import POINTS, SNAPSHOTS, LayerHistory, max_bytes


def _norms(step: int, layers: int = 2) -> list[dict[str, float]]:
    """Numbers that say which step and layer they belong to."""
    return [
        {
            "probe_delta": step + 0.25,
            "probe_grad_w": 1.5 * (i + 1),
            "grad_b": float(step % 7),
            "grad_w": 1e-5 * (i + 1),
        }
        for i in range(layers)
    ]


HEALTH = [{"l": 2, "n": 4, "saturated": 3, "dead": 0}]  # the output layer is not counted


def _as_sent(obj: object) -> object:
    return orjson.loads(orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY))


def test_series_are_the_recorded_numbers_at_the_steps_asked() -> None:
    h = LayerHistory()
    for s in (0, 3, 6, 9):
        h.record(s, _norms(s), HEALTH)
    out = _as_sent(h.series([0, 3, 6, 9]))
    assert out[0] == {
        "l": 2,
        "probe_delta": [0.25, 3.25, 6.25, 9.25],
        "probe_grad_w": [1.5] * 4,
        "grad_b": [0.0, 3.0, 6.0, 2.0],
        "grad_w": [1e-5] * 4,
        "saturated": [3] * 4,
        "dead": [0] * 4,
    }
    assert out[1]["saturated"] is None and out[1]["dead"] is None  # never counted
    # a step without a point (e.g. an opened document's history) is null, not shifted
    gaps = _as_sent(h.series([0, 1, 6, 12]))
    assert gaps[0]["probe_delta"] == [0.25, None, 6.25, None]
    assert gaps[0]["saturated"] == [3, None, 3, None]
    # no step asked (a read `since` the last point): a counted layer's counts are [], not
    # the null of a layer never counted
    none = _as_sent(h.series([]))
    assert none[0]["saturated"] == [] and none[0]["dead"] == []
    assert none[1]["saturated"] is None and none[1]["dead"] is None


def test_a_number_that_is_not_finite_is_sent_as_null() -> None:
    h = LayerHistory()
    norms = _norms(1)
    norms[0]["grad_w"] = float("inf")
    h.record(1, norms, HEALTH)
    out = orjson.dumps(h.series([1]), option=orjson.OPT_SERIALIZE_NUMPY)
    assert b"Infinity" not in out and b"NaN" not in out
    assert _as_sent(h.series([1]))[0]["grad_w"] == [None]  # type: ignore[index]


def test_memory_is_bounded_like_the_loss_history() -> None:
    h = LayerHistory()
    steps = list(range(0, 3 * POINTS + 17))
    for s in steps:
        h.record(s, _norms(s, 7), HEALTH)
    assert len(h) == POINTS
    kept = steps[-POINTS:]
    out = _as_sent(h.series(kept))
    assert out[0]["probe_delta"] == [s + 0.25 for s in kept]  # type: ignore[index]
    held = h._steps.nbytes + h._probes.nbytes + h._rows.nbytes
    assert held <= max_bytes(7)


def test_going_back_drops_the_points_after_it() -> None:
    h = LayerHistory()
    for s in range(0, 50, 5):
        h.record(s, _norms(s), HEALTH)
    h.record(5, _norms(999), HEALTH)  # rewound to a kept step: the first stays, and the rest
    assert len(h) == 10
    h.record(17, _norms(17), HEALTH)  # trained on from a rewind: the old future is gone
    assert len(h) == 5  # 0, 5, 10, 15, 17
    h.record(17, _norms(999), HEALTH)  # measured again at the same step: the first is kept
    h.record(23, _norms(23), HEALTH)
    out = _as_sent(h.series([0, 5, 10, 15, 17, 23]))
    assert out[0]["probe_delta"] == [0.25, 5.25, 10.25, 15.25, 17.25, 23.25]  # type: ignore[index]


def test_histogram_snapshots_are_few_and_spread_over_the_whole_run() -> None:
    sizes = [6, 10, 10, 2, 10, 10]  # (w, a, δ) of two layers
    hist = SegmentHistograms(sizes)
    rng = np.random.default_rng(0)
    h = LayerHistory()
    last = None
    for s in range(1000):
        last = hist(rng.normal(size=sum(sizes)) * (1 + s))
        h.record(s, _norms(s), HEALTH, last)
    snaps = _as_sent(h.histogram_series(None))
    steps = snaps["step"]  # type: ignore[index]
    assert SNAPSHOTS // 2 <= len(steps) < SNAPSHOTS
    assert steps[0] == 0 and steps[-1] > 900 and steps == sorted(steps)
    gaps = np.diff(steps)
    assert gaps.max() <= 2 * gaps.min()  # evenly spread, not the last 32
    # each snapshot is the histogram recorded at its step
    w = snaps["layers"][0]["w"]  # type: ignore[index]
    assert len(w) == len(steps) and len(w[0]["edges"]) == 21 and sum(w[0]["counts"]) == 6
    # up to a step: after a rewind the page asks for what lies before it
    early = _as_sent(h.histogram_series(steps[3]))
    assert early["step"] == steps[:4]  # type: ignore[index]


def test_each_point_keeps_whose_probe_norms_it_holds() -> None:
    """A learner who picks another probe makes the probe's series two examples' series; each
    point says which (None where there is no point, or it is not known)."""
    h = LayerHistory()
    for s in range(0, 30, 3):
        h.record(s, _norms(s), HEALTH, probe=4 if s < 15 else 11)
    h.record(30, _norms(30), HEALTH)  # e.g. an opened document that did not say
    assert h.probes(list(range(0, 31, 3))) == [4] * 5 + [11] * 5 + [None]
    assert h.probes([0, 1, 15, 33]) == [4, None, 11, None]  # aligned to the steps asked
    h.record(9, _norms(9), HEALTH, probe=2)  # a rewind measures again at a kept step
    h.record(10, _norms(10), HEALTH, probe=2)  # and trains on: the old future is gone
    assert h.probes([0, 3, 6, 9, 10]) == [4, 4, 4, 4, 2]


def test_probes_survive_the_buffer_growing_and_dropping_its_oldest() -> None:
    h = LayerHistory()
    steps = list(range(2 * POINTS + 100))
    for s in steps:
        h.record(s, _norms(s), HEALTH, probe=s % 250)
    kept = steps[-POINTS:]
    assert h.probes(kept) == [s % 250 for s in kept]
    held = h._steps.nbytes + h._probes.nbytes + h._rows.nbytes
    assert held <= max_bytes(2)
