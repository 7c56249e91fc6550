"""Stalled readers (issue 10): a client that stops reading its stream is dropped within
``send_timeout_s``, whatever its frame size, and a client that reads is never dropped.

The server runs with ``BPV_SEND_TIMEOUT_S=2``. Each stalled student plays the default
experiment (small frames: 3-50 KB, the case that used to take 17-36 s at the default 10 s,
because the kernel's buffers took that long to fill). One never reads at all (a plain
socket); one reads for a while (a WebSocket library, answering pings), so that its buffers
have grown, and then stops. Beside them, an honest student streams the whole time. The
stalled students' runs must pause (their stream ended) within the timeout of the moment
they stopped reading, plus the time to see it; the honest student must still be receiving
frames at the end, after several pings.
"""

from __future__ import annotations

import asyncio
import base64
import os
import time
from collections.abc import Callable

import httpx
import websockets
from websockets.typing import Origin

from tests.abuse.conftest import Server
from tests.abuse.heavy import masked_text

SEND_TIMEOUT_S = 2.0
SEEN_WITHIN_S = 1.0  # polling, scheduling and a busy machine


async def _play_raw(port: int, run_id: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            f"GET /api/runs/{run_id}/stream HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101"), head
    writer.write(masked_text('{"type": "play"}'))
    await writer.drain()
    return reader, writer


async def _status(http: httpx.AsyncClient, run_id: str) -> str:
    status: str = (await http.get(f"/api/runs/{run_id}")).json()["status"]
    return status


async def _dropped_after(http: httpx.AsyncClient, run_id: str, since: float) -> float:
    """Seconds from ``since`` until the run stops running (its stream ended)."""
    while await _status(http, run_id) == "running":
        assert time.monotonic() - since < 3 * SEND_TIMEOUT_S, "the stalled client was kept"
        await asyncio.sleep(0.1)
    return time.monotonic() - since


async def _scenario(server: Server) -> None:
    headers = {"origin": server.base}
    async with httpx.AsyncClient(base_url=server.base, headers=headers, timeout=10) as http:
        ids = [(await http.post("/api/runs", json={})).json()["id"] for _ in range(3)]
        never, later, honest = ids
        url = f"{server.ws_base}/api/runs/{honest}/stream"
        async with websockets.connect(url, origin=Origin(server.base), max_size=None) as ws:
            await ws.send('{"type": "play"}')
            frames = 0

            async def read_honestly() -> None:
                nonlocal frames
                async for message in ws:
                    frames += isinstance(message, str) and message.startswith('{"type":"frame"')

            honest_task = asyncio.create_task(read_honestly())

            # One never reads: from the moment it played.
            _, w1 = await _play_raw(server.port, never)
            t_never = time.monotonic()
            while await _status(http, never) != "running":
                await asyncio.sleep(0.02)

            # One reads for 1.5 s, with a WebSocket library that answers pings as it
            # reads (its receive buffers grow), then stops: the library stops reading from
            # the socket once 4 messages wait unread.
            later_ws = await websockets.connect(
                f"{server.ws_base}/api/runs/{later}/stream", max_size=None, max_queue=4
            )
            await later_ws.send('{"type": "play"}')
            read_until = time.monotonic() + 1.5
            while (left := read_until - time.monotonic()) > 0:
                try:
                    await asyncio.wait_for(later_ws.recv(), left)
                except TimeoutError:
                    break
            t_later = time.monotonic()

            dropped_never = await _dropped_after(http, never, t_never)
            dropped_later = await _dropped_after(http, later, t_later)
            # The honest student streamed throughout, 2 timeouts (4 pings) at least by now.
            await asyncio.sleep(max(0.0, 2 * SEND_TIMEOUT_S - (time.monotonic() - t_never)))
            frames_before = frames
            await asyncio.sleep(0.5)
            assert not honest_task.done(), "the honest student was dropped"
            assert frames > frames_before, "the honest student stopped getting frames"
            assert await _status(http, honest) == "running"
            honest_task.cancel()
        w1.close()
        later_ws.transport.abort()
    print(f"dropped after {dropped_never:.1f} s (never read), {dropped_later:.1f} s (stopped)")
    assert dropped_never <= SEND_TIMEOUT_S + SEEN_WITHIN_S
    assert dropped_later <= SEND_TIMEOUT_S + SEEN_WITHIN_S


def test_a_client_that_stops_reading_is_dropped_within_send_timeout(
    serve: Callable[..., Server],
) -> None:
    server = serve(BPV_SEND_TIMEOUT_S=str(SEND_TIMEOUT_S))
    t0 = time.monotonic()
    asyncio.run(_scenario(server))
    assert time.monotonic() - t0 < 20
