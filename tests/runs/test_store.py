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


def test_pacer_shares_one_core() -> None:
    p = Pacer(max_fps=30, min_fps=2, cpu_share=0.8)  # explicit, whatever the default
    p.overhead = 0.0002  # what the process spends per frame outside the streams' code
    assert p.fps() == 30
    p.report(1, 0.0008)
    assert p.fps() == 30  # one cheap stream: the cap
    for key in range(2, 201):
        p.report(key, 0.0008)
    assert p.fps() == pytest.approx(0.8 / (200 * 0.001))  # 4 frames/s each
    for key in range(1, 201):
        p.leave(key)
    assert p.fps() == 30 and p.playing == 0
    p.report(1, 10.0)
    assert p.fps() == 2  # never below min_fps


def test_pacer_measures_the_overhead_outside_the_streams(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = {"cpu": 0.0, "wall": 0.0}
    monkeypatch.setattr("app.runs.pacer.time.process_time", lambda: clock["cpu"])
    monkeypatch.setattr("app.runs.pacer.time.monotonic", lambda: clock["wall"])
    p = Pacer(max_fps=30, min_fps=2, cpu_share=0.9)
    for _ in range(20):  # one second: 1000 frames, 0.3 ms each in the streams, 0.5 ms in all
        for key in range(1000):
            clock["cpu"] += 0.0005
            clock["wall"] += 0.001
            p.report(key % 100, 0.0003)
    assert p.overhead == pytest.approx(0.0002, rel=0.01)
    assert p.fps() == pytest.approx(0.9 / (100 * 0.0005), rel=0.01)


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
