"""Step 5 of the pacer's plan: a stream whose share covers all it asks for is not kept
waiting by the expensive tick of a stream whose share is capped.

One light stream (a default experiment: 0.3 ms a frame, 0.1 ms of training) and four heavy
ones at "max" speed share 0.9 of a core: the light one wants 30 · 0.4 ms = 12 ms/s, far under
an even split (180 ms/s), so it is served; the heavy ones ask for a second each and are
capped. Time is frozen (``time.monotonic`` stands still) so the plan does not move under
the test.
"""

from __future__ import annotations

import pytest

from app.runs.pacer import _MAX_DEFER_S, Pacer

LIGHT, HEAVY = 1, [2, 3, 4, 5]


@pytest.fixture
def pacer(monkeypatch: pytest.MonkeyPatch) -> Pacer:
    monkeypatch.setattr("app.runs.pacer.time.monotonic", lambda: 1000.0)
    monkeypatch.setattr("app.runs.pacer.time.thread_time", lambda: 0.0)
    p = Pacer(max_fps=30, min_fps=2, cpu_share=0.9, steady_fps=10)
    p.overhead = 0.0001
    p.report(LIGHT, 0.0001, 0.0003, 0.0001)
    for k in HEAVY:
        p.report(k, 0.01, 0.002, 1.0)
    return p


def test_the_light_stream_is_served_and_the_heavy_ones_are_capped(pacer: Pacer) -> None:
    assert pacer.fps(LIGHT) == 30
    for k in HEAVY:  # each gets (0.9 - 0.012) / 4 = 0.222 s/s, far under the 1 s it asks for
        assert pacer.training_budget(k) < 0.222


def test_a_heavy_tick_that_would_run_into_a_light_ones_slot_waits_for_it(pacer: Pacer) -> None:
    now = 2000.0
    pacer.next_tick(LIGHT, now + 0.002)  # the light stream's next frame is due in 2 ms
    wait = pacer.defer(HEAVY[0], now, 0.0)
    # The heavy tick (its budget and a 2 ms frame) would end after 2 ms: it waits until just
    # after the light tick falls due, so that one runs first.
    assert 0.002 < wait <= 0.0025
    # A light tick due after the heavy tick would end does not hold it back.
    pacer.next_tick(LIGHT, now + 1.0)
    assert pacer.defer(HEAVY[0], now, 0.0) == 0.0


def test_the_light_stream_itself_never_waits(pacer: Pacer) -> None:
    pacer.next_tick(LIGHT, 2000.001)
    assert pacer.defer(LIGHT, 2000.0, 0.0) == 0.0


def test_a_heavy_tick_waits_at_most_the_bound_however_many_light_ticks_are_due(
    pacer: Pacer,
) -> None:
    pacer.next_tick(LIGHT, 2000.0005)
    assert pacer.defer(HEAVY[0], 2000.0, 0.0) > 0.0
    assert pacer.defer(HEAVY[0], 2000.0, _MAX_DEFER_S) == 0.0  # waited its bound: goes
    assert pacer.defer(HEAVY[0], 2000.0, _MAX_DEFER_S - 0.001) <= 0.001


def test_a_stream_that_left_holds_nobody_back(pacer: Pacer) -> None:
    pacer.next_tick(LIGHT, 2000.001)
    pacer.leave(LIGHT)
    assert pacer.defer(HEAVY[0], 2000.0, 0.0) == 0.0
