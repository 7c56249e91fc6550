"""Steps 4 and 5 of the pacer's plan: when the core turns out smaller than planned, the
expensive streams give up the difference before modest ones lose any of their planned
share, and an expensive stream's long tick waits for a modest stream's tick that falls due.

One light stream (a default experiment: 0.3 ms a frame, 0.1 ms of training) and four heavy
ones at "max" speed share 0.9 of a core: the light one wants 30 · 0.4 ms = 12 ms/s, far under
an even split (180 ms/s), so it is modest and served; the heavy ones ask for a second each,
more than 1.5 times an even split: expensive, and capped. Time is frozen
(``time.monotonic`` stands still) so the plan does not move under the test.
"""

from __future__ import annotations

import numpy as np
import pytest

from app.runs.pacer import _MAX_DEFER_S, Pacer, class_shares, max_min_shares

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


# Ten students asking 35 ms/s each (30 frames of 0.9 ms and 0.28 ms of training, as measured
# for the default experiment on a busy machine), twenty of the largest networks at "max"
# speed asking 4 s/s each; frames of 0.9 and 2 ms, so floors (2 frames/s) of 1.8 and 4 ms/s.
# An even split of 0.95 among 30 is 31.7 ms/s: the students ask 1.1 times it (modest), the
# networks 126 times it (expensive).
HONEST = np.full(10, 0.035)
HEAVY = np.full(20, 4.0)
DEMAND = np.concatenate([HONEST, HEAVY])
FLOOR = np.concatenate([np.full(10, 0.0018), np.full(20, 0.004)])


def test_at_the_planned_capacity_it_is_max_min() -> None:
    shares = class_shares(DEMAND, FLOOR, 0.95, 1.0)
    assert shares == pytest.approx(np.full(30, 0.95 / 30))  # 31.7 ms/s, under every demand


def test_when_half_the_core_is_there_the_expensive_streams_give_up_the_difference() -> None:
    shares = class_shares(DEMAND, FLOOR, 0.95, 0.5)
    assert shares[:10] == pytest.approx(np.full(10, 0.95 / 30))  # the students keep theirs
    # The heavy streams share what is left: (0.475 - 10 x 31.7 ms/s) / 20 = 7.9 ms/s each.
    assert shares[10:] == pytest.approx(np.full(20, (0.475 - 0.95 / 3) / 20))
    assert shares.sum() == pytest.approx(0.475)


def test_when_the_expensive_streams_would_fall_below_their_floors_it_is_max_min() -> None:
    # 0.4 of the core (0.38): 0.317 for the students would leave 3.2 ms/s a network, under
    # its 4 ms/s floor: plain max-min over 0.38.
    shares = class_shares(DEMAND, FLOOR, 0.95, 0.4)
    assert shares == pytest.approx(max_min_shares(DEMAND, 0.38))
    assert shares == pytest.approx(np.full(30, 0.38 / 30))


def test_a_class_of_similar_students_is_plain_max_min() -> None:
    demand = np.linspace(0.03, 0.045, 30)  # nobody asks 1.5 times an even split
    for scale in (1.0, 0.5):
        shares = class_shares(demand, np.full(30, 0.002), 0.95, scale)
        assert shares == pytest.approx(max_min_shares(demand, 0.95 * scale))
