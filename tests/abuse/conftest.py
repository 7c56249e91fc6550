"""A real uvicorn for the abuse tests: started as the CLI starts it, on a free loopback port.

``serve(**env)`` starts one (``BPV_*`` settings as keyword arguments, e.g.
``serve(BPV_MAX_RUNS_PER_CLIENT="3")``) and returns a :class:`Server`; every server a test
started is stopped by its pid when the test ends. Each abuse test is bounded (≤ 20 s) and
sends traffic only to 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    port: int

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_base(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def rss_mb(self) -> float:
        """Resident memory of the server process in MB (``/proc/PID/status``)."""
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


def start(env: dict[str, str], timeout_s: float = 20.0) -> Server:
    port = free_port()
    cmd = [sys.executable, "-m", "app.cli", "--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = Server(proc, port)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"uvicorn exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(server.base + "/healthz", timeout=1) as r:
                r.read()
            if _listens(proc.pid, port):  # not another test's server on a reused port
                return server
        except OSError:
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError("uvicorn did not start")


def _listens(pid: int, port: int) -> bool:
    """Whether process ``pid`` holds the listening TCP socket on ``port`` (two xdist
    workers can draw the same free port: the loser's healthz would reach the winner)."""
    fds = Path(f"/proc/{pid}/fd")
    inodes = set()
    for fd in fds.iterdir() if fds.exists() else ():
        with contextlib.suppress(OSError):
            link = os.readlink(fd)
            if link.startswith("socket:["):
                inodes.add(link[8:-1])
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            cols = line.split()
            if cols[3] == "0A" and int(cols[1].rsplit(":", 1)[1], 16) == port and cols[9] in inodes:
                return True
    return False


@pytest.fixture
def serve() -> Iterator[Callable[..., Server]]:
    started: list[Server] = []

    def _serve(**env: str) -> Server:
        server = start(env)
        started.append(server)
        return server

    yield _serve
    for server in started:
        server.stop()
