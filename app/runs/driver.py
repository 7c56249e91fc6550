"""Training many steps without stalling the event loop.

The fast path runs on the loop in chunks of about 5 ms, with an ``await`` between chunks:
other clients keep being served, and a cancelled stream stops within one chunk. (A W2
frame of 10 steps is well under a millisecond; 100,000 steps of W1 take about a second.)
A time budget stops training early: a playing stream trains at most its share of a frame
interval (:meth:`app.runs.pacer.Pacer.budget`), and always at least one step.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass

from app.runs.run import Run

CHUNK_BUDGET_S = 0.005
_FIRST_CHUNK = 16


@dataclass
class Trained:
    steps: int = 0
    seconds: float = 0.0  # time spent training, without the pauses between chunks


async def train(run: Run, steps: int, budget_s: float = math.inf) -> Trained:
    """Run up to ``steps`` steps, for about ``budget_s`` seconds at most (at least one step);
    stops early if the run diverges."""
    out = Trained()
    per_step = run.seconds_per_step  # the last measurement, 0.0 before the first
    chunk = _chunk(per_step, budget_s) if per_step > 0.0 else _FIRST_CHUNK
    while out.steps < steps:
        n = min(chunk, steps - out.steps)
        t0 = time.perf_counter()
        k = run.train(n)
        elapsed = time.perf_counter() - t0
        out.steps += k
        out.seconds += elapsed
        if k < n or run.state.trainer.status != "ok":
            break
        per_step = run.seconds_per_step = max(elapsed, 1e-9) / n
        left = budget_s - out.seconds
        if left < per_step / 2:
            break
        chunk = min(chunk * 8, _chunk(per_step, left))
        if out.steps < steps:
            await asyncio.sleep(0)
    return out


def _chunk(per_step: float, budget_s: float) -> int:
    """Steps of the next chunk: about ``CHUNK_BUDGET_S``, and no more than the budget left."""
    return max(1, int(min(CHUNK_BUDGET_S, budget_s) / per_step + 0.5))
