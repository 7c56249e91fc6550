"""Training many steps without stalling the event loop.

The fast path runs on the loop in chunks of about 5 ms, with an ``await`` between chunks:
other clients keep being served, and a cancelled stream stops within one chunk. (A W2
frame of 10 steps is well under a millisecond; 100,000 steps of W1 take about a second.)
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from app.runs.run import Run

CHUNK_BUDGET_S = 0.005
_FIRST_CHUNK = 16


@dataclass
class Trained:
    steps: int = 0
    seconds: float = 0.0  # time spent training, without the pauses between chunks


async def train(run: Run, steps: int) -> Trained:
    """Run up to ``steps`` steps; stops early if the run diverges."""
    out, chunk = Trained(), _FIRST_CHUNK
    while out.steps < steps:
        n = min(chunk, steps - out.steps)
        t0 = time.perf_counter()
        k = run.train(n)
        elapsed = time.perf_counter() - t0
        out.steps += k
        out.seconds += elapsed
        if k < n or run.state.trainer.status != "ok":
            break
        chunk = max(1, min(chunk * 8, int(n * CHUNK_BUDGET_S / max(elapsed, 1e-7))))
        if out.steps < steps:
            await asyncio.sleep(0)
    return out
