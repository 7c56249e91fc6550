"""Real processes for the Redis-backed store's tests: a redis-server and backprop-viz
servers on free loopback ports, each stopped by its own pid.

:class:`RedisServer` runs Debian's ``redis-server`` (``make redis``) with no persistence
(``--save ""``, no append-only file): its data lives as long as the process, as a test's
should. :class:`Server` runs ``python -m app.cli`` (the console script) with the given
``BPV_*`` settings; :meth:`Server.kill` is ``kill -9``: no graceful shutdown, no last
checkpoint, streams cut.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DATABASES = 4096  # a redis-server's numbered databases (redis_switch: one per deployment)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(ok: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ok():
            return
        time.sleep(0.02)
    raise AssertionError(f"not within {timeout} s: {what}")


def _stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, sig)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


class RedisServer:
    """redis-server on 127.0.0.1, a free port, nothing written to disk."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        if not Path(binary).exists():
            raise RuntimeError("redis-server not found: run `make redis`")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--protected-mode", "yes", "--loglevel", "warning",
             "--databases", str(DATABASES)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_until(self._answers, 10, "redis-server answers PING")

    def _answers(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"redis-server exited with {self.proc.returncode}")
        try:
            return self.client().ping() is True
        except OSError:
            return False
        except Exception:
            return False

    def client(self) -> Any:
        import redis

        return redis.Redis.from_url(self.url, socket_timeout=5)

    def stop(self) -> None:
        _stop(self.proc)


class Server:
    """``python -m app.cli`` on a free loopback port with ``env`` (BPV_* settings)."""

    def __init__(self, env: dict[str, str], args: tuple[str, ...] = ()) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.ws_base = f"ws://127.0.0.1:{self.port}"
        cmd = [sys.executable, "-m", "app.cli", "--host", "127.0.0.1", "--port", str(self.port)]
        self.proc = subprocess.Popen(
            [*cmd, *args],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def wait_healthy(self, timeout: float = 20) -> Server:
        def up() -> bool:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                raise RuntimeError(f"server exited with {self.proc.returncode}: {err}")
            try:
                return call(self.base, "GET", "/healthz", timeout=1)[0] == 200
            except OSError:
                return False

        wait_until(up, timeout, f"the server on {self.port} answers /healthz")
        return self

    def kill(self) -> None:
        """``kill -9``."""
        _stop(self.proc, signal.SIGKILL)
        self._close()

    def stop(self) -> None:
        _stop(self.proc)
        self._close()

    def _close(self) -> None:
        if self.proc.stderr is not None:
            self.proc.stderr.close()


def call(
    base: str, method: str, path: str, body: Any = None, timeout: float = 10
) -> tuple[int, Any]:
    """One JSON request; (status, parsed body or None)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(
        base + path, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw = r.read()
            return r.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        raw = e.read()
        e.close()
        try:
            return e.code, json.loads(raw)
        except ValueError:
            return e.code, raw
