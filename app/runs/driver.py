"""Training many steps without stalling the event loop.

The fast path runs on the loop in chunks of about 5 ms, with an ``await`` between chunks:
other clients keep being served, and a cancelled stream stops within one chunk. (A W2
frame of 10 steps is well under a millisecond; 100,000 steps of W1 take about a second.)
A time budget stops training early: a playing stream trains at most its share of a frame
interval (:meth:`app.runs.pacer.Pacer.budget`), and always at least one step.

Between chunks, training also stops when the run is deleted or evicted (``run.closed``),
when ``cancel`` is set (a REST client disconnected), or at ``deadline`` (a REST request's
time cap, ``max_request_s``); :attr:`Trained.stopped_by` says which. While it trains, the
run's :class:`~app.runs.run.Job` says how far it got (a busy run's 409 quotes it).
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass

from app.runs.run import Job, Run

CHUNK_BUDGET_S = 0.005
_FIRST_CHUNK = 16


@dataclass
class Trained:
    steps: int = 0
    seconds: float = 0.0  # time spent training, without the pauses between chunks
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
    """Run up to ``steps`` steps, for about ``budget_s`` seconds at most (at least one step);
    stops early if the run diverges, is closed, ``cancel`` is set, or at ``deadline``
    (``time.monotonic()``)."""
    out = Trained()
    job = None
    if run.job is None:
        job = run.job = Job(f"training {steps} steps", total=steps)
    try:
        await _train(run, steps, budget_s, deadline, cancel, out, run.job)
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
    job: Job,
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
        t0 = time.perf_counter()
        k = run.train(n)
        elapsed = time.perf_counter() - t0
        out.steps += k
        out.seconds += elapsed
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
