"""``backprop-viz --workers N``: uvicorn's supervisor, each worker on a listening socket of
its own.

uvicorn binds one socket in its supervisor and every worker accepts from it, so the kernel
hands each new connection to whichever worker happens to be waiting: not evenly. 160
students' streams landed 121 / 40 and 104 / 57 on two workers (bench/bench_workers.py), and
a class runs at the pace of its busier worker. Here every worker binds its own socket to the
same address with ``SO_REUSEPORT``, and the kernel spreads new connections over the
listening sockets by a hash of their addresses, evenly, however busy each worker is (Linux;
a socket option since 3.9). The supervisor keeps everything else of uvicorn's: it restarts a
dead worker, which binds again; a dead worker's queued, not yet accepted, connections are
reset (the page reconnects).

The supervisor holds the address with a socket of the same group that is bound but never
listens (only listening sockets receive connections): a restarting worker always finds the
port its own. Before that it checks the port with a plain bind, so a port in use, even by
another ``SO_REUSEPORT`` server, fails at once as uvicorn's own bind would.
"""

from __future__ import annotations

import logging
import socket
import sys

from uvicorn import Config
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import multiprocess

log = logging.getLogger("uvicorn.error")


def _socket(host: str) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    return sock


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A socket bound to ``(host, port)`` with ``SO_REUSEPORT`` (not listening yet)."""
    sock = _socket(host)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


class OwnSocketProcess(multiprocess.Process):
    """A uvicorn worker that serves on a socket it binds itself (in the worker)."""

    def target(self, sockets: list[socket.socket] | None = None) -> None:  # pragma: no cover
        super().target([reuse_port_socket(self.config.host, self.config.port)])


def serve_workers(config: Config) -> None:
    """uvicorn's supervisor over ``config.workers`` workers, each on its own socket."""
    try:
        with _socket(config.host) as probe:  # in use by anyone: fail as uvicorn would
            probe.bind((config.host, config.port))
        hold = reuse_port_socket(config.host, config.port)
    except OSError as e:
        log.error(e)
        sys.exit(STARTUP_FAILURE)
    log.info("Uvicorn running on http://%s:%d (Press CTRL+C to quit)", config.host, config.port)
    # uvicorn's supervisor makes its workers with this module's `Process` (4 places).
    multiprocess.Process = OwnSocketProcess  # type: ignore[misc]
    try:
        multiprocess.Multiprocess(config, sockets=[]).run()
    finally:
        hold.close()
