"""The heaviest streams a student can ask for: ``async with heavy_streams(base, k): ...``.

Each of ``k`` mischievous students (each from its own loopback address, ``127.2.0.1``, ...,
so a per-client run cap does not refuse them and it is the pacer that has to keep the class
fair) creates the largest network ``/api/options`` allows (``max_layers`` hidden layers of
``max_width``; or any other ``body``), opens its stream, sets the speed to the top of the
``steps_per_frame`` range ("max") and plays. It reads every frame the server sends, as fast
as it can, and answers the server's pings, but over a plain socket, reading frame headers
only: the abuse costs the server everything and this process little (an honest student
measured beside it in the same process is not slowed by the abuser's own client).

On leaving the ``async with`` the sockets close and the runs are deleted. The result says
how many runs were refused (status counts) and how many bytes each stream received.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import struct
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

_CREATING = 4  # runs asked for at once: well under the server's queue of slow work


@dataclass
class Heavy:
    """What the abusers got: runs made, refusals by status, bytes read per stream; and
    :meth:`play` / :meth:`pause` to switch the abuse on and off on the open streams."""

    made: int = 0
    refused: dict[int, int] = field(default_factory=dict)
    received: list[int] = field(default_factory=list)
    ended: list[str] = field(default_factory=list)  # streams that ended early, and why
    writers: list[asyncio.StreamWriter] = field(default_factory=list, repr=False)  # open ones

    async def _send(self, text: str) -> None:
        for w in self.writers:
            w.write(masked_text(text))
        for w in self.writers:
            with contextlib.suppress(OSError):
                await w.drain()

    async def play(self) -> None:
        """Every open stream plays (at the speed it set: "max")."""
        await self._send('{"type": "play"}')

    async def pause(self) -> None:
        """Every open stream pauses: the runs and streams stay, their training stops."""
        await self._send('{"type": "pause"}')


def abuser_address(k: int) -> str:
    return f"127.2.{k // 250}.{k % 250 + 1}"


def masked(opcode: int, payload: bytes) -> bytes:
    """A client-to-server WebSocket frame (clients must mask, RFC 6455 5.3)."""
    mask = os.urandom(4)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    n, first = len(payload), 0x80 | opcode
    head = struct.pack("!BB", first, 0x80 | n) if n < 126 else struct.pack("!BBH", first, 0xFE, n)
    return head + mask + body


def masked_text(text: str) -> bytes:
    return masked(0x1, text.encode())


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One server-to-client frame (never masked): its opcode and payload."""
    first, second = await reader.readexactly(2)
    n = second & 0x7F
    if n == 126:
        (n,) = struct.unpack("!H", await reader.readexactly(2))
    elif n == 127:
        (n,) = struct.unpack("!Q", await reader.readexactly(8))
    return first & 0x0F, await reader.readexactly(n)


async def largest_body(http: httpx.AsyncClient) -> dict[str, Any]:
    limits = (await http.get("/api/options")).json()["limits"]
    return {"hidden": [limits["max_width"]] * limits["max_layers"]}


async def _stream(
    port: int, address: str, run_id: str, speed: int, out: Heavy, i: int, playing: bool
) -> None:
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", port, local_addr=(address, 0), limit=1 << 20
    )
    try:
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            (
                f"GET /api/runs/{run_id}/stream HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                f"Origin: http://127.0.0.1:{port}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")  # the 101, before any message
        if not head.startswith(b"HTTP/1.1 101"):
            out.ended.append(head.split(b"\r\n")[0].decode(errors="replace"))
            return
        writer.write(masked_text(f'{{"type": "speed", "steps_per_frame": {speed}}}'))
        if playing:
            writer.write(masked_text('{"type": "play"}'))
        await writer.drain()
        out.writers.append(writer)
        while True:  # every frame read whole; pings answered, as any WebSocket client does
            opcode, payload = await read_frame(reader)
            out.received[i] += len(payload)
            if opcode == 0x9:
                writer.write(masked(0xA, payload))
            elif opcode == 0x8:
                out.ended.append(f"closed by the server: {payload[:2].hex()} {payload[2:60]!r}")
                return
    except (OSError, asyncio.IncompleteReadError) as e:
        out.ended.append(f"dropped: {type(e).__name__}")
    finally:
        if writer in out.writers:
            out.writers.remove(writer)
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


@contextlib.asynccontextmanager
async def heavy_streams(
    base: str, k: int, body: dict[str, Any] | None = None, *, playing: bool = True
) -> AsyncIterator[Heavy]:
    """``k`` streams of the largest network (or ``body``) at "max" speed, read as fast as
    they come, for as long as the ``async with`` lasts. ``playing=False``: entered once every
    stream is open (within 10 s) and paused; :meth:`Heavy.play` starts the abuse."""
    out = Heavy(received=[0] * k)
    port = int(base.rsplit(":", 1)[1])
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        body = body if body is not None else await largest_body(http)
        speed = (await http.get("/api/options")).json()["limits"]["steps_per_frame"][1]
    made: list[tuple[str, str] | None] = [None] * k
    creating = asyncio.Semaphore(_CREATING)

    async def create(i: int) -> None:
        address = abuser_address(i)
        transport = httpx.AsyncHTTPTransport(local_address=address)
        async with (
            creating,
            httpx.AsyncClient(
                base_url=base, transport=transport, headers={"origin": base}, timeout=10
            ) as http,
        ):
            r = await http.post(
                "/api/runs",
                content=orjson.dumps(body),
                headers={"content-type": "application/json"},
            )
        if r.status_code == 201:
            made[i] = (address, r.json()["id"])
        else:
            out.refused[r.status_code] = out.refused.get(r.status_code, 0) + 1

    await asyncio.gather(*(create(i) for i in range(k)))
    runs = [m for m in made if m is not None]
    out.made = len(runs)
    tasks = [
        asyncio.create_task(_stream(port, a, run_id, speed, out, i, playing))
        for i, (a, run_id) in enumerate(runs)
    ]
    try:
        if not playing:  # every stream open (its speed set) or ended, before the abuse starts
            deadline = time.monotonic() + 10.0
            while len(out.writers) + len(out.ended) < len(runs) and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
        yield out
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        headers = {"origin": base, "content-type": "application/json"}  # DELETE needs the type
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=10) as http:
            for _, run_id in runs:
                with contextlib.suppress(httpx.HTTPError):
                    await http.delete(f"/api/runs/{run_id}")
