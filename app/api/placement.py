"""Where runs live when Redis keeps them (``BPV_REDIS_URL``): the store is chosen here, and
an ASGI middleware puts each request's run in place before the app sees it and keeps its
changes before the answer goes out.

- A request or stream for a run that is not live in this process brings it back from its
  checkpoint first (:meth:`~app.runs.redis_store.RedisRunStore.load`), so every route
  finds it as if it had never left.
- A REST request that may change a run (any method but GET/HEAD/OPTIONS on
  ``/api/runs…``) has the run written to Redis before its answer starts: once a learner
  sees "saved", a restart keeps it.

Without Redis none of this is installed: the in-process store serves as it always has.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import sys
from collections.abc import Mapping
from typing import Any

from redis import Redis as SyncRedis
from redis.asyncio import Redis
from redis.exceptions import RedisError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.asgi_answer import send_json
from app.api.mapping import experiment_of, wire_config
from app.api.models import RunConfig
from app.runs.checkpoints import Codec
from app.runs.experiment import Experiment
from app.runs.redis_store import RedisRunStore
from app.runs.store import RunStore, StoreFull
from app.settings import Settings

log = logging.getLogger(__name__)

_RUN_PATH = re.compile(r"^/api/runs/([A-Za-z0-9_-]{1,64})(?:/|$)")
_READS = frozenset({"GET", "HEAD", "OPTIONS"})
CONNECT_TIMEOUT_S = 2.0


def _from_wire(settings: Mapping[str, Any]) -> Experiment:
    return experiment_of(RunConfig.model_validate(settings))


CODEC = Codec(to_wire=wire_config, from_wire=_from_wire)


def shown_url(url: str) -> str:
    """``url`` without its password (for messages and logs)."""
    return re.sub(r"//([^:/@]*):[^@]*@", r"//\1:***@", url)


def check_redis(url: str) -> None:
    """At startup: Redis at ``url`` answers PING, or one line on stderr and exit status 2
    (as a bad setting does)."""
    try:
        client = SyncRedis.from_url(
            url, socket_connect_timeout=CONNECT_TIMEOUT_S, socket_timeout=CONNECT_TIMEOUT_S
        )
        try:
            client.ping()
        finally:
            client.close()
    except (RedisError, OSError, ValueError) as e:
        print(
            f"backprop-viz: BPV_REDIS_URL={shown_url(url)} : Redis does not answer ({e})",
            file=sys.stderr,
            flush=True,
        )
        raise SystemExit(2) from None


def make_store(settings: Settings) -> RunStore:
    """The in-process store, or (``redis_url`` set) one that checkpoints to Redis."""
    if not settings.redis_url:
        return RunStore(settings)
    check_redis(settings.redis_url)
    client = Redis.from_url(
        settings.redis_url, socket_connect_timeout=CONNECT_TIMEOUT_S, health_check_interval=30
    )
    return RedisRunStore(settings, client, CODEC)


class RunPlacementMiddleware:
    """Brings a request's run back from Redis before the app, and keeps its changes
    before the answer (see the module's docstring)."""

    def __init__(self, app: ASGIApp, store: RedisRunStore) -> None:
        self.app = app
        self.store = store

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        match = _RUN_PATH.match(path)
        run_id = match.group(1) if match else None
        store = self.store
        if run_id is not None:
            try:
                await store.load(run_id)
            except StoreFull as e:
                if kind == "http":
                    retry = [(b"retry-after", str(e.retry_after).encode())]
                    await send_json(send, 429, {"detail": str(e), "reason": e.reason}, retry)
                    return
            except (RedisError, OSError) as e:  # serve what this process holds
                log.warning("run %s could not be read from Redis: %s", run_id, e)
        changes = kind == "http" and scope["method"] not in _READS
        if not changes or not (run_id is not None or path.rstrip("/") == "/api/runs"):
            await self.app(scope, receive, send)
            return

        async def send_after_saving(message: Message) -> None:
            if message["type"] == "http.response.start":
                try:
                    await store.flush(run_id)
                except (RedisError, OSError) as e:  # kept by the next tick, if Redis is back
                    log.warning("run %s could not be written to Redis: %s", run_id, e)
            await send(message)

        await self.app(scope, receive, send_after_saving)


def start(store: RunStore) -> asyncio.Task[None]:
    """At startup: the checkpointing task of a Redis-backed store."""
    assert isinstance(store, RedisRunStore)
    return asyncio.create_task(store.checkpoint_forever())


async def stop(store: RunStore, saver: asyncio.Task[None]) -> None:
    """At shutdown: the task stopped, every run that changed since its last write kept."""
    assert isinstance(store, RedisRunStore)
    saver.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await saver
    await store.save_all()
    await store.aclose()
