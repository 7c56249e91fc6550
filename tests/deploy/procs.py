"""Real processes on loopback for the deployment tests: uvicorn replicas and HAProxy.

Every process is started by :class:`Proc` and stopped by its own pid (terminate, then kill
after a bound); a test uses them in ``with`` blocks so that a failing assertion still stops
them. HAProxy runs a copy of ``deploy/haproxy.cfg`` in which only the replica lines differ:
two ``server`` lines with loopback ports instead of the DNS template, the rest (affinity,
health checks, timeouts) exactly as deployed.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
HAPROXY_CFG = DEPLOY / "haproxy.cfg"
TEMPLATE_LINE = re.compile(r'^(\s*)server-template app (\d+) "\$\{BPV_APP-app:8000\}"\s*$', re.M)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def haproxy_binary() -> str:
    found = shutil.which("haproxy") or (
        "/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None
    )
    if found is None:
        raise RuntimeError("haproxy not found: run `make haproxy`")
    return found


def loopback_config(ports: list[int]) -> str:
    """deploy/haproxy.cfg with its replica templates replaced by loopback servers, in the
    same order in both backends (run_home keeps server ids that both backends share)."""
    text = HAPROXY_CFG.read_text()
    templates = TEMPLATE_LINE.findall(text)
    if len(templates) != 2:
        raise AssertionError(f"{HAPROXY_CFG}: {len(templates)} server-template lines, not 2")

    def servers(m: re.Match[str]) -> str:
        # The template's other slots stay, as its unresolved ones do: in maintenance.
        indent, slots = m.group(1), int(m.group(2))
        lines = [f"{indent}server app{i + 1} 127.0.0.1:{p}" for i, p in enumerate(ports)]
        rest = range(len(ports), slots)
        lines += [f"{indent}server app{i + 1} 127.0.0.1:1 disabled" for i in rest]
        return "\n".join(lines)

    return TEMPLATE_LINE.sub(servers, text)


def get(url: str, timeout: float = 5) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        body = e.read()
        e.close()
        return e.code, body


def post(url: str, body: bytes = b"{}", timeout: float = 10) -> tuple[int, bytes]:
    req = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        data = e.read()
        e.close()
        return e.code, data


class Proc:
    """A subprocess stopped by its pid when the ``with`` block ends (or by :meth:`stop`)."""

    def __init__(self, cmd: list[str], env: dict[str, str] | None = None) -> None:
        self.cmd = cmd
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = b""

    def start(self) -> Proc:
        self.proc = subprocess.Popen(
            self.cmd, cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        return self

    def kill(self) -> None:
        """SIGKILL, as a crashed worker: no graceful shutdown, streams cut."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=8)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        if self.proc.stderr is not None:
            self.log += self.proc.stderr.read()
            self.proc.stderr.close()
        self.proc = None

    def __enter__(self) -> Proc:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def wait_until(ok: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ok():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout} s: {what}")


def healthy(url: str) -> bool:
    try:
        return get(f"{url}/healthz", timeout=1)[0] == 200
    except OSError:
        return False


class App(Proc):
    """One replica: uvicorn serving the app on 127.0.0.1:port (the image's protocol flags)."""

    def __init__(self, port: int, env: dict[str, str] | None = None) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        cmd = [
            sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory",
            "--host", "127.0.0.1", "--port", str(port),
            "--ws-per-message-deflate", "false", "--log-level", "warning",
            "--timeout-graceful-shutdown", "2",
        ]  # fmt: skip
        super().__init__(cmd, env)

    def start(self) -> App:
        """Starts and waits until it answers (:meth:`launch` and :meth:`ready` in one)."""
        return self.launch().ready()

    def launch(self) -> App:
        super().start()
        return self

    def ready(self) -> App:
        assert self.proc is not None
        wait_until(
            lambda: self.proc is not None and (self.proc.poll() is not None or healthy(self.url)),
            45,
            f"uvicorn on {self.port} answers /healthz",
        )
        if self.proc.poll() is not None:
            self.stop()
            raise RuntimeError(f"uvicorn exited:\n{self.log.decode(errors='replace')}")
        return self


class HAProxy(Proc):
    """HAProxy in the foreground with the deployed config pointed at loopback replicas."""

    def __init__(self, replica_ports: list[int], cfg_path: Path) -> None:
        self.port = free_port()
        self.stats_port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cfg_path.write_text(loopback_config(replica_ports))
        env = {
            "BPV_LISTEN": f"127.0.0.1:{self.port}",
            "BPV_STATS_BIND": f"127.0.0.1:{self.stats_port}",
            "BPV_MAXCONN": "2000",  # this machine's hard limit of descriptors is lower
        }
        super().__init__([haproxy_binary(), "-db", "-f", str(cfg_path)], env)

    def start(self) -> HAProxy:
        super().start()
        try:
            wait_until(lambda: healthy(self.url), 10, "HAProxy forwards /healthz")
        except AssertionError:
            self.stop()
            log = self.log.decode(errors="replace")
            raise AssertionError(f"HAProxy did not start:\n{log}") from None
        return self

    def server_states(self) -> dict[str, str]:
        """{backend/server: status} from the stats page's CSV (e.g. "UP", "DOWN")."""
        _, body = get(f"http://127.0.0.1:{self.stats_port}/stats;csv")
        states = {}
        for line in body.decode().splitlines()[1:]:
            cols = line.split(",")
            if len(cols) > 17 and cols[1] not in ("FRONTEND", "BACKEND"):
                states[f"{cols[0]}/{cols[1]}"] = cols[17]
        return states
