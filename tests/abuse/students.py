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

or concurrently with an abuser inside one ``async`` function (``asyncio.gather``). To compare
windows with and without an abuser on the same students (interleaved, so a machine whose
load drifts during the test shifts both alike), keep them streaming::

    async with streaming(server.ws_base, 10) as students:
        alone = await students.window(1.0)
        ...  # the abuser starts
        under = await students.window(1.0)
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable
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


class Class:
    """Honest students streaming (see :func:`streaming`): frames counted over any window."""

    def __init__(self, students: list[_Student], joined_s: float) -> None:
        self._students = students
        self.joined_s = joined_s

    def rates(self, t0: float, t1: float) -> Rates:
        """Each student's frames/s between ``t0`` and ``t1`` (``time.monotonic()``)."""
        seconds = t1 - t0
        students = self._students
        rates = tuple(sum(t0 <= t < t1 for t in s.frames) / seconds for s in students)
        failures = tuple(f"{s.address}: {s.failure}" for s in students if s.failure)
        planned = tuple(s.planned for s in students)
        return Rates(rates, seconds, planned, failures, self.joined_s)

    async def window(self, seconds: float) -> Rates:
        """The rates over the next ``seconds``."""
        t0 = time.monotonic()
        await asyncio.sleep(seconds)
        return self.rates(t0, time.monotonic())


@contextlib.asynccontextmanager
async def streaming(
    ws_base: str, n: int, *, body: object = None, join_timeout: float = JOIN_TIMEOUT_S
) -> AsyncIterator[Class]:
    """``n`` honest students streaming from ``ws_base`` (``ws://127.0.0.1:PORT``) for as long
    as the ``async with`` lasts, entered once every one has its first frame (or
    ``join_timeout`` has passed: the late ones are failures); on leaving, the streams close
    and the runs are deleted.

    ``body``: the JSON body of ``POST /api/runs`` (default ``{}``, the default experiment).
    """
    base = ws_base.replace("ws://", "http://", 1).rstrip("/")
    students = [_Student(student_address(k)) for k in range(n)]
    stop = asyncio.Event()
    start = time.monotonic()
    tasks = [
        asyncio.create_task(_study(base, s, {} if body is None else body, stop)) for s in students
    ]
    try:
        joining = asyncio.gather(*(s.streaming.wait() for s in students))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(joining, join_timeout)
        joined = time.monotonic() - start
        for s in students:
            if not s.streaming.is_set() and not s.failure:
                s.failure = f"no frame {join_timeout:g} s after joining"
        yield Class(students, joined)
    finally:
        stop.set()
        await asyncio.gather(*tasks)


async def measure(
    ws_base: str,
    n: int,
    seconds: float,
    *,
    warmup: float = 1.0,
    body: object = None,
    join_timeout: float = JOIN_TIMEOUT_S,
) -> Rates:
    """Run ``n`` honest students against ``ws_base`` (:func:`streaming`) and return their
    frame rates over ``seconds``, counted from ``warmup`` after all of them are streaming
    (or ``join_timeout`` has passed: the late ones are failures)."""
    async with streaming(ws_base, n, body=body, join_timeout=join_timeout) as students:
        await asyncio.sleep(warmup)
        return await students.window(seconds)


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


@dataclass(frozen=True)
class Interleaved:
    """The students' rates in windows without (``off``) and with (``on``) an abuser, in
    turn: ``off[0], on[0], off[1], ..., on[-1], off[-1]``."""

    off: tuple[Rates, ...]
    on: tuple[Rates, ...]

    def ratios(self, of: Callable[[Rates], float]) -> list[float]:
        """Each "on" window's ``of`` (e.g. the median student's rate) over the mean of the
        "off" windows either side of it."""
        return [
            of(u) / max(1e-9, (of(self.off[i]) + of(self.off[i + 1])) / 2)
            for i, u in enumerate(self.on)
        ]

    def median_ratio(self, of: Callable[[Rates], float]) -> float:
        return statistics.median(self.ratios(of))

    @property
    def failures(self) -> tuple[str, ...]:
        return tuple(f for r in self.off + self.on for f in r.failures)

    def __str__(self) -> str:
        lines = []
        for i, r in enumerate(self.off):
            lines.append(f"off {r}")
            if i < len(self.on):
                lines.append(f"on  {self.on[i]}")
        median = ", ".join(f"{x:.2f}" for x in self.ratios(lambda r: r.median))
        slowest = ", ".join(f"{x:.2f}" for x in self.ratios(lambda r: r.min))
        lines.append(f"on/off, median student: {median}; slowest: {slowest}")
        return "\n".join(lines)


async def interleaved(
    students: Class,
    abuse: Callable[[bool], Awaitable[None]],
    on_windows: int,
    seconds: float,
    settle_on: float,
    settle_off: float,
) -> Interleaved:
    """``students``' rates over ``2 · on_windows + 1`` windows of ``seconds``, the abuser
    off first and last and on in every other one: ``await abuse(True)`` switches it on,
    ``await abuse(False)`` off, and each window is counted ``settle_on`` or ``settle_off``
    after the switch (for the server to have seen it)."""
    off: list[Rates] = []
    on: list[Rates] = []
    for k in range(2 * on_windows + 1):
        abusing = k % 2 == 1
        if k:
            await abuse(abusing)
            await asyncio.sleep(settle_on if abusing else settle_off)
        (on if abusing else off).append(await students.window(seconds))
    return Interleaved(tuple(off), tuple(on))


ON_WINDOWS = 2  # with ON_WINDOWS + 1 "off" windows around them
WINDOW_S = 1.0
SETTLE_S = 0.4
WARMUP_S = 0.8  # the students' first frames carry grids and history


async def beside(
    ws_base: str,
    abuse: Callable[[bool], Awaitable[None]],
    *,
    n: int = 10,
    on_windows: int = ON_WINDOWS,
    seconds: float = WINDOW_S,
    settle_on: float = SETTLE_S,
    settle_off: float = SETTLE_S,
) -> Interleaved:
    """``n`` honest students streaming (:func:`streaming`), and after ``WARMUP_S`` their
    rates with ``abuse`` off and on in turn (:func:`interleaved`); the abuse is switched off
    at the end whatever happens. About ``join + WARMUP_S + (2 · on_windows + 1) · (seconds
    + settle)`` seconds: 7-8 s with the defaults."""
    try:
        async with streaming(ws_base, n) as students:
            await asyncio.sleep(WARMUP_S)
            return await interleaved(students, abuse, on_windows, seconds, settle_on, settle_off)
    finally:
        with contextlib.suppress(AssertionError):
            await abuse(False)


def keeps_its_rate(rates: Interleaved) -> None:
    """What every abuse test asserts of the class: no student refused or dropped, and the
    median student keeps 80 % of its rate without the abuse (the median of the "on" windows'
    ratios; the slowest student 60 %)."""
    assert not rates.failures, rates.failures
    assert rates.median_ratio(lambda r: r.median) >= 0.8, rates
    assert rates.median_ratio(lambda r: r.min) >= 0.6, rates
