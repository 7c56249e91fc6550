"""The HTTP connection layer: uvicorn's httptools protocol with a classroom's guards.

uvicorn (0.54) counts every open connection against ``limit_concurrency`` from the moment
it is accepted, and a connection that never sends a byte has no timeout (the keep-alive
timer starts only after a first answer). So 1,000 idle connections from one laptop made
every request 503 for as long as they stayed open; and httptools buffers headers without a
size limit (a 100 MB header was read whole). This subclass, passed to uvicorn as
``http=`` (``--http app.api.connections:ClassroomHttpProtocol`` in the Docker image), adds:

* **a header deadline** (``BPV_HEADER_TIMEOUT_S``): a connection must finish a request's
  headers within it after opening, or after its previous answer; idle and slowloris
  connections are closed (a partly sent request gets 408 first);
* **waiting connections do not count** against ``limit_concurrency``: only connections
  with a request in progress (or a WebSocket) do, so idle sockets never crowd out a
  student;
* **a per-address cap on waiting connections** (``BPV_MAX_WAITING_PER_CLIENT``): beyond
  it the address's oldest waiting connection is closed, so one client cannot hold
  thousands of file descriptors; other addresses are untouched;
* **a header size cap** (``BPV_MAX_HEADER_BYTES``): a longer request line is 414, longer
  headers are 431, and the connection is closed once the cap is passed, so memory stays
  bounded by the cap plus one socket read.

We chose this over a front server (nginx, HAProxy) to keep the image one process; the same
protections are what nginx's ``client_header_timeout`` and ``large_client_header_buffers``
give.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

import orjson
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from app.settings import Settings, get_settings


class _Waiting:
    """The connections of one server that are waiting for a request, per client address,
    oldest first."""

    def __init__(self, per_client: int) -> None:
        self.per_client = per_client
        self.by_client: dict[str, dict[ClassroomHttpProtocol, None]] = {}
        self.total = 0

    def add(self, conn: ClassroomHttpProtocol) -> None:
        queue = self.by_client.setdefault(conn.client_address, {})
        if conn in queue:
            return
        queue[conn] = None
        self.total += 1
        while len(queue) > self.per_client:
            oldest = next(iter(queue))
            self.discard(oldest)
            oldest.close_quietly()

    def discard(self, conn: ClassroomHttpProtocol) -> None:
        queue = self.by_client.get(conn.client_address)
        if queue is None or conn not in queue:
            return
        del queue[conn]
        self.total -= 1
        if not queue:
            del self.by_client[conn.client_address]


_REGISTRIES: weakref.WeakKeyDictionary[ServerState, _Waiting] = weakref.WeakKeyDictionary()


def _registry(state: ServerState, per_client: int) -> _Waiting:
    waiting = _REGISTRIES.get(state)
    if waiting is None:
        waiting = _REGISTRIES[state] = _Waiting(per_client)
    return waiting


def _raw_response(status: int, reason: str, detail: str) -> bytes:
    body = orjson.dumps({"detail": detail})
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        "content-type: application/json\r\n"
        f"content-length: {len(body)}\r\n"
        "x-content-type-options: nosniff\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class ClassroomHttpProtocol(HttpToolsProtocol):
    """uvicorn's ``HttpToolsProtocol`` plus the guards in this module's docstring."""

    settings: Settings | None = None  # tests may set one; otherwise the BPV_ environment

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        s = self.settings or get_settings()
        self.header_timeout_s = s.header_timeout_s
        self.max_header_bytes = s.max_header_bytes
        self.waiting = _registry(server_state, s.max_waiting_per_client)
        self.concurrency_cap = config.limit_concurrency
        self.client_address = ""
        self._deadline: asyncio.TimerHandle | None = None
        self._unparsed_header_bytes = 0  # bytes fed since the current request began
        self._header_size = 0  # the parsed request line and headers of this request
        self._reading_body = False
        self._refused = False

    # -- waiting for a request ------------------------------------------------------------
    def _wait_for_request(self) -> None:
        self._stop_waiting()
        self._unparsed_header_bytes = 0
        self._deadline = self.loop.call_later(self.header_timeout_s, self._too_slow)
        self.waiting.add(self)

    def _stop_waiting(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        self.waiting.discard(self)

    def _too_slow(self) -> None:
        self._deadline = None
        self.waiting.discard(self)
        if self.transport.is_closing():
            return
        if self._unparsed_header_bytes:
            detail = f"request headers not complete within {self.header_timeout_s:g} s"
            self.transport.write(_raw_response(408, "Request Timeout", detail))
        self.transport.close()

    def close_quietly(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        if not self.transport.is_closing():
            self.transport.close()

    # -- uvicorn's protocol interface -----------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.client_address = self.client[0] if self.client else ""
        self._wait_for_request()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_waiting()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused or self.transport.is_closing():
            return  # refused already: read nothing more
        self._unparsed_header_bytes += len(data)
        super().data_received(data)
        if self._reading_body or self.transport.is_closing():
            return
        if self._unparsed_header_bytes > self.max_header_bytes:
            self._refuse_headers()

    def _refuse_headers(self) -> None:
        self._stop_waiting()
        if len(self.url) > self.max_header_bytes:
            response = _raw_response(
                414,
                "URI Too Long",
                f"request line longer than {self.max_header_bytes} bytes (max_header_bytes)",
            )
        else:
            response = _raw_response(
                431,
                "Request Header Fields Too Large",
                f"request headers larger than {self.max_header_bytes} bytes (max_header_bytes)",
            )
        self._refused = True
        self.transport.write(response)
        self.transport.close()
        self.url = b""
        self.headers = []

    def on_message_begin(self) -> None:
        self._header_size = 0
        super().on_message_begin()

    def on_url(self, url: bytes) -> None:
        self._header_size += len(url)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_size += len(name) + len(value) + 4  # "name: value\r\n"
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        if self._refused:
            return
        if self._header_size > self.max_header_bytes:  # all of it came in one read
            self._refuse_headers()
            return
        self._stop_waiting()
        self._reading_body = True
        self._unparsed_header_bytes = 0
        if self.concurrency_cap is not None:
            # Connections still waiting for a request do not count against the cap.
            active = len(self.connections) - self.waiting.total
            busy = active >= self.concurrency_cap or len(self.tasks) >= self.concurrency_cap
            self.limit_concurrency = 0 if busy else None
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self._refused:
            return
        self._reading_body = False
        self._unparsed_header_bytes = 0
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.cycle.response_complete:
            self._wait_for_request()

    def handle_websocket_upgrade(self) -> None:
        self._stop_waiting()
        super().handle_websocket_upgrade()
