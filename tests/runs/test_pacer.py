"""The pacer: each stream's frame rate and training budget from a fair share of the core.

Costs are given in seconds per frame as the streams would report them; the expected rates
follow from the arithmetic of the share (worked out in each test), not from the code.
"""

from __future__ import annotations

import numpy as np
import pytest

from app.runs.pacer import Pacer, max_min_shares

SHARE = 0.9  # cpu_share in these tests


def _pacer(overhead: float = 0.0001) -> Pacer:
    p = Pacer(max_fps=30, min_fps=2, cpu_share=SHARE, steady_fps=10)  # whatever the defaults
    p.overhead = overhead  # what the process spends per frame outside the streams' code
    return p


class Clock:
    """Stands in for ``time.monotonic`` and ``time.thread_time`` in app.runs.pacer: time
    moves only when a test moves it, so a plan is made when a stream joins or leaves, or
    when the test lets 0.1 s pass, and the test's own CPU time is not measured as overhead."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.wall = 1000.0
        self.cpu = 0.0
        monkeypatch.setattr("app.runs.pacer.time.monotonic", lambda: self.wall)
        monkeypatch.setattr("app.runs.pacer.time.thread_time", lambda: self.cpu)


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return Clock(monkeypatch)


def test_max_min_shares_meets_small_demands_and_splits_the_rest_evenly() -> None:
    got = max_min_shares(np.array([0.1, 0.5, 0.05, 2.0, 3.0]), 1.0)
    # 0.1 and 0.05 fit in an even fifth (0.2); the other three split 0.85: 0.2833 each.
    assert got == pytest.approx([0.1, 0.85 / 3, 0.05, 0.85 / 3, 0.85 / 3])
    assert max_min_shares(np.array([0.1, 0.2]), 1.0) == pytest.approx([0.1, 0.2])  # all fit


def test_a_student_alone_trains_for_most_of_each_frame_interval() -> None:
    """Asking for more steps than fit ("max" speed): 30 frames/s, training fills the rest."""
    p = _pacer()
    assert p.fps() == 30
    p.report(1, 0.0, 0.001, 100.0)
    assert p.fps(1) == 30
    assert p.budget(1) == pytest.approx(SHARE / 30 - 0.0011)
    assert p.budget(1) * 30 > 0.85  # of the wall time spent training
    p.leave(1)
    assert p.fps() == 30 and p.playing == 0


def test_a_class_of_light_students_gets_the_cap_and_all_it_asks() -> None:
    p = _pacer()
    for key in range(30):
        p.report(key, 0.0, 0.0002, 0.0002)  # 10 W1 steps a frame
    for key in range(30):
        assert p.fps(key) == 30
        assert p.budget(key) == pytest.approx(0.0002)


def test_under_load_the_rate_holds_near_steady_fps_and_training_is_shared() -> None:
    p = _pacer(0.00012)
    for key in range(200):
        p.report(key, 0.0, 0.00015, 0.00015)
    # Each gets 0.9 / 200 = 4.5 ms/s; its frame and training (0.42 ms) fit 10.7 times a
    # second; a slightly higher rate with a little less training per frame is allowed
    # (within 10 % of the throughput).
    assert 10.7 <= p.fps(0) <= 12.0
    assert p.fps(0) * p.budget(0) >= 0.9 * 10.7 * 0.00015 * 0.99
    for key in range(200, 300):
        p.report(key, 0.0, 0.00015, 100.0)  # 100 more at "max" speed
    for key in (0, 199, 200, 299):  # everyone trains, the display stays smooth
        assert p.fps(key) >= 10 and p.budget(key) > 0.0


def test_one_fast_forward_leaves_the_others_what_they_ask() -> None:
    p = _pacer()
    for key in range(1, 30):
        p.report(key, 0.0, 0.0002, 0.0002)
    p.report(0, 0.0, 0.0002, 100.0)
    assert p.fps(1) == 30 and p.budget(1) == pytest.approx(0.0002)
    assert p.fps(0) == 30
    # The light ones' steps' time is an estimate: they may overrun it rather than lose steps;
    # the fast-forward, not fully served, gets exactly its budget.
    assert p.training_budget(1) >= 2 * p.budget(1)
    assert p.training_budget(0) == p.budget(0)
    others = 29 * 30 * 0.0005  # 29 light students at 30 frames/s: frame, overhead, training
    assert p.budget(0) == pytest.approx((SHARE - others) / 30 - 0.0003)  # what is left over


def test_the_largest_networks_at_max_speed_slow_only_themselves() -> None:
    """Issue 10: 20 of the largest networks at "max" speed beside 10 honest students. The
    honest ones ask for 30 x 0.55 ms = 16.5 ms/s each, less than an even thirtieth of the
    core (30 ms/s): they keep 30 frames/s and all their training. The heavy runs share the
    rest, (0.9 - 0.165) / 20 = 36.75 ms/s each, and their 1.4 ms frames get what it pays."""
    p = _pacer()
    for key in range(20):
        p.report(100 + key, 0.0, 0.0014, 3.0)  # 6 x 8 network: 1.4 ms frames, 3 s asked
    for key in range(10):
        p.report(key, 0.0, 0.0003, 0.00015)
    for key in range(10):
        assert p.fps(key) == 30 and p.budget(key) == pytest.approx(0.00015)
    heavy = (SHARE - 10 * 30 * 0.00055) / 20
    for key in range(100, 120):
        f, b = p.fps(key), p.budget(key)
        assert f * (0.0015 + b) == pytest.approx(heavy)  # exactly its share, no more
        assert f >= 10  # and still a smooth display


def test_streams_that_want_different_rates_each_get_their_own() -> None:
    """Half the class asks for little, half for a lot: the light half keeps a high rate,
    the heavy half trains more per frame at a lower one; nobody gets less than half an even
    share of training."""
    p = _pacer()
    for key in range(100):
        p.report(key, 0.0, 0.0002, 0.0001 if key % 2 else 0.002)
    light, heavy = p.fps(1), p.fps(0)
    assert light > heavy >= 10
    for key in range(100):
        assert p.fps(key) * p.budget(key) > 0.5 * (SHARE / 100 - p.fps(key) * 0.0003)


def test_an_expensive_frame_gets_fewer_frames_not_the_class() -> None:
    """A stream whose frame costs more than its share pays for at min_fps goes below it;
    the others keep theirs. (The common rate used to drop everyone to min_fps.) The class
    plays at "max" speed, so every stream wants more than an even share: 0.9 / 30 each."""
    p = _pacer()
    for key in range(29):
        p.report(key, 0.0, 0.0002, 100.0)
    p.report(98, 0.0, 0.0002, 100.0)
    before = [x for key in range(29) for x in (p.fps(key), p.budget(key))]  # 30 alike
    p.leave(98)
    p.report(99, 0.0, 0.03, 0.0)  # in its place, one whose frame takes 30 ms (30.1 ms)
    assert p.fps(99) == pytest.approx(0.9 / 30 / 0.0301)  # about 1 frame/s
    assert p.budget(99) == pytest.approx(0.0, abs=1e-9)
    assert [x for key in range(29) for x in (p.fps(key), p.budget(key))] == pytest.approx(before)
    p.report(98, 0.0, 10.0, 0.0)  # absurd: 10 s a frame
    assert p.fps(98) == 0.5  # a frame every 2 s, whatever it costs


def test_the_rate_drops_below_steady_only_when_frames_alone_do_not_fit() -> None:
    p = _pacer()
    for key in range(400):
        p.report(key, 0.0, 0.0002, 0.0002)
    assert p.fps(0) == pytest.approx(0.9 / (400 * 0.0003))  # 7.5 frames/s
    assert p.budget(0) == pytest.approx(0.0, abs=1e-12)  # one step a frame


def test_late_ticks_shrink_the_plan_and_on_time_ticks_restore_it(clock: Clock) -> None:
    """The core is shared with something the pacer does not see (another process): the
    streams' ticks run late, the plan shrinks until they do not."""
    p = _pacer()
    for key in range(30):
        p.report(key, 0.0, 0.0002, 0.002)  # want 30 x 2.3 ms = 69 ms/s each: more than fits
    full = p.fps(0) * (p.budget(0) + 0.0003)  # the CPU a stream gets: 0.9 / 30
    assert full == pytest.approx(SHARE / 30)
    for _ in range(10):  # one second of ticks half an interval late
        clock.wall += 0.1
        for key in range(30):
            clock.cpu += 0.0003  # the frame and 0.1 ms of overhead
            p.report(key, 0.0, 0.0002, 0.002, late_s=0.5 / p.fps(key))
    shrunk = p.fps(0) * (p.budget(0) + 0.0003)
    assert shrunk < 0.5 * full
    for _ in range(100):  # ten seconds on time
        clock.wall += 0.1
        for key in range(30):
            clock.cpu += 0.0003
            p.report(key, 0.0, 0.0002, 0.002, late_s=0.0)
    assert p.fps(0) * (p.budget(0) + 0.0003) == pytest.approx(full, rel=1e-3)


