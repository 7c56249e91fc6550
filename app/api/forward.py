"""Any worker answers any request for any run: a request for a run another worker trains
is forwarded there; a stream takes its run along.

Each worker (with ``BPV_REDIS_URL``) serves the same app on a private loopback port too
(:class:`PrivateListener`), registered in Redis under its worker id
(:mod:`app.runs.lease`). A REST request that reaches a worker which does not hold the
run's lease is sent on to the holder's private port as it came (method, path, query,
headers, body) and its answer sent back (:func:`forward`): the run stays where it trains,
and requests to it are served one after another under its lock, whichever worker they
came through. A forwarded request is never forwarded again: it arrived on the private
port, so it is served there (taking the run over if it moved meanwhile).

A stream lives where its run trains: a WebSocket that reaches another worker moves the run
to itself (:func:`take_over`): the holder writes the run's checkpoint, ends its stream if
it had one (the page reconnects), and gives the lease back; the new worker takes the lease
and goes on from that checkpoint. Proxying every frame through a second worker would cost
both workers CPU for the whole stream; a move costs one checkpoint and one rebuild.

A holder that is gone (``kill -9``: its registration expired, or its port refuses the
connection) has its lease seized at once (compare-and-set on its value), and the run goes
on from its last checkpoint. Fencing (:meth:`app.runs.lease.Leases.write`) keeps a holder
that only seemed gone from writing over the new owner's checkpoints.
"""

from __future__ import annotations

import contextlib
import logging
import socket

import httpx
import uvicorn
from starlette.types import ASGIApp, Scope, Send

from app.runs.lease import Holder
from app.runs.redis_store import RedisRunStore

log = logging.getLogger(__name__)

TAKE_OVER_S = 1.0  # a holder that does not give a run up within this is asked again
_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"transfer-encoding",
        b"upgrade",
        b"te",
        b"trailer",
        b"content-length",
    }
)


class PrivateListener:
    """The app served again on 127.0.0.1, a free port, for requests forwarded by the other
    workers (no lifespan of its own: it shares this worker's)."""

    def __init__(self, app: ASGIApp) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port: int = self.sock.getsockname()[1]
        config = uvicorn.Config(
            app,
            lifespan="off",
            ws="none",
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=1,
        )
        config.load()
        self.server = uvicorn.Server(config)
        self.server.lifespan = config.lifespan_class(config)  # "off": as Server.serve sets it

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> None:
        await self.server.startup(sockets=[self.sock])

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            await self.server.shutdown(sockets=[self.sock])


class Forwarder:
    """Sends requests on to the worker that holds their run (one pooled HTTP client)."""

    def __init__(self, store: RedisRunStore, private_port: int, timeout_s: float) -> None:
        self.store = store
        self.private_port = private_port
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_s, connect=0.5),
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
        )

    def arrived_privately(self, scope: Scope) -> bool:
        server = scope.get("server")
        return server is not None and tuple(server) == ("127.0.0.1", self.private_port)

    async def forward(self, address: str, scope: Scope, body: bytes, send: Send) -> None:
        """The request (its ``body`` read already) sent to ``address`` as it came, its
        answer sent back; raises :class:`httpx.ConnectError` or
        :class:`httpx.ConnectTimeout` (nothing sent yet) if the worker there is gone."""
        query = scope.get("query_string", b"")
        url = f"http://{address}{scope['path']}" + (f"?{query.decode()}" if query else "")
        headers = [(k, v) for k, v in scope["headers"] if k.lower() not in _HOP]
        request = self.client.build_request(scope["method"], url, headers=headers, content=body)
        response = await self.client.send(request, stream=True)
        try:
            out = [
                (k.lower(), v)
                for k, v in response.headers.raw
                if k.lower() not in _HOP and k.lower() != b"date"
            ]
            chunks = [c async for c in response.aiter_raw()]
            payload = b"".join(chunks)
            out.append((b"content-length", str(len(payload)).encode()))
            await send(
                {"type": "http.response.start", "status": response.status_code, "headers": out}
            )
            await send({"type": "http.response.body", "body": payload})
        finally:
            await response.aclose()

    async def aclose(self) -> None:
        await self.client.aclose()


async def take_over(store: RedisRunStore, run_id: str, holder: Holder) -> bool:
    """Move the run to this worker: the holder asked to give it up (or seized if it is
    gone); True once the lease is ours, within about :data:`TAKE_OVER_S`."""
    leases = store.leases
    if not holder.worker or await leases.address_of(holder.worker) is None:
        if await leases.seize(run_id, holder):
            return True
        return await leases.acquire(run_id)
    if not await leases.ask_release(holder.worker, run_id):  # nobody listens: it is gone
        return await leases.seize(run_id, holder) or await leases.acquire(run_id)
    return await leases.wait_free(run_id, TAKE_OVER_S)


GONE = (httpx.ConnectError, httpx.ConnectTimeout)  # the holder's port refuses: it is gone
# The holder closed the connection before answering (it was stopping): nothing was sent.
LOST = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)
