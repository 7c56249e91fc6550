"""One JSON answer sent straight from ASGI middleware (before or instead of the app)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
from starlette.types import Send


async def send_json(
    send: Send, status: int, content: Any, headers: Iterable[tuple[bytes, bytes]] = ()
) -> None:
    """Answer ``status`` with ``content`` as JSON and ``headers`` (lower-case names)."""
    body = orjson.dumps(content)
    start = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *headers,
    ]
    await send({"type": "http.response.start", "status": status, "headers": start})
    await send({"type": "http.response.body", "body": body})
