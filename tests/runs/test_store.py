"""The run store, chunked training and the latest-frame sender (the pacer: test_pacer.py)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from typing import Any

import pytest

from app.api.stream_session import LatestFrameSender, SlowClient
from app.runs import driver
from app.runs.experiment import Experiment
from app.runs.pacer import Pacer
from app.runs.run import Run, RunDiverged
from app.runs.store import RunNotFound, RunStore, StoreFull
from app.settings import Settings


def test_store_caps_evicts_and_says_when_to_retry() -> None:
    store = RunStore(replace(Settings(), max_runs=2, idle_timeout_s=100))
    a = store.create(Experiment())
    b = store.create(Experiment())
    with pytest.raises(StoreFull) as full:
        store.create(Experiment())
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
    store.create(Experiment())  # room again
    with pytest.raises(RunNotFound):
        store.delete("nope")


def test_training_stops_at_its_time_budget() -> None:
    run = Run("a", Experiment(), Settings())
    asyncio.run(driver.train(run, 200))  # measures the speed
    per_step = run.seconds_per_step
    assert per_step > 0
    done = asyncio.run(driver.train(run, 100_000, budget_s=50 * per_step))
    assert 10 <= done.steps <= 250  # about 50 (a noisy machine: timing varies)
    assert asyncio.run(driver.train(run, 100_000, budget_s=0.0)).steps == 1  # always one


def test_chunked_training_gives_the_same_result_as_one_call() -> None:
    a = Run("a", Experiment(), Settings())
    b = Run("b", Experiment(), Settings())
    assert asyncio.run(driver.train(a, 5_000)).steps == 5_000
    b.train(5_000)
    assert (a.state.trainer.theta == b.state.trainer.theta).all()


def test_training_a_diverged_run_is_refused() -> None:
    run = Run(
        "a",
        Experiment(
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


def test_training_stops_at_the_deadline_a_cancel_or_a_delete() -> None:
    big = Experiment(hidden=[8] * 6, batch_size=64)

    async def deadline() -> tuple[driver.Trained, float]:
        run = Run("a", big, Settings())
        t0 = time.monotonic()
        done = await driver.train(run, 10_000_000, deadline=t0 + 0.3)
        return done, time.monotonic() - t0

    done, took = asyncio.run(deadline())
    assert done.stopped_by == "time_cap" and 0 < done.steps < 10_000_000
    assert 0.3 <= took < 0.8

    async def cancelled_or_deleted(how: str) -> tuple[driver.Trained, float]:
        store = RunStore(Settings())
        run = store.create(big)
        gone = asyncio.Event()
        training = asyncio.create_task(driver.train(run, 10_000_000, cancel=gone))
        await asyncio.sleep(0.2)
        assert run.job is not None and run.job.what == "training 10000000 steps"
        assert 0 < run.job.done < 10_000_000
        t0 = time.monotonic()
        if how == "cancel":
            gone.set()
        else:
            store.delete(run.id)
        done = await training
        assert run.job is None
        return done, time.monotonic() - t0

    done, took = asyncio.run(cancelled_or_deleted("cancel"))
    assert done.stopped_by == "cancelled" and took < 0.1
    done, took = asyncio.run(cancelled_or_deleted("delete"))
    assert done.stopped_by == "deleted" and took < 0.1


def test_a_busy_run_refuses_within_the_wait_and_says_what_it_is_doing() -> None:
    from app.runs.run import BUSY_WAIT_S, RunBusy

    async def scenario() -> tuple[str, float]:
        run = Run("a", Experiment(hidden=[8] * 6, batch_size=64), Settings())

        async def long_step() -> None:
            async with run.claim():
                await driver.train(run, 10_000_000, deadline=time.monotonic() + 2)

        task = asyncio.create_task(long_step())
        await asyncio.sleep(0.2)
        t0 = time.monotonic()
        with pytest.raises(RunBusy) as busy:
            async with run.claim():
                pass
        took = time.monotonic() - t0
        run.close("test over")
        await task
        async with run.claim():  # free again
            pass
        return str(busy.value), took

    message, took = asyncio.run(scenario())
    assert BUSY_WAIT_S <= took < 1.0  # the 1 s a busy run must answer within
    assert "training 10000000 steps (" in message and "% done)" in message


def test_reads_do_not_keep_a_run_alive_and_busy_runs_are_not_evicted() -> None:
    store = RunStore(replace(Settings(), idle_timeout_s=100))
    a, b = store.create(Experiment()), store.create(Experiment())
    now = time.monotonic()
    a.last_used = b.last_used = now - 150
    store.get(a.id)  # a read: no touch
    assert a.last_used == now - 150

    async def hold_b() -> int:
        async with b.lock:
            return store.evict_idle()

    assert asyncio.run(hold_b()) == 1  # a is evicted, b is held by a request
    assert b.closed is None and a.closed == "the run was evicted (idle)"
    with pytest.raises(RunNotFound):
        store.get(a.id)


def test_reset_reuses_the_data_and_gives_the_same_run() -> None:
    run = Run("a", Experiment(dataset="spiral", hidden=[4]), Settings())
    before = run.state
    theta0 = run.state.trainer.theta.copy()
    run.train(100)
    run.reset()
    assert run.state is not before and run.state.dataset is before.dataset
    assert (run.state.trainer.theta == theta0).all() and run.step == 0
    fresh = Run("b", Experiment(dataset="spiral", hidden=[4], seed=1), Settings())
    run.update({"hidden": [4]})  # nothing changed: no rebuild
    assert (fresh.state.x == run.state.x).all()
    run.update({"noise": 0.2})  # new data: drawn again
    assert run.state.dataset is not before.dataset


def test_slow_work_queues_up_to_a_bound_then_is_refused() -> None:
    import threading

    from app.runs.work import Workers, WorkersBusy

    async def scenario() -> tuple[list[int], float]:
        workers = Workers(max_waiting=2)
        gate = threading.Event()

        def slow(n: int) -> int:
            gate.wait(5)
            return n

        first = asyncio.create_task(workers.run(slow, 1))
        second = asyncio.create_task(workers.run(slow, 2))
        await asyncio.sleep(0.05)
        t0 = time.monotonic()
        with pytest.raises(WorkersBusy) as busy:
            await workers.run(slow, 3)
        refused_in = time.monotonic() - t0
        assert busy.value.retry_after >= 1
        gate.set()
        done = [await first, await second, await workers.run(slow, 4)]
        workers.shutdown()
        assert await workers.run(slow, 5) == 5  # made again after a shutdown
        workers.shutdown()
        return done, refused_in

    done, refused_in = asyncio.run(scenario())
    assert done == [1, 2, 4] and refused_in < 0.05


def test_rest_training_takes_a_fair_share_beside_playing_streams() -> None:
    """A REST step is paced like a stream at "max" speed: beside other playing streams it
    trains in slots, not all the time, and it leaves the pacer when it ends."""
    pacer = Pacer(max_fps=30, min_fps=2, cpu_share=0.9, steady_fps=10)

    async def scenario() -> tuple[driver.Trained, float, int]:
        run = Run("a", Experiment(hidden=[8] * 6, batch_size=64), Settings())
        for key in range(20):  # twenty students playing at "max" speed
            pacer.report(key, 0.0, 0.002, 100.0)
        t0 = time.monotonic()
        done = await driver.train_paced(run, 10_000_000, pacer, deadline=t0 + 1.0)
        return done, time.monotonic() - t0, pacer.playing

    done, took, playing = asyncio.run(scenario())
    assert done.stopped_by == "time_cap" and 1.0 <= took < 1.5
    assert done.seconds < 0.5 * took  # trained in its share, not the whole second
    assert playing == 20  # it left the pacer


def test_a_paced_rest_step_stops_within_a_second_even_between_slots() -> None:
    class SlowSlots:
        """A pacer that gives one slot every 2 s (its lowest rate)."""

        def budget(self, key: int) -> float:
            return 0.001

        def fps(self, key: int) -> float:
            return 0.5

        def report(self, *args: Any) -> None:
            pass

        def leave(self, key: int) -> None:
            pass

    async def scenario(how: str) -> tuple[driver.Trained, float]:
        store = RunStore(Settings())
        run = store.create(Experiment(hidden=[8] * 6))
        gone = asyncio.Event()
        start = time.monotonic()
        deadline = start + (0.5 if how == "time" else 60)
        pacer: Any = SlowSlots()
        task = asyncio.create_task(
            driver.train_paced(run, 10_000_000, pacer, deadline=deadline, cancel=gone)
        )
        await asyncio.sleep(0.3)  # the first slot is over: waiting for the next one
        if how == "cancel":
            gone.set()
        elif how == "delete":
            store.delete(run.id)
        done = await task
        return done, time.monotonic() - start

    for how, why in (("cancel", "cancelled"), ("delete", "deleted"), ("time", "time_cap")):
        done, took = asyncio.run(scenario(how))
        assert done.stopped_by == why and 0 < done.steps < 10_000_000
        assert took < 0.9, f"{how}: {took:.2f} s"
