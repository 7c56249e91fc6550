"""Training many steps without stalling the event loop.

The fast path runs on the loop in chunks of about 5 ms, with an ``await`` between chunks:
other clients keep being served, and a cancelled stream stops within one chunk. (A W2
frame of 10 steps is well under a millisecond; 100,000 steps of W1 take about a second.)
A time budget stops training early: a playing stream trains at most its share of a frame
interval (:meth:`app.runs.pacer.Pacer.budget`), and always at least one step. Budgets, chunks
and ``run.seconds_per_step`` are CPU time of the loop's thread (``time.thread_time``), as
every cost the pacer shares out is: on a busy machine, wall time would count other
processes' turns on the core as this run's steps, and its students would be given fewer.

Between chunks, training also stops when the run is deleted or evicted (``run.closed``),
when ``cancel`` is set (a REST client disconnected), or at ``deadline`` (a REST request's
time cap, ``max_request_s``); :attr:`Trained.stopped_by` says which. While it trains, the
run's :class:`~app.runs.run.Job` says how far it got (a busy run's 409 quotes it).

A REST request's training (:func:`train_paced`) is paced like a stream at "max" speed: it
trains for the budget the pacer gives it, then waits for its next slot, so it gets a fair
share of the core by its cost, as every playing stream does, and not all of it.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass

from app.runs.pacer import Pacer
from app.runs.run import Job, Run

CHUNK_BUDGET_S = 0.005
_FIRST_CHUNK = 16


@dataclass
class Trained:
    steps: int = 0
    # CPU time spent training (the loop thread's, in the chunks only: not the other work the
    # loop did between them, nor a busy machine's preemptions)
    seconds: float = 0.0
    # "steps" (all done, or the time budget), "diverged", "time_cap", "deleted", "cancelled"
    stopped_by: str = "steps"


async def train(
    run: Run,
    steps: int,
    budget_s: float = math.inf,
    *,
    deadline: float = math.inf,
    cancel: asyncio.Event | None = None,
) -> Trained:
    """Run up to ``steps`` steps, for about ``budget_s`` seconds of CPU at most (at least one
    step); stops early if the run diverges, is closed, ``cancel`` is set, or at ``deadline``
    (``time.monotonic()``)."""
    out = Trained()
    job = None
    if run.job is None:
        job = run.job = Job(f"training {steps} steps", total=steps)
    try:
        await _train(run, steps, budget_s, deadline, cancel, out, job)
    finally:
        if job is not None and run.job is job:
            run.job = None
    return out


async def _train(
    run: Run,
    steps: int,
    budget_s: float,
    deadline: float,
    cancel: asyncio.Event | None,
    out: Trained,
    job: Job | None,  # this call's own job, to keep up to date (None: the caller's)
) -> None:
    per_step = run.seconds_per_step  # the last measurement, 0.0 before the first
    chunk = _chunk(per_step, budget_s) if per_step > 0.0 else _FIRST_CHUNK
    while out.steps < steps:
        if run.closed is not None:
            out.stopped_by = "deleted"
            return
        if cancel is not None and cancel.is_set():
            out.stopped_by = "cancelled"
            return
        if time.monotonic() >= deadline:
            out.stopped_by = "time_cap"
            return
        n = min(chunk, steps - out.steps)
        t0 = time.thread_time()
        k = run.train(n)
        elapsed = time.thread_time() - t0
        out.steps += k
        out.seconds += elapsed
        if job is not None:
            job.done = out.steps
        if k < n or run.state.trainer.status != "ok":
            out.stopped_by = "diverged"
            return
        per_step = run.seconds_per_step = max(elapsed, 1e-9) / n
        left = budget_s - out.seconds
        if left < per_step / 2:
            return
        chunk = min(chunk * 8, _chunk(per_step, left))
        if out.steps < steps:
            await asyncio.sleep(0)


def _chunk(per_step: float, budget_s: float) -> int:
    """Steps of the next chunk: about ``CHUNK_BUDGET_S``, and no more than the budget left."""
    return max(1, int(min(CHUNK_BUDGET_S, budget_s) / per_step + 0.5))


async def train_paced(
    run: Run,
    steps: int,
    pacer: Pacer,
    *,
    deadline: float = math.inf,
    cancel: asyncio.Event | None = None,
) -> Trained:
    """:func:`train` in slots the pacer gives, like a playing stream without frames."""
    out = Trained()
    key = id(out)
    job = run.job = Job(f"training {steps} steps", total=steps)
    interval = 0.0
    next_at = time.monotonic()
    try:
        while out.steps < steps:
            if interval:
                next_at = max(next_at + interval, time.monotonic() - interval)
                await _wait_until(min(next_at, deadline), run, cancel)
            part = await train(
                run, steps - out.steps, pacer.budget(key), deadline=deadline, cancel=cancel
            )
            out.steps += part.steps
            out.seconds += part.seconds
            job.done = out.steps
            request = (steps - out.steps) * run.seconds_per_step
            pacer.report(key, part.seconds, 0.0, request)
            if part.stopped_by != "steps":
                out.stopped_by = part.stopped_by
                break
            interval = 1.0 / pacer.fps(key)
    finally:
        pacer.leave(key)
        if run.job is job:
            run.job = None
    return out


async def _wait_until(when: float, run: Run, cancel: asyncio.Event | None) -> None:
    """Sleep until ``when`` (``time.monotonic()``), waking early, within 0.1 s, if the run
    is closed or ``cancel`` is set (the next :func:`train` call then stops at once)."""
    while (left := when - time.monotonic()) > 0.0:
        if run.closed is not None or (cancel is not None and cancel.is_set()):
            return
        await asyncio.sleep(min(left, 0.1))
