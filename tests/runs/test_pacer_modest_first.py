"""Steps 1, 4 and 5 of the pacer's plan: modest streams get what they ask before expensive
ones (ten times what the lighter quarter asks) share the rest, also when the core turns out
smaller than planned, and an expensive stream's long tick waits for a modest one's.

One light stream (a default experiment: 0.3 ms a frame, 0.1 ms of training) and four heavy
ones at "max" speed share 0.9 of a core: the light one wants 30 · 0.4 ms = 12 ms/s, far under
an even split (180 ms/s), so it is modest and served; the heavy ones ask for a second each,
more than 1.5 times an even split: expensive, and capped. Time is frozen
(``time.monotonic`` stands still) so the plan does not move under the test.
"""

from __future__ import annotations

import numpy as np
import pytest

from app.runs.pacer import _MAX_DEFER_S, Pacer, class_shares, expensive, max_min_shares

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
# speed asking 4 s/s each; frames of 0.9 and 2 ms, so floors of 1.8 and 4 ms/s at min_fps
# (2 frames/s) and of 0.45 and 1 ms/s at the lowest rate (0.5 frames/s, a frame every 2 s).
# The lighter quarter asks 35 ms/s: the networks ask 114 times that (expensive).
HONEST = np.full(10, 0.035)
HEAVY = np.full(20, 4.0)
DEMAND = np.concatenate([HONEST, HEAVY])
FRAME = np.concatenate([np.full(10, 0.0009), np.full(20, 0.002)])
FLOORS = (2.0 * FRAME, 0.5 * FRAME)
COSTLY = np.arange(30) >= 10


def test_the_largest_networks_are_expensive_next_to_the_class_and_nobody_in_a_plain_class() -> None:
    assert (expensive(DEMAND) == COSTLY).all()
    # A busy machine doubles every measured cost: still the same streams.
    assert (expensive(DEMAND * np.concatenate([np.full(10, 2.0), np.ones(20)])) == COSTLY).all()
    assert not expensive(np.linspace(0.03, 0.3, 200)).any()  # up to 10 times the lightest
    assert (expensive(np.array([0.03, 4.0])) == [False, True]).all()  # two streams


def test_the_students_get_what_they_ask_and_the_networks_share_the_rest() -> None:
    shares = class_shares(DEMAND, COSTLY, FLOORS, 0.95, 1.0)
    assert shares[:10] == pytest.approx(HONEST)  # plain max-min would cut them to 31.7 ms/s
    assert shares[10:] == pytest.approx(np.full(20, (0.95 - 0.35) / 20))


def test_when_half_the_core_is_there_the_networks_give_up_the_difference() -> None:
    shares = class_shares(DEMAND, COSTLY, FLOORS, 0.95, 0.5)
    assert shares[:10] == pytest.approx(HONEST)  # the students keep theirs
    # The networks share what is left: (0.475 - 0.35) / 20 = 6.25 ms/s each.
    assert shares[10:] == pytest.approx(np.full(20, (0.475 - 0.35) / 20))
    assert shares.sum() == pytest.approx(0.475)


def test_when_their_floors_do_not_fit_the_networks_drop_to_a_frame_every_2_s() -> None:
    # 0.4 of the core (0.38 s/s), as when another process keeps the core busy: the students'
    # 0.35 would leave the networks 1.5 ms/s each, under the 4 ms/s of 2 frames/s but over
    # the 1 ms/s of a frame every 2 s. The students keep all they ask for (an even split,
    # 12.7 ms/s, would cut them from 30 to 11 frames/s, as the test under load once saw);
    # the networks share the other 30 ms/s: 1.5 ms/s, 0.75 of their 2 ms frames a second.
    shares = class_shares(DEMAND, COSTLY, FLOORS, 0.95, 0.4)
    assert shares[:10] == pytest.approx(HONEST)
    assert shares[10:] == pytest.approx(np.full(20, 0.0015))
    assert shares.sum() == pytest.approx(0.38)


def test_when_the_class_alone_does_not_fit_or_not_beside_a_frame_every_2_s_it_is_max_min() -> None:
    # 0.3 of the core (0.285 s/s) is less than the students' 0.35 alone: the class is too big
    # for the core, and the networks at "max" speed share it as students (tests/runs/
    # test_pacer.py: a class of 300 where 100 play at "max" speed keeps 10 frames/s each).
    # 0.38 of the core (0.361 s/s) fits the students' 0.35 but not beside the networks'
    # 20 ms/s at a frame every 2 s: max-min too.
    for scale in (0.3, 0.38):
        there = 0.95 * scale
        shares = class_shares(DEMAND, COSTLY, FLOORS, 0.95, scale)
        assert shares == pytest.approx(max_min_shares(DEMAND, there))
        assert shares == pytest.approx(np.full(30, there / 30))


def test_a_class_of_similar_students_is_plain_max_min() -> None:
    demand = np.linspace(0.03, 0.045, 30)  # nobody asks 1.5 times an even split
    for scale in (1.0, 0.5):
        floors = (np.full(30, 0.002), np.full(30, 0.0005))
        shares = class_shares(demand, expensive(demand), floors, 0.95, scale)
        assert shares == pytest.approx(max_min_shares(demand, 0.95 * scale))
