"""The run store, the pacer, chunked training and the latest-frame sender."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from typing import Any

import pytest

from app.api.models import RunConfig
from app.runs import driver
from app.runs.pacer import Pacer
from app.runs.run import Run, RunDiverged
from app.runs.store import RunNotFound, RunStore, StoreFull
from app.runs.stream import LatestFrameSender, SlowClient
from app.settings import Settings


def test_store_caps_evicts_and_says_when_to_retry() -> None:
    store = RunStore(replace(Settings(), max_runs=2, idle_timeout_s=100))
    a = store.create(RunConfig())
    b = store.create(RunConfig())
    with pytest.raises(StoreFull) as full:
        store.create(RunConfig())
    assert 1 <= full.value.retry_after <= 100
    now = time.monotonic()
    a.last_used = now - 150
    b.session = object()  # type: ignore[assignment]  # a streamed run is never idle
    b.last_used = now - 150
    assert store.retry_after(now) == 1
    assert store.evict_idle(now) == 1
    with pytest.raises(RunNotFound):
        store.get(a.id)
    assert store.get(b.id) is b and len(store) == 1
    store.create(RunConfig())  # room again
    with pytest.raises(RunNotFound):
        store.delete("nope")


def _pacer(overhead: float = 0.0001) -> Pacer:
    p = Pacer(max_fps=30, min_fps=2, cpu_share=0.9, steady_fps=10)  # whatever the defaults
    p.overhead = overhead  # what the process spends per frame outside the streams' code
    return p


def test_a_student_alone_trains_for_most_of_each_frame_interval() -> None:
    """Asking for more steps than fit ("max" speed): 30 frames/s, training fills the rest."""
    p = _pacer()
    assert p.fps() == 30
    p.report(1, 0.0, 0.001, 100.0)
    assert p.fps() == 30
    assert p.budget() == pytest.approx(0.9 / 30 - 0.0011)
    assert p.budget() * 30 > 0.85  # of the wall time spent training
    p.leave(1)
    assert p.fps() == 30 and p.playing == 0


def test_a_class_of_light_students_gets_the_cap_and_all_it_asks() -> None:
    p = _pacer()
    for key in range(30):
        p.report(key, 0.0, 0.0002, 0.0002)  # 10 W1 steps a frame
    assert p.fps() == 30
    assert p.budget() >= 0.0002


def test_under_load_the_rate_holds_near_steady_fps_and_training_is_shared() -> None:
    p = _pacer(0.00012)
    for key in range(200):
        p.report(key, 0.0, 0.00015, 0.00015)
    # Everything fits at 0.9 / (200 x 0.42 ms) = 10.7 frames/s; a slightly higher rate
    # with a little less training per frame is allowed (within 10 % of the throughput).
    assert 10.7 <= p.fps() <= 12.0
    assert p.fps() * p.budget() >= 0.9 * 10.7 * 0.00015 * 0.99
    for key in range(200, 300):
        p.report(key, 0.0, 0.00015, 100.0)  # 100 more at "max" speed
    assert p.fps() >= 10 and p.budget() > 0.0  # everyone trains, the display stays smooth


def test_one_fast_forward_leaves_the_others_what_they_ask() -> None:
    p = _pacer()
    for key in range(1, 30):
        p.report(key, 0.0, 0.0002, 0.0002)
    p.report(0, 0.0, 0.0002, 100.0)
    assert p.fps() == 30
    others = 29 * 0.0002 + 30 * 0.0003
    assert p.budget() == pytest.approx(0.9 / 30 - others)  # the level: what is left over


def test_streams_that_want_different_rates_get_the_fairest_one() -> None:
    """Half the class asks for little, half for a lot: no one rate pays everyone 90 % of
    their best, and the rate must not then fall back to the cap (which starves them all)."""
    p = _pacer()
    for key in range(100):
        p.report(key, 0.0, 0.0002, 0.0001 if key % 2 else 0.002)
    assert p.fps() < 25 and p.budget() > 0.0001
    assert p.fps() * p.budget() > 0.5 * 0.9 / 100  # at least half an even share of training


def test_the_rate_drops_below_steady_only_when_frames_alone_do_not_fit() -> None:
    p = _pacer()
    for key in range(400):
        p.report(key, 0.0, 0.0002, 0.0002)
    assert p.fps() == pytest.approx(0.9 / (400 * 0.0003))  # 7.5 frames/s
    assert p.budget() == pytest.approx(0.0, abs=1e-12)  # one step a frame
    p.report(1000, 0.0, 10.0, 0.0)
    assert p.fps() == 2  # never below min_fps


def test_pacer_measures_the_overhead_outside_the_streams(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = {"cpu": 0.0, "wall": 0.0}
    monkeypatch.setattr("app.runs.pacer.time.process_time", lambda: clock["cpu"])
    monkeypatch.setattr("app.runs.pacer.time.monotonic", lambda: clock["wall"])
    p = Pacer(max_fps=30, min_fps=2, cpu_share=0.9, steady_fps=10)
    for _ in range(20):  # one second: 1000 frames, 0.3 ms each in the streams, 0.5 ms in all
        for key in range(1000):
            clock["cpu"] += 0.0005
            clock["wall"] += 0.001
            p.report(key % 100, 0.0001, 0.0002, 0.0001)
    assert p.overhead == pytest.approx(0.0002, rel=0.01)
    # All of it fits at 0.9 / (100 x 0.5 ms) = 18 frames/s (a little more if training per
    # frame is shortened, within 10 % of its throughput).
    assert 18 * 0.99 <= p.fps() <= 18 * 1.05


def test_training_stops_at_its_time_budget() -> None:
    run = Run("a", RunConfig(), Settings())
    asyncio.run(driver.train(run, 200))  # measures the speed
    per_step = run.seconds_per_step
    assert per_step > 0
    done = asyncio.run(driver.train(run, 100_000, budget_s=50 * per_step))
    assert 10 <= done.steps <= 250  # about 50 (a noisy machine: timing varies)
    assert asyncio.run(driver.train(run, 100_000, budget_s=0.0)).steps == 1  # always one


def test_chunked_training_gives_the_same_result_as_one_call() -> None:
    a = Run("a", RunConfig(), Settings())
    b = Run("b", RunConfig(), Settings())
    assert asyncio.run(driver.train(a, 5_000)).steps == 5_000
    b.train(5_000)
    assert (a.state.trainer.theta == b.state.trainer.theta).all()


def test_training_a_diverged_run_is_refused() -> None:
    run = Run(
        "a",
        RunConfig(
            dataset="plane",
            hidden_activation="linear",
            learning_rate=10.0,
            init="standard_normal",
            hidden=[8, 8],
        ),
        Settings(),
    )
    asyncio.run(driver.train(run, 1_000))
    assert run.status == "diverged"
    with pytest.raises(RunDiverged):
        run.train(1)


class StuckSocket:
    """A client that stopped reading: send never completes."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send_text(self, text: str) -> None:
        self.sent.append(text)
        if len(self.sent) > 1:
            await asyncio.sleep(3600)


