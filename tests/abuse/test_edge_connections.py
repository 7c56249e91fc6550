"""Connections that never send a request, or send their headers a byte at a time, must not
lock the class out (app/api/connections.py). A real uvicorn on loopback; each test bounded.

Before the fix, 1,000 idle connections from one laptop made every request 503 for as long
as they stayed open (they held ``limit_concurrency`` slots forever).
"""

from __future__ import annotations

import asyncio
import json
import resource
import select
import socket
import time
import urllib.request
from collections.abc import Callable, Iterator

import pytest
import websockets
from websockets.typing import Origin

from tests.abuse.conftest import Server
from tests.abuse.students import Interleaved, beside, keeps_its_rate, student_address

IDLE = 1_000


@pytest.fixture(autouse=True)
def enough_descriptors() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 4 * IDLE:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4 * IDLE), hard))


@pytest.fixture
def sockets() -> Iterator[list[socket.socket]]:
    opened: list[socket.socket] = []
    yield opened
    for s in opened:
        s.close()


def open_idle(port: int, n: int, into: list[socket.socket], source: str = "127.0.0.1") -> None:
    for _ in range(n):
        s = socket.socket()
        s.bind((source, 0))
        s.settimeout(5)
        s.connect(("127.0.0.1", port))
        into.append(s)


def get(server: Server, path: str) -> tuple[int, float]:
    t = time.monotonic()
    with urllib.request.urlopen(server.base + path, timeout=5) as r:
        r.read()
        return r.status, time.monotonic() - t


def closed_by_server(s: socket.socket, wait_s: float) -> bool:
    """Whether the server closed ``s`` (EOF, or whatever it sent before closing)."""
    s.settimeout(wait_s)
    try:
        while s.recv(4096):
            pass
        return True
    except TimeoutError:
        return False
    except OSError:
        return True


async def new_student(server: Server) -> float:
    """What a learner opening the page does: create a run, open its stream, get a frame.
    Returns the seconds it took."""
    t = time.monotonic()
    body = json.dumps({}).encode()
    req = urllib.request.Request(
        server.base + "/api/runs",
        data=body,
        method="POST",
        headers={"content-type": "application/json", "origin": server.base},
    )

    def create() -> str:
        with urllib.request.urlopen(req, timeout=5) as r:
            return str(json.load(r)["id"])

    run_id = await asyncio.to_thread(create)
    url = f"{server.ws_base}/api/runs/{run_id}/stream"
    async with websockets.connect(url, origin=Origin(server.base), open_timeout=5) as ws:
        await ws.send('{"type": "step"}')
        while True:
            message = json.loads(await asyncio.wait_for(ws.recv(), 5))
            if message["type"] == "frame":
                return time.monotonic() - t


def test_a_thousand_idle_connections_leave_the_class_served(
    serve: Callable[..., Server], sockets: list[socket.socket]
) -> None:
    server = serve()
    open_idle(server.port, IDLE, sockets)
    time.sleep(0.3)  # the server has accepted them all
    # Every request is answered (before: 503 for as long as the idle sockets stayed open);
    # the fastest of three within 1 s, so a busy shared test machine does not decide it.
    for path in ("/healthz", "/"):
        answers = [get(server, path) for _ in range(3)]
        assert all(status == 200 for status, _ in answers), path
        assert min(took for _, took in answers) < 1.0, (path, answers)
    assert min(asyncio.run(new_student(server)) for _ in range(2)) < 1.0
    # One address keeps only its 256 newest waiting connections (BPV_MAX_WAITING_PER_CLIENT):
    # the rest were closed, so the server does not hold 1,000 descriptors for it.
    closed = sum(closed_by_server(s, 0.01) for s in sockets)
    assert closed >= IDLE - 256
    assert server.rss_mb() < 512


def test_a_thousand_idle_connections_leave_the_class_its_frame_rate(
    serve: Callable[..., Server], sockets: list[socket.socket]
) -> None:
    """Ten honest students streaming while one laptop opens 1,000 idle connections and
    closes them, in turn (each window with them against the windows without either side)."""
    server = serve()

    async def abuse(on: bool) -> None:
        if on:
            await asyncio.to_thread(open_idle, server.port, IDLE, sockets)
        else:
            for s in sockets:
                s.close()
            sockets.clear()

    rates: Interleaved = asyncio.run(beside(server.ws_base, abuse))
    print(f"\n{rates}")
    keeps_its_rate(rates)


def test_idle_connections_do_not_hold_concurrency_slots(
    serve: Callable[..., Server], sockets: list[socket.socket]
) -> None:
    """From many addresses (no per-address cap applies), more idle connections than
    ``limit_concurrency``: requests are still answered, and the idle ones are closed
    after the header deadline."""
    server = serve(BPV_LIMIT_CONCURRENCY="20", BPV_HEADER_TIMEOUT_S="2")
    for k in range(60):
        open_idle(server.port, 1, sockets, source=student_address(k))
    time.sleep(0.3)
    for _ in range(5):
        status, took = get(server, "/healthz")
        assert status == 200 and took < 1.0
    t = time.monotonic()
    assert all(closed_by_server(s, 4.0) for s in sockets)
    assert time.monotonic() - t < 4.0  # closed about 2 s after they opened


def test_slowloris_is_cut_at_the_header_deadline(
    serve: Callable[..., Server], sockets: list[socket.socket]
) -> None:
    """Headers trickled a byte every 0.1 s: the connection is answered 408 and closed at the
    deadline (2 s here; 10 s by default), and meanwhile it holds no slot."""
    server = serve(BPV_HEADER_TIMEOUT_S="2", BPV_LIMIT_CONCURRENCY="5")
    slow = []
    for k in range(10):
        s = socket.create_connection(
            ("127.0.0.1", server.port), source_address=(student_address(k), 0)
        )
        sockets.append(s)
        slow.append(s)
    request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 1000
    t0 = time.monotonic()
    answered = b""
    for i, byte in enumerate(request):
        readable, _, _ = select.select([slow[0]], [], [], 0)
        if readable or time.monotonic() - t0 > 6:
            answered = slow[0].recv(4096)
            break
        for s in slow:
            s.send(bytes([byte]))
        if i % 5 == 0:
            status, took = get(server, "/healthz")
            assert status == 200 and took < 1.0
        time.sleep(0.1)
    elapsed = time.monotonic() - t0
    assert answered.startswith(b"HTTP/1.1 408"), answered[:80]
    assert elapsed < 3.0, "the trickling connection was not cut near the 2 s deadline"
    assert all(closed_by_server(s, 1.0) for s in slow)
