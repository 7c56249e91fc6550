"""End to end: a real uvicorn process on a free loopback port, real WebSockets."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websockets

from tests.store import redis_switch

SEND_TIMEOUT_S = 1.5


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def http(base: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(
        base + path, data=data, method=method, headers={"content-type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            raw = r.read()
            return r.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "BPV_SEND_TIMEOUT_S": str(SEND_TIMEOUT_S), **redis_switch.server_env()}
    cmd = [sys.executable, "-m", "app.cli", "--host", "127.0.0.1", "--port", str(port)]
    cmd += redis_switch.cli_args()  # BPV_TEST_REDIS=1: two workers sharing their runs
    # The log goes to a file: a pipe nobody reads fills after ~64 KB of access-log lines and
    # then blocks the server mid-test.
    log_path = tmp_path_factory.mktemp("uvicorn") / "log.txt"
    base = f"http://127.0.0.1:{port}"
    with log_path.open("wb") as log, subprocess.Popen(cmd, env=env, stdout=log, stderr=log) as proc:
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    if http(base, "GET", "/healthz")[0] == 200:
                        break
                except OSError:
                    pass
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError(f"uvicorn did not start:\n{log_path.read_text()}")
                time.sleep(0.1)
            yield base
        finally:
            proc.terminate()
            proc.wait(timeout=15)


def ws_url(base: str, run_id: str) -> str:
    return base.replace("http://", "ws://") + f"/api/runs/{run_id}/stream"


def test_stream_frames_over_a_real_websocket(server: str) -> None:
    status, info = http(server, "POST", "/api/runs", {})
    assert status == 201
    run_id = info["id"]

    async def scenario() -> list[dict[str, Any]]:
        frames = []
        async with websockets.connect(ws_url(server, run_id), origin=server) as ws:
            first = json.loads(await ws.recv())
            assert first["grid"] is not None and first["history"] is not None
            await ws.send(json.dumps({"type": "play"}))
            t0 = time.monotonic()
            while time.monotonic() - t0 < 1.0:
                frames.append(json.loads(await ws.recv()))
        return frames

    frames = asyncio.run(scenario())
    assert 5 <= len(frames) <= 32  # at most 30 frames/s (fewer on a very busy machine)
    steps = [f["step"] for f in frames]
    assert steps == sorted(steps) and steps[-1] >= 10 * len(frames)
    assert all(f["status"] == "running" for f in frames)
    t0 = time.monotonic()
    while http(server, "GET", f"/api/runs/{run_id}")[1]["status"] != "paused":
        assert time.monotonic() - t0 < 1.0, "training went on after the client left"
        time.sleep(0.02)
    step = http(server, "GET", f"/api/runs/{run_id}")[1]["step"]
    time.sleep(0.2)
    assert http(server, "GET", f"/api/runs/{run_id}")[1]["step"] == step


def test_foreign_origin_is_refused(server: str) -> None:
    run_id = http(server, "POST", "/api/runs", {})[1]["id"]

    async def scenario() -> int:
        try:
            async with websockets.connect(ws_url(server, run_id), origin="http://evil.example"):
                return 101
        except websockets.InvalidStatus as e:
            return int(e.response.status_code)

    assert asyncio.run(scenario()) == 403


def _masked_text(text: str) -> bytes:
    payload = text.encode()
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return struct.pack("!BB", 0x81, 0x80 | len(payload)) + mask + masked


@pytest.mark.slow
def test_a_client_that_stops_reading_is_dropped(server: str) -> None:
    """Big frames at 30/s to a client with a tiny receive buffer that never reads."""
    info = http(server, "POST", "/api/runs", {"hidden": [8, 8, 8, 8, 8, 8]})[1]
    run_id = info["id"]
    port = int(server.rsplit(":", 1)[1])
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /api/runs/{run_id}/stream HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    assert b"101" in sock.recv(128)
    sock.sendall(_masked_text(json.dumps({"type": "speed", "steps_per_frame": 1})))
    sock.sendall(_masked_text(json.dumps({"type": "play"})))
    try:
        t0 = time.monotonic()
        seen_running = False
        while True:
            state = http(server, "GET", f"/api/runs/{run_id}")[1]["status"]
            seen_running |= state == "running"
            if seen_running and state == "paused":
                break
            assert time.monotonic() - t0 < 30, "the stuck client was never dropped"
            time.sleep(0.2)
        # Not dropped at once: a client that never answers the server's pings (one every
        # send_timeout_s / 2, each given send_timeout_s / 2) goes after the first one.
        assert time.monotonic() - t0 >= SEND_TIMEOUT_S / 2
    finally:
        sock.close()
    assert http(server, "GET", "/healthz")[0] == 200


def test_a_message_over_max_ws_message_bytes_closes_the_stream_with_1009(server: str) -> None:
    """docs/api.md listed the close codes without 1009: a message over 64 KiB (UTF-8 bytes)
    is refused by uvicorn's WebSocket layer, which closes the stream; one of exactly 64 KiB
    is read (here: an ``error``, it is not JSON) and the stream stays."""
    run_id = http(server, "POST", "/api/runs", {})[1]["id"]
    limit = http(server, "GET", "/api/options")[1]["limits"]["max_ws_message_bytes"]
    assert limit == 65_536

    async def scenario() -> tuple[str, int | None, int]:
        async with websockets.connect(ws_url(server, run_id), origin=server) as ws:
            await ws.recv()
            await ws.send("é" + "x" * (limit - 2))  # exactly limit bytes of UTF-8
            while (reply := json.loads(await ws.recv()))["type"] != "error":
                pass
            await ws.send("é" + "x" * (limit - 1))  # one byte more (limit characters)
            try:
                while True:
                    await ws.recv()
            except websockets.ConnectionClosed as e:
                assert e.rcvd is not None
                return reply["detail"], e.rcvd.code, len(reply)

    detail, code, _ = asyncio.run(scenario())
    assert "not valid JSON" in detail
    assert code == 1009
    docs = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text()
    said = " ".join(docs.split())
    assert "`1009` a message longer than `max_ws_message_bytes` (65,536 bytes of UTF-8" in said
