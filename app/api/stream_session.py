"""One WebSocket client driving one run: the stream protocol (``docs/api.md``).

The adapter between a WebSocket and a :class:`~app.runs.player.Player`. Four tasks share
the connection:
- the receiver parses and validates control messages, gives them to the player, and answers
  bad ones with an ``error`` message carrying the message's ``id`` (if it had one), keeping
  the connection open;
- the player's ticker (:meth:`app.runs.player.Player.tick`) trains and builds frames;
- the sender sends the latest frame only (a newer frame replaces one not yet sent) with a
  timeout: a send blocked for ``send_timeout_s`` ends the session. (A client that stops
  reading is dropped within ``send_timeout_s`` by the WebSocket protocol's pings, before
  the buffers fill: :mod:`app.api.websocket_protocol`.)
- a watcher ends the session when the player is stopped (a newer stream on the same run,
  or the run's deletion).
A disconnect, a slow client or a stop ends all of them; the run stays (paused) until it is
evicted.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from typing import Any

import anyio
import orjson
from pydantic import TypeAdapter, ValidationError
from starlette.websockets import WebSocket, WebSocketDisconnect

from app.api.mapping import changes_of, run_info
from app.api.models import MAX_MESSAGE_ID, ClientMessage, MessageId
from app.runs.config import ConfigError
from app.runs.frame_pack import ENCODINGS
from app.runs.pacer import Pacer
from app.runs.player import Player
from app.runs.run import Run, RunDiverged
from app.runs.store import StoreFull
from app.runs.work import Workers, WorkersBusy
from app.settings import Settings

MESSAGE_ADAPTER: TypeAdapter[Any] = TypeAdapter(ClientMessage)
MESSAGES_PER_SECOND = 50  # a token bucket: bursts of this size, refilled per second
CLOSE_TIMEOUT_S = 1.0
CLOSE_BAD_ENCODING = 4400  # ?encoding= is not one of ENCODINGS (after an `error` message)

_MAX_SEND_S = 0.005  # CPU charged for one send at most (the largest frames take ~1 ms)


class SlowClient(Exception):
    pass


class Stopped(Exception):
    pass


class LatestFrameSender:
    """Sends control messages in order and, after them, only the newest frame.

    A send that has not completed after ``timeout`` seconds (the client stopped reading, the
    socket buffers are full) ends the session: :meth:`watch` raises :class:`SlowClient`. A
    watchdog rather than a timeout around every send: it costs nothing per frame.
    """

    def __init__(self, websocket: WebSocket, timeout: float, binary: bool = False) -> None:
        """``binary``: frames go as binary messages (packed frames), control messages as text."""
        self.ws = websocket
        self.timeout = timeout
        self.binary = binary
        self.frame: bytes | None = None
        self.controls: deque[tuple[bytes, bool]] = deque(maxlen=32)  # (data, binary)
        self.wake = asyncio.Event()
        self.sending_since: float | None = None
        self.sent = 0
        self.spent = 0.0  # CPU seconds of sends not yet charged to the stream (take_spent)
        # What the waiting (unsent) frame carries: a frame that replaces it must carry it too,
        # or the first frame's grid and history are lost to the reply to `select` or `speed`.
        self.frame_grid = False
        self.frame_history = False

    def post_frame(
        self, data: bytes, *, keep: bool = False, grid: bool = False, history: bool = False
    ) -> None:
        """The newest frame; ``keep``: it must reach the client (it follows a rebuild), so it
        is queued like a control message and the older pending frame is dropped. ``grid`` and
        ``history``: what ``data`` carries (see :attr:`frame_grid`)."""
        if keep:
            self.frame = None
            self.controls.append((data, self.binary))
        else:
            self.frame = data
        self.frame_grid = grid and not keep
        self.frame_history = history and not keep
        self.wake.set()

    def post_control(self, message: dict[str, Any]) -> None:
        self.controls.append((orjson.dumps(message), False))
        self.wake.set()

    @property
    def busy(self) -> bool:
        """A frame is waiting, or a send is in progress: a new frame would only replace it."""
        return self.frame is not None or self.sending_since is not None

    async def run(self) -> None:
        while True:
            await self.wake.wait()
            self.wake.clear()
            while self.controls:
                await self._send(*self.controls.popleft())
            if self.frame is not None:
                data, self.frame = self.frame, None
                self.frame_grid = self.frame_history = False
                await self._send(data, self.binary)
                self.sent += 1

    async def _send(self, data: bytes, binary: bool) -> None:
        self.sending_since = time.monotonic()
        cpu0 = time.thread_time()
        if binary:
            await self.ws.send_bytes(data)
        else:
            await self.ws.send_text(data.decode())
        cpu = time.thread_time() - cpu0
        # A send that waited for the socket also counted other tasks' time: bounded.
        self.spent += min(cpu, _MAX_SEND_S)
        self.sending_since = None

    def take_spent(self) -> float:
        """CPU seconds spent sending (framing, socket writes) since the last call."""
        spent, self.spent = self.spent, 0.0
        return spent

    async def watch(self) -> None:
        while True:
            await asyncio.sleep(min(1.0, self.timeout / 4))
            since = self.sending_since
            if since is not None and time.monotonic() - since > self.timeout:
                raise SlowClient


class StreamSession:
    def __init__(
        self, ws: WebSocket, run: Run, pacer: Pacer, settings: Settings, workers: Workers
    ) -> None:
        self.ws, self.settings = ws, settings
        # ?encoding=f32: packed frames (docs/frames.md), in binary messages; else JSON text.
        self.encoding = ws.query_params.get("encoding", "json")
        packed = self.encoding == "f32"
        self.sender = LatestFrameSender(ws, settings.send_timeout_s, binary=packed)
        self.player = Player(run, pacer, settings, workers, self.sender, self._rebuilt)
        self.player.packed = packed
        self._tokens = float(MESSAGES_PER_SECOND)
        self._tokens_at = time.monotonic()

    async def serve(self) -> None:
        player = self.player
        if self.encoding not in ENCODINGS:
            detail = f"encoding: must be one of {', '.join(ENCODINGS)} (a query parameter)"
            with contextlib.suppress(Exception), anyio.move_on_after(CLOSE_TIMEOUT_S):
                await self.ws.send_text(orjson.dumps({"type": "error", "detail": detail}).decode())
                await self.ws.close(CLOSE_BAD_ENCODING, "bad encoding")
            return
        code, reason = 1000, ""
        try:
            player.start()
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._receive)
                tg.start_soon(player.tick)
                tg.start_soon(self.sender.run)
                tg.start_soon(self.sender.watch)
                tg.start_soon(self._watch)
        except* WebSocketDisconnect:
            code = 0
        except* SlowClient:
            code, reason = 1008, "client too slow: frames were not read"
        except* Stopped:
            code, reason = 4000, player.stop_reason
        finally:
            player.finish()
        if code:
            with contextlib.suppress(Exception), anyio.move_on_after(CLOSE_TIMEOUT_S):
                await self.ws.close(code, reason)

    async def _watch(self) -> None:
        await self.player.stopped.wait()
        raise Stopped

    def _rebuilt(self, run: Run) -> None:
        self.sender.post_control({"type": "rebuilt", "run": run_info(run)})

    # -- control messages --------------------------------------------------------------
    async def _receive(self) -> None:
        limit = self.settings.max_ws_message_bytes
        while True:
            message = await self.ws.receive()
            if message["type"] == "websocket.disconnect":
                raise WebSocketDisconnect(message.get("code", 1000))
            text = message.get("text")
            if text is None:
                self.error("send JSON text messages, not binary")
                continue
            if len(text) > limit:
                self.error(f"message longer than {limit} bytes (max_ws_message_bytes)")
                continue
            allowed = self._take_token()
            try:
                raw = orjson.loads(text)
            except orjson.JSONDecodeError:
                raw = _UNREADABLE
            msg_id = _id_of(raw)  # a refused message's error carries its id, as any error
            if not allowed:
                self.error(f"more than {MESSAGES_PER_SECOND} messages per second; ignored", msg_id)
                continue
            if raw is _UNREADABLE:
                self.error("not valid JSON (NaN and Infinity are not JSON)")
                continue
            try:
                msg = MESSAGE_ADAPTER.validate_python(raw)
            except ValidationError as e:
                self.error(_describe(e), msg_id)
                continue
            try:
                async with self.player.turn():
                    await self._apply(msg)
            except ConfigError as e:
                self.error(f"{'.'.join(str(p) for p in e.loc)}: {e.msg}", msg_id)
            except RunDiverged as e:
                self.error(str(e), msg_id)
                self.player.post_frame()
            except (StoreFull, WorkersBusy) as e:  # over a memory budget; builds queued
                self.error(str(e), msg_id)

    def _take_token(self) -> bool:
        now = time.monotonic()
        self._tokens = min(
            MESSAGES_PER_SECOND, self._tokens + (now - self._tokens_at) * MESSAGES_PER_SECOND
        )
        self._tokens_at = now
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True

    def error(self, detail: str, msg_id: MessageId = None) -> None:
        """An ``error`` message; ``id``: the client's id of the message it answers."""
        reply: dict[str, Any] = {"type": "error", "detail": detail[:300]}
        if msg_id is not None:
            reply["id"] = msg_id
        self.sender.post_control(reply)

    async def _apply(self, msg: Any) -> None:
        player, kind = self.player, msg.type
        if kind == "play":
            player.play()
        elif kind == "pause":
            player.pause()
        elif kind == "step":
            player.step(msg.steps, msg.epochs)
        elif kind == "reset":
            await player.reset()
        elif kind == "speed":
            player.speed(msg.steps_per_frame)
        elif kind == "probe":
            player.probe(msg.index)
        elif kind == "grid":
            player.grid()
        elif kind == "set":
            await player.configure(changes_of(msg))
        elif kind == "set_weight":
            player.set_weight(msg.l, msg.j, msg.k, msg.value)
        elif kind == "select":
            player.select(msg.l, msg.j, msg.k)


_UNREADABLE = object()  # a message that is not JSON


def _id_of(raw: Any) -> MessageId:
    """The message's ``id`` if it is a usable one (echoed even when the rest is invalid)."""
    value = raw.get("id") if isinstance(raw, dict) else None
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_MESSAGE_ID:
        return value
    return None


def _describe(e: ValidationError) -> str:
    first = e.errors(include_input=False, include_url=False)[0]
    loc = ".".join(str(p) for p in first["loc"])
    more = f" (and {e.error_count() - 1} more)" if e.error_count() > 1 else ""
    return f"{loc}: {first['msg']}{more}" if loc else f"{first['msg']}{more}"
