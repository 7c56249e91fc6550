"""The ``backprop-viz`` console script: serve the app with uvicorn."""

from __future__ import annotations

import argparse

import uvicorn

from app.settings import get_settings


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
        ws_per_message_deflate=False,
        log_level="info",
    )


if __name__ == "__main__":
    main()
