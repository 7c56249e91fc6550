"""Slow work off the event loop: a small thread pool with a bounded queue.

Building a run from a large CSV takes most of a second, and a large stateless backprop
answer 100 ms; on the event loop either would stall every stream. They run here instead,
in :data:`THREADS` worker thread(s): a flood of such requests waits in a queue of at most
:data:`MAX_WAITING` (more are refused with :class:`WorkersBusy`, a 503 with
``Retry-After``) instead of multiplying. A worker holding the GIL in pure Python gives the
loop its turn every ``sys.getswitchinterval()`` (5 ms), so the loop's stalls stay that short.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

THREADS = 1  # two cores: one for the event loop, one for this
MAX_WAITING = 16

P = ParamSpec("P")
T = TypeVar("T")


class WorkersBusy(RuntimeError):
    """Too many slow requests are waiting already."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"the server is busy with {MAX_WAITING} slow requests (building runs, backprop); "
            "try again in a moment"
        )
        self.retry_after = retry_after


class Workers:
    def __init__(self, threads: int = THREADS, max_waiting: int = MAX_WAITING) -> None:
        self.threads = threads
        self._pool: ThreadPoolExecutor | None = None  # made on first use, after a shutdown too
        self.max_waiting = max_waiting
        self.waiting = 0  # submitted and not finished

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``fn(*args, **kwargs)`` in a worker thread; :class:`WorkersBusy` if the queue is
        full. The caller must not touch what ``fn`` mutates until it returns."""
        if self.waiting >= self.max_waiting:
            raise WorkersBusy(retry_after=1)
        self.waiting += 1
        try:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="bpv-work")
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._pool, functools.partial(fn, *args, **kwargs))
        finally:
            self.waiting -= 1

    def shutdown(self) -> None:
        """At the server's end (its lifespan): queued work is dropped."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
