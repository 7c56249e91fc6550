"""Slow work off the event loop (:mod:`app.runs.work`): in order, bounded, and kept to a
duty cycle while streams play, so a flood of slow requests slows itself and not the class."""

from __future__ import annotations

import asyncio
import time

import pytest

from app.runs.work import Workers, WorkersBusy


def _busy(seconds: float) -> float:
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        pass
    return time.perf_counter()


async def _starts(workers: Workers, n: int, seconds: float) -> list[float]:
    """When each of ``n`` jobs of ``seconds`` ended, submitted all at once."""
    return list(await asyncio.gather(*(workers.run(_busy, seconds) for _ in range(n))))


def test_without_streams_jobs_run_back_to_back(monkeypatch: pytest.MonkeyPatch) -> None:
    rests: list[float] = []
    real_sleep = asyncio.sleep

    async def spy(delay: float) -> None:
        rests.append(delay)
        await real_sleep(delay)

    monkeypatch.setattr("app.runs.work.asyncio.sleep", spy)
    asyncio.run(_starts(Workers(contended=lambda: False), 4, 0.05))
    assert rests == []  # no job waited for a duty cycle
    monkeypatch.setattr("app.runs.work.asyncio.sleep", spy)
    asyncio.run(_starts(Workers(contended=lambda: True, share=0.25), 2, 0.05))
    assert len(rests) == 1 and rests[0] >= 3 * 0.05 - 0.01  # the spy sees the duty cycle


def test_while_streams_play_the_work_keeps_to_its_share_of_the_time() -> None:
    workers = Workers(contended=lambda: True, share=0.25)
    ends = asyncio.run(_starts(workers, 4, 0.05))
    # Each 50 ms job is followed by 150 ms without work: the last ends >= 3 x 200 ms later.
    assert ends[-1] - ends[0] >= 3 * 0.2 - 0.01
    assert ends == sorted(ends)  # in the order asked


def test_a_caller_that_leaves_does_not_cut_the_duty_cycle_short() -> None:
    ended: list[float] = []

    def first_job() -> None:
        ended.append(_busy(0.1))

    async def scenario() -> float:
        workers = Workers(contended=lambda: True, share=0.25)
        first = asyncio.ensure_future(workers.run(first_job))
        await asyncio.sleep(0.02)
        first.cancel()  # the client hung up; its job goes on in the thread
        end = await workers.run(_busy, 0.001)
        return end - ended[0]

    # The next job waits for the first (>= 100 ms) to end, and then 3 x 100 ms of rest.
    assert asyncio.run(scenario()) >= 0.3 - 0.01


def test_a_full_queue_is_refused_at_once() -> None:
    async def scenario() -> None:
        workers = Workers(max_waiting=2, contended=lambda: False)
        jobs = [asyncio.ensure_future(workers.run(_busy, 0.05)) for _ in range(2)]
        await asyncio.sleep(0)
        with pytest.raises(WorkersBusy):
            await workers.run(_busy, 0.05)
        await asyncio.gather(*jobs)

    asyncio.run(scenario())