def test_late_ticks_on_a_mostly_waiting_loop_do_not_cut_the_class(clock: Clock) -> None:
    """Another process preempts the server: its ticks run late although the loop uses only
    what ten light students need (0.45 ms x 30 frames/s each, 13.5 % of the core). Cutting
    the plan would not make them punctual; it is never cut below what the loop used."""
    p = _pacer()
    for key in range(10):
        p.report(key, 0.0, 0.0002, 0.00015)
    for _ in range(30):  # three seconds, every tick half an interval late
        clock.wall += 0.1
        for _ in range(3):
            for key in range(10):
                clock.cpu += 0.00045  # frame, overhead and training: what it costs
                p.report(key, 0.00015, 0.0002, 0.00015, late_s=0.5 / 30)
    for key in range(10):
        assert p.fps(key) == 30 and p.budget(key) == pytest.approx(0.00015)


def test_pacer_measures_the_overhead_outside_the_streams(clock: Clock) -> None:
    p = Pacer(max_fps=30, min_fps=2, cpu_share=0.9, steady_fps=10)
    for _ in range(20):  # one second: 1000 frames, 0.3 ms each in the streams, 0.5 ms in all
        for key in range(1000):
            clock.cpu += 0.0005
            clock.wall += 0.001
            p.report(key % 100, 0.0001, 0.0002, 0.0001)
    assert p.overhead == pytest.approx(0.0002, rel=0.01)
    # All of it fits at 0.9 / (100 x 0.5 ms) = 18 frames/s (a little more if training per
    # frame is shortened, within 10 % of its throughput).
    assert 18 * 0.99 <= p.fps(0) <= 18 * 1.05
