"""Slow work off the event loop: a small thread pool with a bounded queue.

Building a run from a large CSV takes up to a tenth of a second (a 1,500 × 65 CSV, its plain
lines matched by one regex each: most of a second when every cell was checked in Python), a
large stateless backprop answer 100 ms, and advice tried on a diverged or saturated run
(app/runs/insight.py) up to a second per learning rate; on the event loop any of them would
stall every stream. They run here instead, in one worker thread, one job at a time and in
order: a flood of such requests waits in a queue of at most :data:`MAX_WAITING` (more are
refused with :class:`WorkersBusy`, a 503 with ``Retry-After``) instead of multiplying. A
worker holding the GIL in pure Python gives the loop its turn every
``sys.getswitchinterval()`` (5 ms), so the loop's stalls stay that short.

But a busy worker still halves what the loop gets done: each time the loop waits for a socket
it gives up the GIL and must wait up to a switch interval to have it back. So while anyone
is streaming (``contended()``), the workers keep to a **duty cycle**: after a job that took
``d`` seconds, the next one starts no sooner than ``d · (1 − WORK_SHARE) / WORK_SHARE``
later. A flood of slow requests then slows itself (its queue waits), and the streaming
class keeps most of its frame rate; nobody streaming, the work runs back to back.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

MAX_WAITING = 16
# Of the time, at most, while streams play. A CSV PATCH loop and a backprop flood
# (tests/abuse/test_event_loop.py, 5 "on" windows a run, 2 runs each, the machine at 60-70 %
# CPU pressure from other work) left ten streaming students a median 0.82 and 0.77 of their
# frame rate at 0.25, at the edge of the 0.8 the class is promised, and 0.88 and 0.91 at
# 0.15. Then the CSV parse, 250-350 ms of Python holding the GIL, became one regex match a
# line (40-80 ms): ten runs of that test, each of its "on" windows at 0.93-1.07 (before: 2 of
# 5 runs failed, windows down to 0.67). A lone CSV build still starts at once: only the next
# slow job waits (5.7 times the last one's length).
WORK_SHARE = 0.15

P = ParamSpec("P")
T = TypeVar("T")


def _timed(took: list[float], fn: Callable[..., T], args: Any, kwargs: Any) -> T:
    t0 = time.perf_counter()
    try:
        return fn(*args, **kwargs)
    finally:
        took[0] = time.perf_counter() - t0


class WorkersBusy(RuntimeError):
    """Too many slow requests are waiting already."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"the server is busy with {MAX_WAITING} slow requests (building runs, backprop, "
            "advice); "
            "try again in a moment"
        )
        self.retry_after = retry_after


class Workers:
    def __init__(
        self,
        max_waiting: int = MAX_WAITING,
        contended: Callable[[], bool] = lambda: False,
        share: float = WORK_SHARE,
    ) -> None:
        self._pool: ThreadPoolExecutor | None = None  # made on first use, after a shutdown too
        self.max_waiting = max_waiting
        self.waiting = 0  # submitted and not finished
        self.contended = contended
        self.share = share
        self._turn: asyncio.Lock | None = None  # one job starts at a time, in order
        self._free_at = 0.0  # loop.time() before which no job starts (the duty cycle)
        self._running: asyncio.Future[Any] | None = None  # the job started last

    def _ended(self, took: float, now: float) -> None:
        if self.contended():
            self._free_at = now + took * (1.0 - self.share) / self.share

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``fn(*args, **kwargs)`` in a worker thread; :class:`WorkersBusy` if the queue is
        full. The caller must not touch what ``fn`` mutates until it returns."""
        if self.waiting >= self.max_waiting:
            raise WorkersBusy(retry_after=1)
        self.waiting += 1
        try:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(1, thread_name_prefix="bpv-work")
            if self._turn is None:
                self._turn = asyncio.Lock()
            loop = asyncio.get_running_loop()
            async with self._turn:  # jobs start in order, one after the other's end
                if self._running is not None and not self._running.done():
                    await asyncio.wait({self._running})
                if (rest := self._free_at - loop.time()) > 0.0:
                    await asyncio.sleep(rest)
                took = [0.0]  # measured in the thread: the job's own time
                job = loop.run_in_executor(self._pool, _timed, took, fn, args, kwargs)
                self._running = job
                job.add_done_callback(lambda _: self._ended(took[0], loop.time()))
            # Shielded: a caller that leaves (a client hung up) does not cancel the job the
            # next one waits for; it ends in its thread and is charged as it ends.
            return await asyncio.shield(job)
        finally:
            self.waiting -= 1

    def shutdown(self) -> None:
        """At the server's end (its lifespan): queued work is dropped."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
