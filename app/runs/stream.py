"""One WebSocket client driving one run: control messages in, frames out.

Three tasks share the connection:
- the receiver applies control messages (``docs/api.md``) and answers bad ones with an
  ``error`` message, keeping the connection open;
- the ticker, while playing, trains up to ``steps_per_frame`` fast-path steps (no longer
  than ``Pacer.budget``) and builds a frame, at most ``Pacer.fps()`` times per second;
- the sender sends the latest frame only (a newer frame replaces one not yet sent) with a
  timeout: a send blocked for ``send_timeout_s`` ends the session. (A client that stops
  reading is dropped within ``send_timeout_s`` by the WebSocket protocol's pings, before
  the buffers fill: :mod:`app.api.websocket_protocol`.)
A disconnect, a slow client, a newer stream on the same run, or the run's deletion ends
all three; the run stays (paused) until it is evicted.
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
from app.api.models import ClientMessage
from app.runs import driver, insight
from app.runs.config import ConfigError
from app.runs.pacer import Pacer
from app.runs.run import Run, RunDiverged, check_steps
from app.runs.store import StoreFull
from app.runs.work import Workers, WorkersBusy
from app.settings import Settings

MESSAGE_ADAPTER: TypeAdapter[Any] = TypeAdapter(ClientMessage)
MESSAGES_PER_SECOND = 50  # a token bucket: bursts of this size, refilled per second
CLOSE_TIMEOUT_S = 1.0
# While playing, train/test metrics (a pass over every point) are measured every 3rd frame:
# 10 loss-curve points per second at 30 frames/s, and a third of their cost.
METRICS_EVERY = 3
# A paused stream whose last frame said advice was pending looks for it this often.
ADVICE_POLL_S = 0.25


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

    def __init__(self, websocket: WebSocket, timeout: float) -> None:
        self.ws = websocket
        self.timeout = timeout
        self.frame: bytes | None = None
        self.controls: deque[bytes] = deque(maxlen=32)
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
            self.controls.append(data)
        else:
            self.frame = data
        self.frame_grid = grid and not keep
        self.frame_history = history and not keep
        self.wake.set()

    def post_control(self, message: dict[str, Any]) -> None:
        self.controls.append(orjson.dumps(message))
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
                await self._send(self.controls.popleft())
            if self.frame is not None:
                data, self.frame = self.frame, None
                self.frame_grid = self.frame_history = False
                await self._send(data)
                self.sent += 1

    async def _send(self, data: bytes) -> None:
        self.sending_since = time.monotonic()
        cpu0 = time.thread_time()
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


class Session:
    def __init__(self, ws: WebSocket, run: Run, pacer: Pacer, settings: Settings) -> None:
        self.ws, self.run, self.pacer, self.settings = ws, run, pacer, settings
        self.sender = LatestFrameSender(ws, settings.send_timeout_s)
        self.wake = asyncio.Event()
        self.stopped = asyncio.Event()
        self.stop_reason = ""
        self.want_grid = False
        self.selection: insight.Selection | None = None  # frames carry its `explain`
        self.pending_steps = 0
        self.generation = run.generation
        self.frames_since_grid = 0
        self.fps = pacer.max_fps
        self._tokens = float(MESSAGES_PER_SECOND)
        self._tokens_at = time.monotonic()

    def stop(self, reason: str) -> None:
        """Called by another stream taking over the run, or by its deletion."""
        self.stop_reason = reason
        self.stopped.set()

    async def serve(self) -> None:
        run = self.run
        previous = run.session
        if isinstance(previous, Session):
            previous.stop("another stream took over this run")
        run.session = self
        run.playing = False
        code, reason = 1000, ""
        try:
            self.post_frame(grid=True, history=True)
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._receive)
                tg.start_soon(self._tick)
                tg.start_soon(self.sender.run)
                tg.start_soon(self.sender.watch)
                tg.start_soon(self._watch)
        except* WebSocketDisconnect:
            code = 0
        except* SlowClient:
            code, reason = 1008, "client too slow: frames were not read"
        except* Stopped:
            code, reason = 4000, self.stop_reason
        finally:
            self.pacer.leave(id(self))
            if run.session is self:
                run.session = None
                run.playing = False
            run.touch()
        if code:
            with contextlib.suppress(Exception), anyio.move_on_after(CLOSE_TIMEOUT_S):
                await self.ws.close(code, reason)

    async def _watch(self) -> None:
        await self.stopped.wait()
        raise Stopped

    # -- frames ----------------------------------------------------------------------
    def post_frame(
        self,
        *,
        grid: bool = False,
        history: bool = False,
        changed: bool = False,
        metrics: bool = True,
    ) -> None:
        run = self.run
        if run.generation != self.generation:  # rebuilt by this stream's `set`, or by PATCH
            self.generation = run.generation
            self.sender.post_control({"type": "rebuilt", "run": run_info(run)})
            grid = history = changed = True
        # This frame replaces the unsent one: it keeps what that one carried.
        grid = grid or self.want_grid or self.sender.frame_grid
        history = history or self.sender.frame_history
        self.want_grid = False
        if grid:
            self.frames_since_grid = 0
        data = self.run.frame(
            grid=grid,
            history=history,
            data_changed=changed,
            fps=self.fps,
            metrics=metrics,
            explain=self.selection,
        )
        self.run.touch()
        self.sender.post_frame(data, keep=changed, grid=grid, history=history)

    async def _tick(self) -> None:
        """Steps asked for by ``step`` messages, and the frames of a playing run."""
        run = self.run
        key = id(self)
        next_at = time.monotonic()
        while True:
            if self.pending_steps:
                steps, self.pending_steps = self.pending_steps, 0
                async with run.lock:
                    with contextlib.suppress(RunDiverged):
                        await driver.train(run, steps)
                    self.post_frame(grid=True)
                continue
            if not (run.playing and run.status == "running"):
                self.pacer.leave(key)
                if run.advice_pending:
                    try:
                        await asyncio.wait_for(self.wake.wait(), ADVICE_POLL_S)
                    except TimeoutError:
                        if run.advice_arrived():
                            self.post_frame(metrics=False)
                        continue
                else:
                    await self.wake.wait()
                self.wake.clear()
                next_at = time.monotonic()
                continue
            wait = next_at - time.monotonic()
            if wait > 0:  # a plain sleep: a pause or a step is seen at the next tick
                await asyncio.sleep(wait)
                continue
            late = -wait  # behind its slot: the loop is busy (the pacer shrinks the plan)
            trained: float = 0.0
            built: float | None = None
            async with run.lock:
                if run.playing and run.status == "running":
                    budget = self.pacer.training_budget(key)
                    with contextlib.suppress(RunDiverged):
                        # CPU time, not wall time: the pacer shares the core's time, and a
                        # busy machine's preemptions are not this run's cost.
                        cpu0 = time.thread_time()
                        wall = (await driver.train(run, run.steps_per_frame, budget)).seconds
                        trained = min(wall, time.thread_time() - cpu0)
                    diverged = run.status == "diverged"
                    if diverged:
                        run.playing = False
                    if diverged or not self.sender.busy:
                        self.frames_since_grid += 1
                        grid = diverged or self.frames_since_grid >= self.settings.grid_every
                        metrics = diverged or grid or self.frames_since_grid % METRICS_EVERY == 0
                        t0 = time.thread_time()
                        self.post_frame(grid=grid, metrics=metrics)
                        # Charged to this stream: building it, and sending the last ones.
                        built = time.thread_time() - t0 + self.sender.take_spent()
            request = run.steps_per_frame * run.seconds_per_step
            self.pacer.report(key, trained, built, request, late)
            self.fps = self.pacer.fps(key)
            # A frame later than its slot may be caught up by the next one (jitter averages
            # out), but never by more than one interval (no burst after a stall).
            interval = 1.0 / self.fps
            next_at = max(next_at + interval, time.monotonic() - interval)

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
            if not self._take_token():
                self.error(f"more than {MESSAGES_PER_SECOND} messages per second; ignored")
                continue
            try:
                msg = MESSAGE_ADAPTER.validate_python(orjson.loads(text))
            except orjson.JSONDecodeError:
                self.error("not valid JSON (NaN and Infinity are not JSON)")
                continue
            except ValidationError as e:
                self.error(_describe(e))
                continue
            try:
                async with self.run.lock:
                    await self._apply(msg)
            except ConfigError as e:
                self.error(f"{'.'.join(str(p) for p in e.loc)}: {e.msg}")
            except RunDiverged as e:
                self.error(str(e))
                self.post_frame()
            except (StoreFull, WorkersBusy) as e:  # over a memory budget; builds queued
                self.error(str(e))
            self.wake.set()

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

    def error(self, detail: str) -> None:
        self.sender.post_control({"type": "error", "detail": detail[:300]})

    def _workers(self) -> Workers:
        workers: Workers = self.ws.app.state.workers
        return workers

    async def _apply(self, msg: Any) -> None:
        run, kind = self.run, msg.type
        if kind == "play":
            if run.status == "diverged":
                raise RunDiverged("the run diverged: reset it or lower the learning rate")
            run.playing = True
        elif kind == "pause":
            run.playing = False
            self.post_frame(grid=True)
        elif kind == "step":
            # Trained by the ticker, so that the receiver keeps listening (a disconnect
            # during 100,000 steps cancels them at once).
            steps = check_steps(run, msg.steps, msg.epochs, self.settings)
            if run.status == "diverged":
                raise RunDiverged("the run diverged: reset it or lower the learning rate")
            cap = self.settings.max_steps_per_request
            self.pending_steps = min(cap, self.pending_steps + steps)
        elif kind == "reset":
            await run.reset_off_loop(self._workers())
            self.post_frame(grid=True, history=True)
        elif kind == "speed":
            run.steps_per_frame = msg.steps_per_frame
            if not run.playing:
                self.post_frame()
        elif kind == "probe":
            run.set_probe(msg.index)
            self.post_frame()
        elif kind == "grid":
            self.want_grid = True
            if not run.playing:
                self.post_frame()
        elif kind == "set":
            await run.change(changes_of(msg), self._workers())  # new data: built in a worker thread
            self.post_frame(grid=True)  # after a rebuild: `rebuilt`, then a frame with history
        elif kind == "set_weight":
            run.set_weight(msg.l, msg.j, msg.k, msg.value)
            self.post_frame(grid=True)
        elif kind == "select":
            sizes = run.state.net.sizes
            sel = None if msg.l is None else insight.check_selection(sizes, msg.l, msg.j, msg.k)
            self.selection = sel
            if not run.playing:
                self.post_frame()


def _describe(e: ValidationError) -> str:
    first = e.errors(include_input=False, include_url=False)[0]
    loc = ".".join(str(p) for p in first["loc"])
    more = f" (and {e.error_count() - 1} more)" if e.error_count() > 1 else ""
    return f"{loc}: {first['msg']}{more}" if loc else f"{first['msg']}{more}"
