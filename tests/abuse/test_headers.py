"""Request headers are bounded (414 / 431, memory bounded) and every answer carries the
page's protections (CSP, frame-ancestors, Referrer-Policy, nosniff). Real uvicorn.

Before: a 100 MB header was read whole and answered 200, costing about 200 MB of RSS.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import urllib.request
from collections.abc import Callable

from tests.abuse.conftest import Server
from tests.abuse.students import Interleaved, beside, keeps_its_rate

MB = 1024 * 1024


def send_raw(server: Server, head: bytes, filler: int = 0, chunk: int = 1 << 20) -> bytes:
    """Send ``head``, then ``filler`` bytes of ``a`` (as long as the server reads them),
    then read the answer until the server closes."""
    s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    try:
        s.sendall(head)
        block = b"a" * chunk
        sent = 0
        try:
            while sent < filler:
                s.sendall(block)
                sent += chunk
            s.sendall(b"\r\n\r\n")
        except OSError:
            pass  # the server answered and closed while we were still sending
        out = b""
        try:
            while data := s.recv(65536):
                out += data
        except OSError:
            pass
        return out
    finally:
        s.close()


def test_a_100_mb_header_is_refused_431_with_memory_bounded(
    serve: Callable[..., Server],
) -> None:
    server = serve()
    before = server.rss_mb()
    t = time.monotonic()
    answer = send_raw(server, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ", 100 * MB)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:100]
    assert b"max_header_bytes" in answer  # the body names the limit
    assert time.monotonic() - t < 10
    assert server.rss_mb() - before < 30  # not 200 MB
    with urllib.request.urlopen(server.base + "/healthz", timeout=5) as r:
        assert r.status == 200


def test_huge_headers_in_a_loop_leave_the_class_its_frame_rate(
    serve: Callable[..., Server],
) -> None:
    """A script sending 100 MB headers one after the other, in turn with windows where it
    does not: each is refused 431, memory stays bounded, and the ten honest students
    streaming keep their frame rate."""
    server = serve()
    answers: list[bytes] = []
    stop = threading.Event()
    running: list[asyncio.Future[None]] = []

    def loop() -> None:
        while not stop.is_set():
            head = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: "
            answers.append(send_raw(server, head, 100 * MB)[:12])

    async def abuse(on: bool) -> None:
        if on:
            stop.clear()
            running.append(asyncio.ensure_future(asyncio.to_thread(loop)))
        elif running:
            stop.set()
            await running.pop()

    before = server.rss_mb()
    rates: Interleaved = asyncio.run(beside(server.ws_base, abuse))
    print(f"\n{rates}\n{len(answers)} huge headers sent")
    assert len(answers) >= 4 and set(answers) == {b"HTTP/1.1 431"}, set(answers)
    assert server.rss_mb() - before < 60
    keeps_its_rate(rates)


def test_many_headers_and_a_long_url_are_refused(serve: Callable[..., Server]) -> None:
    server = serve(BPV_MAX_HEADER_BYTES="8192")
    many = b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 50) for i in range(400))
    answer = send_raw(server, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n" + many)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:100]
    answer = send_raw(server, b"GET /healthz?" + b"q" * 20_000 + b" HTTP/1.1\r\nHost: x\r\n")
    assert answer.startswith(b"HTTP/1.1 414 "), answer[:100]


def test_ordinary_large_headers_still_work(serve: Callable[..., Server]) -> None:
    """A browser with a few KB of cookies (localhost shares cookies across ports)."""
    server = serve()
    req = urllib.request.Request(server.base + "/healthz", headers={"Cookie": "c=" + "x" * 8000})
    with urllib.request.urlopen(req, timeout=5) as r:
        assert r.status == 200


def test_the_page_and_the_api_carry_the_protections(serve: Callable[..., Server]) -> None:
    server = serve()
    for path in ("/", "/api/options", "/docs", "/static/js/main.js", "/no-such-page"):
        try:
            with urllib.request.urlopen(server.base + path, timeout=5) as r:
                headers = r.headers
        except urllib.error.HTTPError as e:
            headers = e.headers
            e.close()
        csp = headers["Content-Security-Policy"] or ""
        directives = {d.strip().split()[0]: d.strip().split()[1:] for d in csp.split(";") if d}
        assert directives["script-src"] == ["'self'"], path  # no inline or foreign script
        assert directives["frame-ancestors"] == ["'none'"], path
        assert directives["object-src"] == ["'none'"], path
        assert headers["X-Frame-Options"] == "DENY", path
        assert headers["Referrer-Policy"] == "no-referrer", path
        assert headers["X-Content-Type-Options"] == "nosniff", path
        assert headers.get_all("Content-Security-Policy") == [csp], path  # sent once
