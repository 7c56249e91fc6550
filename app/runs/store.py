"""The live runs: a capped dictionary with idle eviction.

A run is idle when no stream drives it and nobody has touched it for ``idle_timeout_s``
(JupyterHub's culler uses 600 s). When the store is full, :class:`StoreFull` carries a
``retry_after`` in seconds: when the stalest idle run will be evicted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import secrets
import time

from app.api.models import RunConfig
from app.runs.run import Run
from app.settings import Settings

log = logging.getLogger(__name__)


class RunNotFound(KeyError):
    pass


class StoreFull(RuntimeError):
    def __init__(self, retry_after: int) -> None:
        super().__init__("the server is full: too many live runs")
        self.retry_after = retry_after


class RunStore:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._runs: dict[str, Run] = {}

    def __len__(self) -> int:
        return len(self._runs)

    def create(self, config: RunConfig) -> Run:
        """Build and register a run; raises ConfigError (bad config) or StoreFull."""
        if len(self._runs) >= self.settings.max_runs:
            self.evict_idle()
            if len(self._runs) >= self.settings.max_runs:
                raise StoreFull(self.retry_after())
        run_id = secrets.token_urlsafe(12)
        run = Run(run_id, config, self.settings)
        self._runs[run_id] = run
        return run

    def get(self, run_id: str) -> Run:
        run = self._runs.get(run_id)
        if run is None:
            raise RunNotFound(run_id)
        run.touch()
        return run

    def delete(self, run_id: str) -> None:
        run = self._runs.pop(run_id, None)
        if run is None:
            raise RunNotFound(run_id)
        run.playing = False
        session = run.session
        if session is not None:
            session.stop("the run was deleted")

    def evict_idle(self, now: float | None = None) -> int:
        """Drop every run that no stream drives and nobody touched within the timeout."""
        now = time.monotonic() if now is None else now
        limit = self.settings.idle_timeout_s
        stale = [
            rid
            for rid, run in self._runs.items()
            if run.session is None and now - run.last_used > limit
        ]
        for rid in stale:
            del self._runs[rid]
        if stale:
            log.info("evicted %d idle runs, %d left", len(stale), len(self._runs))
        return len(stale)

    def retry_after(self, now: float | None = None) -> int:
        """Seconds until the stalest idle run is evicted (at least 1)."""
        now = time.monotonic() if now is None else now
        limit = self.settings.idle_timeout_s
        waits = [run.last_used + limit - now for run in self._runs.values() if run.session is None]
        wait = min(waits) if waits else limit
        return max(1, math.ceil(wait))

    async def evict_forever(self) -> None:
        """The background task: evict idle runs every so often."""
        period = max(0.05, min(30.0, self.settings.idle_timeout_s / 4))
        while True:
            await asyncio.sleep(period)
            with contextlib.suppress(Exception):
                self.evict_idle()
