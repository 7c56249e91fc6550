"""``BPV_TEST_REDIS=1``: run the API and browser suites against Redis-backed servers
(``make test-redis``; issue 14: "Redis-backed workers pass the API and browser suites too").

Off (the default) nothing here runs and those suites are exactly as they were. On, one
redis-server (:class:`~tests.store.procs.RedisServer`: loopback, free port, no persistence)
is started for the pytest process on first use and stopped by its pid at exit;
tests/api/conftest.py builds every in-process app with the Redis store
(:func:`with_redis`), and tests/browser/conftest.py and the real-uvicorn fixtures start
``backprop-viz --workers 2`` with ``BPV_REDIS_URL`` (:func:`server_env`, :func:`cli_args`).

Each app or server gets a database of its own on that redis-server (:func:`deployment_url`):
each is a deployment of its own, and the per-client caps count a client's runs across
everything that shares one database (``app/runs/client_ledger.py``), so a test's server
with ``max_runs_per_client = 2`` must not see the runs another test's server holds for
127.0.0.1.

Tests that hold for one process only (they read a ``Run`` from the app's in-process store,
or measure this process's memory) are marked ``single_process`` and skipped when on.
"""

from __future__ import annotations

import atexit
import itertools
import os
from dataclasses import replace
from typing import Any

from tests.store.procs import DATABASES, RedisServer

ENABLED = os.environ.get("BPV_TEST_REDIS", "") not in ("", "0")
WORKERS = 2  # the real-uvicorn servers' worker processes when on

_server: RedisServer | None = None
_deployments = itertools.count()


def redis_url() -> str:
    """The session's redis-server URL (started on first call)."""
    global _server
    if _server is None:
        _server = RedisServer()
        atexit.register(_server.stop)
    return _server.url


def deployment_url() -> str:
    """The session's redis-server, a database of its own (1 to DATABASES - 1, in turn)."""
    base = redis_url().rsplit("/", 1)[0]
    return f"{base}/{next(_deployments) % (DATABASES - 1) + 1}"


def with_redis(settings: Any) -> Any:
    """``settings`` with a Redis URL of its own on the session's server, when on and none
    is set."""
    if not ENABLED or settings.redis_url:
        return settings
    return replace(settings, redis_url=deployment_url())


def server_env() -> dict[str, str]:
    """Extra environment of a real server: ``BPV_REDIS_URL`` (a database of its own) when
    on."""
    return {"BPV_REDIS_URL": deployment_url()} if ENABLED else {}


def cli_args() -> list[str]:
    """Extra ``backprop-viz`` arguments of a real server: ``--workers 2`` when on."""
    return ["--workers", str(WORKERS)] if ENABLED else []


def skip_single_process(item: Any) -> None:
    """In a conftest's ``pytest_runtest_setup``: skip a ``single_process`` test when on."""
    mark = item.get_closest_marker("single_process")
    if ENABLED and mark is not None:
        import pytest

        why = mark.kwargs.get("reason", "holds for one process and its in-process store only")
        pytest.skip(f"single_process: {why}")