def test_a_client_that_stops_reading_is_dropped() -> None:
    async def scenario() -> tuple[float, StuckSocket, LatestFrameSender]:
        ws = StuckSocket()
        sender = LatestFrameSender(ws, timeout=0.3)  # type: ignore[arg-type]
        task = asyncio.create_task(sender.run())
        watchdog = asyncio.create_task(sender.watch())
        sender.post_frame(b'{"n": 1}')
        await asyncio.sleep(0.01)
        t0 = time.monotonic()
        sender.post_frame(b'{"n": 2}')  # this send never completes
        await asyncio.sleep(0.01)
        for n in range(3, 100):  # newer frames replace the pending one: no queue grows
            sender.post_frame(b'{"n": %d}' % n)
        with pytest.raises(SlowClient):
            await watchdog
        task.cancel()
        return time.monotonic() - t0, ws, sender

    elapsed, ws, sender = asyncio.run(scenario())
    assert 0.3 <= elapsed < 1.0
    assert ws.sent == ['{"n": 1}', '{"n": 2}']
    assert sender.frame is not None and sender.frame == b'{"n": 99}'


def test_controls_go_before_the_latest_frame() -> None:
    class Recorder:
        def __init__(self) -> None:
            self.sent: list[Any] = []

        async def send_text(self, text: str) -> None:
            self.sent.append(text)

    async def scenario() -> list[Any]:
        ws = Recorder()
        sender = LatestFrameSender(ws, timeout=1)  # type: ignore[arg-type]
        sender.post_frame(b"old")
        sender.post_control({"type": "error", "detail": "x"})
        sender.post_frame(b"rebuilt-frame", keep=True)  # drops "old", is never replaced
        sender.post_frame(b"new")
        task = asyncio.create_task(sender.run())
        await asyncio.sleep(0.05)
        task.cancel()
        return ws.sent

    assert asyncio.run(scenario()) == ['{"type":"error","detail":"x"}', "rebuilt-frame", "new"]
