"""The ``backprop-viz`` console script: serve the app with uvicorn.

The uvicorn flags suit a classroom of streaming clients (reliability.md): WebSocket
compression off (it halves throughput for many small JSON frames), incoming messages
capped small (control messages are tiny), a concurrency limit of about three connections
per student (503 beyond it), and a bounded graceful shutdown.
"""

from __future__ import annotations

import argparse
from typing import Any

import uvicorn

from app.api.websocket_protocol import ClassroomWebSocketProtocol
from app.settings import Settings, get_settings

GRACEFUL_SHUTDOWN_S = 5


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    return {
        "ws": ClassroomWebSocketProtocol,  # stalled readers dropped within send_timeout_s
        "ws_per_message_deflate": False,
        "ws_max_size": settings.max_ws_message_bytes,
        "limit_concurrency": settings.limit_concurrency,
        "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_S,
    }


def main(argv: list[str] | None = None) -> None:
    settings = get_settings()
    parser = argparse.ArgumentParser(prog="backprop-viz", description=__doc__)
    parser.add_argument("--host", default=settings.host)
    parser.add_argument("--port", type=int, default=settings.port)
    args = parser.parse_args(argv)
    print(f"backprop-viz: open http://{args.host}:{args.port} in your browser", flush=True)
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        log_level="info",
        **uvicorn_options(settings),
    )


if __name__ == "__main__":
    main()
