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
from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import RedisError
from starlette.applications import Starlette
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.asgi_answer import send_json
from app.api.forward import GONE, LOST, Forwarder, PrivateListener, take_over
from app.api.mapping import experiment_of, wire_config
from app.api.models import RunConfig
from app.runs.checkpoints import Codec
from app.runs.experiment import Experiment
from app.runs.redis_store import Elsewhere, RedisRunStore
from app.runs.store import RunStore, StoreFull
from app.settings import Settings

log = logging.getLogger(__name__)

_RUN_PATH = re.compile(r"^/api/runs/([A-Za-z0-9_-]{1,64})(?:/|$)")
_READS = frozenset({"GET", "HEAD", "OPTIONS"})
CONNECT_TIMEOUT_S = 2.0
REDIS_CONNECTIONS = 256  # per worker process (redis-server takes 10,000 clients)
REDIS_WAIT_S = 5.0  # for a free connection, then a RedisError (handled as Redis down)


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
    # A blocking pool: a request beyond its connections waits for one (each Redis call is
    # well under a millisecond) instead of failing. redis-py's default pool raises "Too many
    # connections" past 100, which 200 students connecting at once reached: their runs
    # could not be read and their streams were closed as "no such run".
    pool = BlockingConnectionPool.from_url(
        settings.redis_url,
        max_connections=REDIS_CONNECTIONS,
        timeout=REDIS_WAIT_S,
        socket_connect_timeout=CONNECT_TIMEOUT_S,
        health_check_interval=30,
    )
    return RedisRunStore(settings, Redis.from_pool(pool), CODEC)


class RunPlacementMiddleware:
    """Puts a request's run in place before the app (brought back from Redis, or the
    request forwarded to the worker that trains it, or the run moved here for a stream),
    and keeps its changes before the answer (see the module's docstring)."""

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
            placed = await self._place(run_id, scope, receive, send)
            if placed is None:
                return  # answered (forwarded, or refused)
            receive = placed
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

    async def _place(
        self, run_id: str, scope: Scope, receive: Receive, send: Send
    ) -> Receive | None:
        """The run live here (or missing everywhere): the receive to serve the request
        with. None: the request was answered (forwarded to the run's worker, or refused)."""
        store = self.store
        http = scope["type"] == "http"
        forwarder: Forwarder | None = getattr(scope["app"].state, "forwarder", None)
        private = forwarder is not None and forwarder.arrived_privately(scope)
        body: bytes | None = None
        for _ in range(_ATTEMPTS):
            try:
                await store.load(run_id)
                break
            except StoreFull as e:
                if http:
                    retry = [(b"retry-after", str(e.retry_after).encode())]
                    await send_json(send, 429, {"detail": str(e), "reason": e.reason}, retry)
                    return None
                break
            except Elsewhere as e:
                holder = e.holder
            except (RedisError, OSError) as e:  # serve what this process holds
                log.warning("run %s could not be read from Redis: %s", run_id, e)
                break
            try:
                if not http or private or forwarder is None:
                    await take_over(store, run_id, holder)  # a stream takes its run along
                    continue
                address = await store.leases.address_of(holder.worker)
                if address is None:  # its worker is gone
                    await store.leases.seize(run_id, holder)
                    continue
                if body is None:
                    body = await _read_body(receive)
                try:
                    await forwarder.forward(address, scope, body, send)
                    return None
                except GONE:
                    await store.leases.seize(run_id, holder)
                except LOST:  # the holder went away mid-answer (a restart): a read is
                    if scope["method"] not in _READS:  # asked again; a change may have
                        raise  # been applied, so it is not sent twice
                    await asyncio.sleep(0.05)
            except (RedisError, OSError) as e:
                log.warning("run %s could not be placed: %s", run_id, e)
                break
        else:
            if http:
                detail = "the run is moving between workers: try again in a moment"
                await send_json(send, 503, {"detail": detail}, [(b"retry-after", b"1")])
                return None
            await send({"type": "websocket.close", "code": 1013, "reason": "try again"})
            return None
        return receive if body is None else _replay(body, receive)


_ATTEMPTS = 4


async def _read_body(receive: Receive) -> bytes:
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        body += message.get("body", b"")
        if not message.get("more_body", False):
            break
    return bytes(body)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that gives ``body`` again, then waits on the real one (disconnects)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def start(app: Starlette, store: RunStore) -> asyncio.Task[None]:
    """At startup: this worker's private listener and registration (forwarded requests
    arrive there), then the background tasks (checkpoints, leases, release requests)."""
    assert isinstance(store, RedisRunStore)
    listener = PrivateListener(app)
    await listener.start()
    await store.leases.register(listener.address)
    app.state.private_listener = listener
    app.state.forwarder = Forwarder(store, listener.port, store.settings.max_request_s + 5)
    log.info("worker %s: forwarded requests on %s", store.leases.worker, listener.address)

    async def background() -> None:
        await asyncio.gather(
            store.checkpoint_forever(), store.keep_leases_forever(), store.listen_forever()
        )

    return asyncio.create_task(background())


async def stop(app: Starlette, store: RunStore, tasks: asyncio.Task[None]) -> None:
    """At shutdown: the tasks stopped, every run that changed since its last write kept,
    every lease given back (another worker takes the runs on at once)."""
    assert isinstance(store, RedisRunStore)
    listener: PrivateListener | None = getattr(app.state, "private_listener", None)
    if listener is not None:  # first: no more forwarded requests start here
        await listener.stop()
    tasks.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await tasks
    with contextlib.suppress(RedisError, OSError):
        await store.save_all()
        await store.release_all()
    forwarder: Forwarder | None = getattr(app.state, "forwarder", None)
    if forwarder is not None:
        await forwarder.aclose()
    await store.aclose()
