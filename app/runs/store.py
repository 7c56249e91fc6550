"""The live runs: a capped dictionary with idle eviction and memory budgets.

A run is idle when no stream drives it, no request is working on it, and no request has
changed it for ``idle_timeout_s`` (JupyterHub's culler uses 600 s). Reading a run (GET)
does not count: a script that only polls cannot keep runs alive, and the ``Retry-After``
of a full server comes true.

A new run is refused when the server holds ``max_runs`` runs (:class:`StoreFull`), when its
client (peer address) holds ``max_runs_per_client`` runs or its runs' memory estimates would
go over ``client_memory_mb`` (:class:`ClientFull`), or when its memory estimate would take
the live runs' estimates over ``memory_mb`` (:class:`MemoryFull`); each carries a
``retry_after`` in seconds: when the stalest idle run that would make room will be evicted.
A config whose own estimate is over ``run_memory_mb`` is a
:class:`~app.runs.config.ConfigError` naming the field.

Every count here is this process's: ``max_runs`` and ``memory_mb`` guard this process's
memory, so they stay per process with any number of workers. With Redis
(:class:`~app.runs.redis_store.RedisRunStore`) the per-client caps are counted across every
worker as well (:mod:`app.runs.client_ledger`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import secrets
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable

from app.runs import budget
from app.runs.config import ConfigError, check_caps
from app.runs.experiment import Experiment
from app.runs.run import Run
from app.runs.state import RunState, build
from app.settings import Settings

log = logging.getLogger(__name__)


class RunNotFound(KeyError):
    pass


class StoreFull(RuntimeError):
    """The server holds ``max_runs`` runs. ``reason`` names the limit for the page (the 429's
    ``reason``): server_full, client_runs, client_memory or server_memory."""

    reason = "server_full"

    def __init__(self, retry_after: int, message: str = "", reason: str | None = None) -> None:
        super().__init__(message or "the server is full: too many live runs; try again later")
        self.retry_after = retry_after
        if reason is not None:
            self.reason = reason


class ClientFull(StoreFull):
    """This client holds ``max_runs_per_client`` runs (or ``client_memory_mb``) already."""

    reason = "client_runs"


class MemoryFull(StoreFull):
    """The live runs' memory estimates would go over ``memory_mb``."""

    reason = "server_memory"


def client_runs_full(mine: int, limit: int, retry_after: int) -> ClientFull:
    """The refusal of a client that holds ``mine`` live runs (``limit`` at most)."""
    return ClientFull(
        retry_after,
        f"you have {mine} live runs, the most one client may have "
        f"(max_runs_per_client = {limit}): delete one, or wait until one is idle and evicted",
    )


def client_memory_full(total: int, limit_mb: float, retry_after: int) -> ClientFull:
    """The refusal of a client whose runs would need ``total`` bytes (``limit_mb`` at most)."""
    return ClientFull(
        retry_after,
        f"your runs would need about {total / budget.MB:.0f} MB, more than one client may "
        f"use (client_memory_mb = {limit_mb:g}): delete a run, or ask for a smaller one",
        reason="client_memory",
    )


