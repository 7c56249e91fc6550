"""Honest students, measured beside an abuser: ``await measure(ws_base, n, seconds)``.

Each of the ``n`` students does what the page does for a learner who just opened it:
``POST /api/runs {}`` (the default experiment, ``application/json``, the page's own
``Origin``), opens the run's WebSocket stream with that ``Origin``, sends ``play`` and
watches the frames at the default speed. Each student connects from its own loopback
address (``127.1.0.1``, ``127.1.0.2``, ...; all of ``127.0.0.0/8`` is loopback on Linux), so
a per-address limit sees ``n`` laptops, not one.

Once every student has its first frame (joining: at most ``join_timeout``, default 10 s;
``Rates.joined_s`` says how long it took), and after a ``warmup`` (default 1 s: the first
frames carry grids and history), every student's frames are counted for ``seconds``; then
the streams close and the runs are deleted. Returns :class:`Rates`: frames/s per student
(``min``, ``median``, and all of them). A student whose run or stream was refused, whose
stream ended early, or who had no frame by ``join_timeout`` counts what it got (a refused
student: 0 frames/s) and is listed in ``failures``. Bounded: at most ``join_timeout +
warmup + seconds`` plus the last requests (each times out after 10 s).

Usage, from a synchronous test::

    rates = asyncio.run(measure(server.ws_base, 10, 4.0))
    assert rates.min >= 0.8 * before.min

or concurrently with an abuser inside one ``async`` function (``asyncio.gather``).
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from dataclasses import dataclass, field

import httpx
import websockets
from websockets.typing import Origin

REQUEST_TIMEOUT_S = 10.0
JOIN_TIMEOUT_S = 10.0
_FRAME = b'{"type":"frame"'


@dataclass(frozen=True)
class Rates:
    """Frames/s each honest student received over the window (one value per student)."""

    per_client: tuple[float, ...]
    seconds: float
    planned: tuple[float, ...] = field(default=())  # the rate the server chose (frames' fps)
    failures: tuple[str, ...] = field(default=())  # what went wrong, one line per student
    joined_s: float = 0.0  # until every student had its first frame (or gave up)

    @property
    def min(self) -> float:
        return min(self.per_client) if self.per_client else 0.0

    @property
    def median(self) -> float:
        return statistics.median(self.per_client) if self.per_client else 0.0

    def __str__(self) -> str:
        bad = f", {len(self.failures)} failed: {self.failures[0]}" if self.failures else ""
        return (
            f"{self.min:.1f} min / {self.median:.1f} median frames/s"
            f" (joined in {self.joined_s:.1f} s){bad}"
        )


def student_address(k: int) -> str:
    """The loopback address student ``k`` (0-based) connects from."""
    return f"127.1.{k // 250}.{k % 250 + 1}"


@dataclass
class _Student:
    address: str
    run_id: str | None = None
    frames: list[float] = field(default_factory=list)  # receipt times (monotonic)
    planned: float = 0.0  # the last frame's `fps`: the rate the server chose for it
    failure: str = ""
    streaming: asyncio.Event = field(default_factory=asyncio.Event)  # its first frame came


async def measure(
    ws_base: str,
    n: int,
    seconds: float,
    *,
    warmup: float = 1.0,
    body: object = None,
    join_timeout: float = JOIN_TIMEOUT_S,
) -> Rates:
    """Run ``n`` honest streaming students against ``ws_base`` (``ws://127.0.0.1:PORT``) and
    return their frame rates over ``seconds``, counted from ``warmup`` after all of them
    are streaming (or ``join_timeout`` has passed: the late ones are failures).

    ``body``: the JSON body of ``POST /api/runs`` (default ``{}``, the default experiment).
    """
    base = ws_base.replace("ws://", "http://", 1).rstrip("/")
    students = [_Student(student_address(k)) for k in range(n)]
    stop = asyncio.Event()
    start = time.monotonic()
    tasks = [
        asyncio.create_task(_study(base, s, {} if body is None else body, stop)) for s in students
    ]
    joining = asyncio.gather(*(s.streaming.wait() for s in students))
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(joining, join_timeout)
    joined = time.monotonic() - start
    for s in students:
        if not s.streaming.is_set() and not s.failure:
            s.failure = f"no frame {join_timeout:g} s after joining"
    t0 = time.monotonic() + warmup
    t1 = t0 + seconds
    await asyncio.sleep(t1 - time.monotonic())
    stop.set()
    await asyncio.gather(*tasks)
    rates = tuple(sum(t0 <= t < t1 for t in s.frames) / seconds for s in students)
    failures = tuple(f"{s.address}: {s.failure}" for s in students if s.failure)
    return Rates(rates, seconds, tuple(s.planned for s in students), failures, joined)


async def _study(base: str, s: _Student, body: object, stop: asyncio.Event) -> None:
    headers = {"origin": base, "content-type": "application/json"}  # as the page sends
    transport = httpx.AsyncHTTPTransport(local_address=s.address)
    async with httpx.AsyncClient(
        base_url=base, transport=transport, headers=headers, timeout=REQUEST_TIMEOUT_S
    ) as http:
        try:
            r = await http.post("/api/runs", json=body)
        except httpx.HTTPError as e:
            s.failure = f"POST /api/runs: {type(e).__name__}"
            return
        if r.status_code != 201:
            s.failure = f"POST /api/runs: {r.status_code} {r.text[:120]}"
            return
        s.run_id = r.json()["id"]
        try:
            await _watch(base, s, stop)
        except (OSError, TimeoutError, websockets.WebSocketException) as e:
            s.failure = f"stream: {type(e).__name__} {e}"[:200]
        finally:
            with contextlib.suppress(httpx.HTTPError):
                await http.delete(f"/api/runs/{s.run_id}")


async def _watch(base: str, s: _Student, stop: asyncio.Event) -> None:
    url = base.replace("http://", "ws://", 1) + f"/api/runs/{s.run_id}/stream"
    async with websockets.connect(
        url,
        origin=Origin(base),
        max_size=None,
        compression=None,
        open_timeout=REQUEST_TIMEOUT_S,
        local_addr=(s.address, 0),
    ) as ws:
        await ws.send('{"type": "play"}')
        while not stop.is_set():
            try:
                data = await asyncio.wait_for(ws.recv(decode=False), 0.25)
            except TimeoutError:
                continue
            if data.startswith(_FRAME):
                s.frames.append(time.monotonic())
                s.streaming.set()
                i = data.find(b'"fps":')
                if i >= 0:
                    s.planned = float(data[i + 6 : data.find(b",", i)])
