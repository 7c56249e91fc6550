"""Per-client request pacing: a script in a loop gets its answers at a steady rate, not the
server's whole core.

Each client address has a budget of ``client_rps`` HTTP requests a second with bursts of
``client_burst`` (a page load is about 40 requests; hovering neurons a few a second). A
request over the budget waits, without costing anything, until the budget allows it, for
at most :data:`MAX_WAIT_S`; beyond that it is answered ``429`` with ``Retry-After`` and
``reason: "client_requests"``. A flood of ``GET`` from one address is thus served at
``client_rps``, however many connections it opens, and every other client is answered as
before. ``/healthz`` and WebSocket streams (paced by :mod:`app.runs.pacer`) are not counted,
nor is the server's own machine (``127.0.0.1``, ``::1``): a single user at their own
computer, the teacher, or a reverse proxy on the same host (behind which every student
would share one address's budget).

The budget is the generic cell rate algorithm (GCRA, as in ATM networks and many API
gateways): one number per client, its *theoretical arrival time* ``tat``. A request at ``t``
may go at ``max(t, tat − τ)`` with ``τ = (burst − 1) / rps``, and moves ``tat`` on by
``1 / rps``.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from app.api.asgi_answer import send_json

MAX_WAIT_S = 1.0  # a request waits at most this long for its turn
_PRUNE_AT = 10_000  # clients remembered before the ones back at a full budget are forgotten
_EXEMPT = frozenset({"/healthz"})
_OWN_MACHINE = frozenset({"127.0.0.1", "::1"})


class RequestRate:
    """GCRA per client: :meth:`delay` says how long a request must wait (None: refuse)."""

    def __init__(self, rps: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = 1.0 / rps
        self.tolerance = (burst - 1) * self.interval
        self._clock = clock
        self._tat: dict[str, float] = {}

    def delay(self, client: str) -> float | None:
        """Seconds the request must wait (0.0: at once), and counts it; ``None``: more than
        :data:`MAX_WAIT_S` (not counted)."""
        now = self._clock()
        tat = max(self._tat.get(client, now), now)
        wait = max(0.0, tat - self.tolerance - now)
        if wait > MAX_WAIT_S:
            return None
        if len(self._tat) >= _PRUNE_AT and client not in self._tat:
            self._tat = {c: t for c, t in self._tat.items() if t > now}
        self._tat[client] = tat + self.interval
        return wait

    def retry_after(self, client: str) -> int:
        """Whole seconds until a request from ``client`` would wait no more than allowed."""
        now = self._clock()
        tat = self._tat.get(client, now)
        return max(1, math.ceil(tat - self.tolerance - MAX_WAIT_S - now))


class RequestRateMiddleware:
    def __init__(self, app: ASGIApp, rps: float, burst: int) -> None:
        self.app = app
        self.rate = RequestRate(rps, burst)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in _EXEMPT:
            await self.app(scope, receive, send)
            return
        client = scope["client"][0] if scope.get("client") else ""
        if client in _OWN_MACHINE:
            await self.app(scope, receive, send)
            return
        wait = self.rate.delay(client)
        if wait is None:
            await _refuse(send, self.rate.retry_after(client), self.rate.interval)
            return
        if wait > 0.0:
            await asyncio.sleep(wait)
        await self.app(scope, receive, send)


async def _refuse(send: Send, retry_after: int, interval: float) -> None:
    detail = (
        f"too many requests from this address: at most {1 / interval:g} a second"
        " (BPV_CLIENT_RPS); try again after Retry-After seconds"
    )
    retry = [(b"retry-after", str(retry_after).encode())]
    await send_json(send, 429, {"detail": detail, "reason": "client_requests"}, retry)
