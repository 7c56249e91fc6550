"""The WebSocket connection layer: uvicorn's sans-I/O protocol, dropping stalled readers.

A client that stops reading (a laptop lid closed, a script that never calls ``recv``, a
dead Wi-Fi link) is noticed by the application only when a send blocks, and a send blocks
only when every buffer on the way is full: the kernel's send buffer (auto-tuned up to
``net.ipv4.tcp_wmem``'s 4 MB), the client's receive buffer, and asyncio's 64 KB. At a
default experiment's 100-250 KB/s that took 17-36 s, not ``send_timeout_s`` (10 s); and
uvicorn's own keep-alive (ping every 20 s, 20 s for the pong) then only *closes* the
transport, which waits for a flush that never comes, so the application never heard.

This subclass, passed to uvicorn as ``ws=`` (``--ws
app.api.websocket_protocol:ClassroomWebSocketProtocol`` in the Docker image), makes the bound
``send_timeout_s``, for every frame size:

* **a ping every** ``send_timeout_s / 2``, **and** ``send_timeout_s / 2`` **for its pong**.
  A ping queues behind the frames already sent, so a client that stopped reading never
  answers it: it is dropped at most ``send_timeout_s`` after it stopped (the next ping
  leaves within half of it, its deadline is the other half). A client that reads, however
  slowly, answers as soon as it reaches the ping;
* **on a missed pong the connection is aborted**, not closed: nothing is flushed into a
  socket nobody reads, the application's ``receive`` gets ``websocket.disconnect`` at
  once, and the stream's run pauses (and is evicted once idle, as after any disconnect);
* **a bounded kernel send buffer** (``SEND_BUFFER_BYTES``), so that a slow but honest
  client is never minutes of frames behind: what does not fit waits in the stream's
  latest-frame slot, where a newer frame replaces it (``app.api.stream_session``).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from uvicorn.server import ServerState

from app.settings import Settings, get_settings

# The kernel doubles it (socket(7)): 128 KB in flight, most of a grid frame of the largest
# network, and at a school's LAN round trip far more than any stream's rate.
SEND_BUFFER_BYTES = 64 * 1024


class ClassroomWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's ``WebSocketsSansIOProtocol`` plus the guards in this module's docstring."""

    settings: Settings | None = None  # tests may set one; otherwise the BPV_ environment

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        half = (self.settings or get_settings()).send_timeout_s / 2
        self.ping_interval = half
        self.ping_timeout = half

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)

    def keepalive_timeout(self) -> None:
        super().keepalive_timeout()  # a close frame, then a close that waits for a flush
        self.transport.abort()  # ... that never comes: drop it now (connection_lost)
