"""The ``backprop-viz`` console script: serve the app with uvicorn.

The uvicorn flags suit a classroom of streaming clients (reliability.md): WebSocket
compression off (it halves throughput for many small JSON frames), incoming messages
capped small (control messages are tiny), a concurrency limit of about three connections
per student (503 beyond it), a bounded graceful shutdown, and the connection guards of
:mod:`app.api.connections` (header deadline and size cap, idle connections not counted).

Every ``BPV_`` setting is checked before the server starts: a bad one prints one line,
``backprop-viz: BPV_X=... : must be ...``, and exits with status 2.
"""

from __future__ import annotations

import argparse
import contextlib
import resource
import sys
from typing import Any, NoReturn

import uvicorn

from app.api.connections import ClassroomHttpProtocol
from app.api.presets import PresetError, parse_preset
from app.api.websocket_protocol import ClassroomWebSocketProtocol
from app.settings import Settings, SettingsError, check, get_settings
from app.supervisor import serve_workers

GRACEFUL_SHUTDOWN_S = 5
MAX_WORKERS = 64
WORKER_HEALTHCHECK_S = 30


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    return {
        "http": ClassroomHttpProtocol,
        "ws": ClassroomWebSocketProtocol,  # stalled readers dropped within send_timeout_s
        "ws_per_message_deflate": False,
        "ws_max_size": settings.max_ws_message_bytes,
        "limit_concurrency": settings.limit_concurrency,
        "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_S,
        "server_header": False,
    }


def _raise_open_file_limit() -> None:
    """Lift the soft open-file limit to the hard one: each connection is a descriptor, and
    a container's soft limit can be 1,024."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 65_536)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def fail(message: str) -> NoReturn:
    print(f"backprop-viz: {message}", file=sys.stderr, flush=True)
    raise SystemExit(2)


def main(argv: list[str] | None = None) -> None:
    try:
        settings = get_settings()
    except SettingsError as e:
        fail(str(e))
    parser = argparse.ArgumentParser(prog="backprop-viz", description=__doc__)
    parser.add_argument("--host", default=settings.host)
    parser.add_argument("--port", type=int, default=settings.port)
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes on the one port (every core; needs BPV_REDIS_URL)",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.workers <= MAX_WORKERS:
        fail(f"--workers {args.workers} : must be an integer from 1 to {MAX_WORKERS}")
    if args.workers > 1 and not settings.redis_url:
        fail(
            f"--workers {args.workers} needs BPV_REDIS_URL: the workers share their runs "
            'through Redis (README, "Many students, many cores")'
        )
    try:
        check(Settings(**{**vars(settings), "host": args.host, "port": args.port}))
        parse_preset(settings.preset, settings)
    except SettingsError as e:
        fail(str(e))
    except PresetError as e:
        fail(str(e))
    if settings.redis_url:  # reachable now, or one line and exit 2 (app/api/placement.py)
        from app.main import redis_placement

        redis_placement().check_redis(settings.redis_url)
    _raise_open_file_limit()
    print(f"backprop-viz: open http://{args.host}:{args.port} in your browser", flush=True)
    options: dict[str, Any] = {
        "factory": True,
        "host": args.host,
        "port": args.port,
        "log_level": "info",
        "workers": args.workers,
        # A worker that takes longer than this to start or to answer its supervisor is
        # killed: importing NumPy and the app takes seconds on a busy 2-core machine.
        "timeout_worker_healthcheck": WORKER_HEALTHCHECK_S,
        **uvicorn_options(settings),
    }
    if args.workers == 1:
        uvicorn.run("app.main:create_app", **options)
    else:  # uvicorn's supervisor restarts a dead worker; each has its own socket
        serve_workers(uvicorn.Config("app.main:create_app", **options))


if __name__ == "__main__":
    main()