class RunStore:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._runs: dict[str, Run] = {}
        self._reserved_bytes = 0  # runs being built (in a worker thread)
        self._reserved_runs: Counter[str] = Counter()
        self._reserved_by: Counter[str] = Counter()  # their bytes, by client
        self._transient = budget.transient_reserve(settings)

    def __len__(self) -> int:
        return len(self._runs)

    def runs(self) -> Iterable[Run]:
        return self._runs.values()

    # -- memory -----------------------------------------------------------------------
    @property
    def used_bytes(self) -> int:
        """The live runs' memory estimates, and those of runs being built."""
        return sum(r.bytes for r in self._runs.values()) + self._reserved_bytes

    def estimate(self, config: Experiment) -> int:
        """``config``'s memory estimate; a ConfigError naming the field if it is over the
        per-run budget."""
        est = budget.estimate(config, self.settings)
        limit = self.settings.run_memory_mb
        if est.mb > limit:
            field, why = budget.culprit(config, est)
            raise ConfigError(
                (field,),
                f"this run would need about {est.mb:.0f} MB, mostly {why}; "
                f"at most {limit:g} MB per run (run_memory_mb)",
            )
        return est.total

    def _check_memory(self, extra: int, others: Callable[[Run], bool]) -> None:
        """Room for ``extra`` more bytes, after evicting idle runs if needed: the runs'
        held bytes, and once the largest grid pass any run can make (grids are computed one
        at a time)."""
        limit = self.settings.memory_mb * budget.MB - self._transient
        if self.used_bytes + extra <= limit:
            return
        self.evict_idle()
        used = self.used_bytes
        if used + extra <= limit:
            return
        raise MemoryFull(
            self.retry_after(only=others),
            f"the server's memory budget is in use: this needs about {extra / budget.MB:.0f} "
            f"MB more and {used / budget.MB:.0f} of {self.settings.memory_mb:g} MB are taken "
            "(memory_mb); try again later, or ask for a smaller run",
        )

    def client_bytes(self, client: str) -> int:
        held = sum(r.bytes for r in self._runs.values() if r.owner == client)
        return held + self._reserved_by[client]

    def _check_client_memory(self, client: str, extra: int, others: Callable[[Run], bool]) -> None:
        limit = self.settings.client_memory_mb
        used = self.client_bytes(client)
        if used + extra > limit * budget.MB:
            retry = self.retry_after(only=lambda r: r.owner == client and others(r))
            raise client_memory_full(used + extra, limit, retry)

    def admit_change(self, run: Run, config: Experiment) -> int:
        """A run's config change: its new estimate, or ConfigError / ClientFull /
        MemoryFull."""
        size = self.estimate(config)
        if size > run.bytes:
            self._check_client_memory(run.owner, size - run.bytes, lambda r: r is not run)
            self._check_memory(size - run.bytes, lambda r: r is not run)
        return size

    # -- creating ---------------------------------------------------------------------
    def _admit(self, config: Experiment, client: str) -> int:
        s = self.settings
        check_caps(config, s)  # a cap names its own field and limit, before any estimate
        size = self.estimate(config)
        if len(self._runs) + self._reserved_runs.total() >= s.max_runs:
            self.evict_idle()
            if len(self._runs) + self._reserved_runs.total() >= s.max_runs:
                raise StoreFull(self.retry_after())
        mine = self._owned(client)
        if mine >= s.max_runs_per_client:
            self.evict_idle()
            mine = self._owned(client)
            if mine >= s.max_runs_per_client:
                retry = self.retry_after(only=lambda r: r.owner == client)
                raise client_runs_full(mine, s.max_runs_per_client, retry)
        self._check_client_memory(client, size, lambda r: True)
        self._check_memory(size, lambda r: True)
        return size

    def _owned(self, client: str) -> int:
        held = sum(1 for r in self._runs.values() if r.owner == client)
        return held + self._reserved_runs[client]

    def create(self, config: Experiment, client: str = "") -> Run:
        """Build (on this thread) and register a run; raises ConfigError (bad config),
        StoreFull, ClientFull or MemoryFull."""
        size = self._admit(config, client)
        return self._add(config, build(config, self.settings), client, size)

    async def create_async(
        self,
        config: Experiment,
        client: str,
        build_off_loop: Callable[[Experiment], Awaitable[RunState]],
        run_id: str | None = None,
    ) -> Run:
        """As :meth:`create`, the build awaited from ``build_off_loop`` (a worker thread);
        the run's place and memory are reserved meanwhile. ``run_id``: a run coming back
        (from a checkpoint) keeps its id; a new run gets a fresh one."""
        size = self._admit(config, client)
        self._reserved_bytes += size
        self._reserved_runs[client] += 1
        self._reserved_by[client] += size
        try:
            state = await build_off_loop(config)
        finally:
            self._reserved_bytes -= size
            self._reserved_runs[client] -= 1
            self._reserved_by[client] -= size
        return self._add(config, state, client, size, run_id)

    def _add(
        self,
        config: Experiment,
        state: RunState,
        client: str,
        size: int,
        run_id: str | None = None,
    ) -> Run:
        run_id = run_id or secrets.token_urlsafe(12)
        run = Run(run_id, config, self.settings, state=state, owner=client)
        run.bytes = size
        run.admit = self.admit_change
        self._runs[run_id] = run
        return run

    # -- finding and ending -------------------------------------------------------------
    def get(self, run_id: str) -> Run:
        """The run (reading it does not keep it alive: see :meth:`Run.touch`)."""
        run = self._runs.get(run_id)
        if run is None:
            raise RunNotFound(run_id)
        return run

    def delete(self, run_id: str) -> None:
        run = self._runs.pop(run_id, None)
        if run is None:
            raise RunNotFound(run_id)
        self._end(run, "the run was deleted")

    @staticmethod
    def _end(run: Run, reason: str) -> None:
        run.close(reason)
        session = run.session
        if session is not None:
            session.stop(reason)

    def _evictable(self, run: Run) -> bool:
        return run.session is None and not run.busy

    def evict_idle(self, now: float | None = None) -> int:
        """Drop every run that no stream drives, no request works on, and nobody changed
        within the timeout."""
        now = time.monotonic() if now is None else now
        limit = self.settings.idle_timeout_s
        stale = [
            rid
            for rid, run in self._runs.items()
            if self._evictable(run) and now - run.last_used > limit
        ]
        for rid in stale:
            self._end(self._runs.pop(rid), "the run was evicted (idle)")
        if stale:
            log.info("evicted %d idle runs, %d left", len(stale), len(self._runs))
        return len(stale)

    def retry_after(
        self, now: float | None = None, only: Callable[[Run], bool] | None = None
    ) -> int:
        """Seconds until the stalest idle run (of those ``only`` accepts) is evicted (at
        least 1; the idle timeout if none is idle now)."""
        now = time.monotonic() if now is None else now
        limit = self.settings.idle_timeout_s
        waits = [
            run.last_used + limit - now
            for run in self._runs.values()
            if self._evictable(run) and (only is None or only(run))
        ]
        wait = min(waits) if waits else limit
        return max(1, math.ceil(wait))

    async def evict_forever(self) -> None:
        """The background task: evict idle runs every so often."""
        period = max(0.05, min(30.0, self.settings.idle_timeout_s / 4))
        while True:
            await asyncio.sleep(period)
            with contextlib.suppress(Exception):
                self.evict_idle()
