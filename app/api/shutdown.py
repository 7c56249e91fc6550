"""A request still running when the server stops is answered 503 with ``Retry-After``.

At shutdown uvicorn stops accepting, waits its graceful period for requests in flight, then
cancels them; a cancelled request used to be answered 500 ("Exception in ASGI application").
This middleware turns that cancellation, before any answer has started, into a 503 that
tells the client to come back. Runs live in memory, so the run it worked on is gone after
a restart (README, "Classroom safety").
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.asgi_answer import send_json

RETRY_AFTER_S = 10
DETAIL = (
    "the server is shutting down; runs live in memory and are lost on restart: "
    "try again in a few seconds and create a new run"
)


class ShutdownMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracked_send)
        except asyncio.CancelledError:
            if started:
                raise
            retry = [(b"retry-after", str(RETRY_AFTER_S).encode()), (b"connection", b"close")]
            await send_json(send, 503, {"detail": DETAIL}, retry)
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()  # answered: the request ends here, as uvicorn asked
