"""The run store, chunked training and the latest-frame sender (the pacer: test_pacer.py)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from typing import Any

import pytest

from app.api.models import RunConfig
from app.runs import driver
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
