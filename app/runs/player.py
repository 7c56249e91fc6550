"""Playing a run for one stream: the ticker, the pacing, and the stream's commands.

A :class:`Player` knows nothing of the transport. Its adapter (``app/api/stream_session.py``
for the WebSocket) parses messages and calls its methods, holding :meth:`Player.turn`;
frames go out through a :class:`FrameOutput` (the adapter's latest-frame sender).

- :meth:`Player.tick`, while playing, trains up to ``steps_per_frame`` fast-path steps (no
  longer than ``Pacer.budget``) and builds a frame, at most ``Pacer.fps()`` times per
  second; it also trains the steps ``step`` asked for, so that the adapter keeps listening
  (a disconnect during 100,000 steps cancels them at once).
- A newer player on the same run, or the run's deletion, :meth:`Player.stop` s it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol

from app.runs import commands, driver, insight
from app.runs.pacer import Pacer
from app.runs.run import Run, RunDiverged
from app.runs.work import Workers
from app.settings import Settings

# While playing, train/test metrics (a pass over every point) are measured every 3rd frame:
# 10 loss-curve points per second at 30 frames/s, and a third of their cost.
METRICS_EVERY = 3
# A paused stream whose last frame said advice was pending looks for it this often.
ADVICE_POLL_S = 0.25
# The frames' mean size for the byte-rate cap moves this far toward each new frame's (the
# grid frames, every ``grid_every``, are larger: the rate follows the mean, not each one).
BYTES_SMOOTHING = 0.2


class FrameOutput(Protocol):
    """Where a player's frames go: a latest-frame slot (a newer frame replaces one not yet
    sent) and an ordered queue for the frames that must arrive (``keep``)."""

    frame_grid: bool  # the waiting (unsent) frame carries the grid
    frame_history: bool  # ... and the history

    @property
    def busy(self) -> bool:
        """A frame is waiting or being sent: a new one would only replace it."""
        ...

    def post_frame(
        self, data: bytes, *, keep: bool = False, grid: bool = False, history: bool = False
    ) -> None: ...

    def take_spent(self) -> float:
        """CPU seconds spent sending since the last call (charged to this stream)."""
        ...


class Player:
    def __init__(
        self,
        run: Run,
        pacer: Pacer,
        settings: Settings,
        workers: Workers,
        out: FrameOutput,
        rebuilt: Callable[[Run], None],
    ) -> None:
        """``rebuilt(run)``: called before the first frame after the run was rebuilt (by
        this stream's ``set``, or by a PATCH): the adapter tells its client the new shape."""
        self.run, self.pacer, self.settings, self.workers = run, pacer, settings, workers
        self.out = out
        self.on_rebuilt = rebuilt
        self.wake = asyncio.Event()
        self.stopped = asyncio.Event()
        self.stop_reason = ""
        self.want_grid = False
        self.selection: insight.Selection | None = None  # frames carry its `explain`
        self.pending_steps = 0
        self.generation = run.generation
        self.frames_since_grid = 0
        self.fps = pacer.max_fps
        self.frame_bytes = 0.0  # the posted frames' smoothed size (for max_stream_kb_per_s)
        self.packed = False  # frames packed (app/runs/frame_pack.py): the adapter's choice

    # -- life --------------------------------------------------------------------------
    def start(self) -> None:
        """Take the run over (a previous player stops), paused, and post the first frame
        (with the grid and the history)."""
        run = self.run
        previous = run.session
        if previous is not None and previous is not self:
            previous.stop("another stream took over this run")
        run.session = self
        run.playing = False
        self.post_frame(grid=True, history=True)

    def stop(self, reason: str) -> None:
        """Called by another stream taking over the run, or by its deletion."""
        self.stop_reason = reason
        self.stopped.set()

    def finish(self) -> None:
        """The stream ended: the run pauses (and is evicted once idle)."""
        run = self.run
        self.pacer.leave(id(self))
        if run.session is self:
            run.session = None
            run.playing = False
        run.touch()

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Hold the run for one command; the ticker looks again afterwards."""
        try:
            async with self.run.lock:
                yield
        finally:
            self.wake.set()

    # -- frames ------------------------------------------------------------------------
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
            self.on_rebuilt(run)
            grid = history = changed = True
        # This frame replaces the unsent one: it keeps what that one carried.
        grid = grid or self.want_grid or self.out.frame_grid
        history = history or self.out.frame_history
        self.want_grid = False
        if grid:
            self.frames_since_grid = 0
        data = run.frame(
            grid=grid,
            history=history,
            data_changed=changed,
            fps=self.fps,
            metrics=metrics,
            explain=self.selection,
            packed=self.packed,
        )
        run.touch()
        n, first = float(len(data)), not self.frame_bytes
        self.frame_bytes += (n - self.frame_bytes) * (1.0 if first else BYTES_SMOOTHING)
        self.out.post_frame(data, keep=changed, grid=grid, history=history)

    def rate(self) -> float:
        """Frames a second: the pacer's share of the core for this stream, and no more than
        ``max_stream_kb_per_s`` carries at the frames' mean size."""
        fps = self.pacer.fps(id(self))
        if self.frame_bytes:
            fps = min(fps, self.settings.max_stream_kb_per_s * 1000.0 / self.frame_bytes)
        return fps

    async def tick(self) -> None:
        """Steps asked for by ``step``, and the frames of a playing run (runs until
        cancelled)."""
        run = self.run
        key = id(self)
        next_at = time.monotonic()
        deferred = 0.0  # waited for served streams before this tick
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
                next_at, deferred = time.monotonic(), 0.0
                continue
            now = time.monotonic()
            wait = next_at - now
            if wait > 0:  # a plain sleep: a pause or a step is seen at the next tick
                await asyncio.sleep(wait)
                continue
            if defer := self.pacer.defer(key, now, deferred):
                deferred += defer  # a modest stream's tick is due: it goes first
                await asyncio.sleep(defer)
                continue
            # Behind its slot, not counting the deferral: the loop is busy (the pacer
            # shrinks the plan).
            late, deferred = max(0.0, -wait - deferred), 0.0
            trained: float = 0.0
            built: float | None = None
            async with run.lock:
                if run.playing and run.status == "running":
                    budget = self.pacer.training_budget(key)
                    with contextlib.suppress(RunDiverged):
                        # CPU time, not wall time: the pacer shares the core's time, and a
                        # busy machine's preemptions are not this run's cost.
                        trained = (await driver.train(run, run.steps_per_frame, budget)).seconds
                    # The last training slice and the frame in two turns of the event loop,
                    # not one: each takes a few ms for the largest networks.
                    await asyncio.sleep(0)
                    diverged = run.status == "diverged"  # training found it
                    if diverged or not self.out.busy:
                        self.frames_since_grid += 1
                        grid = diverged or self.frames_since_grid >= self.settings.grid_every
                        metrics = diverged or grid or self.frames_since_grid % METRICS_EVERY == 0
                        t0 = time.thread_time()
                        self.post_frame(grid=grid, metrics=metrics)
                        # Charged to this stream: building it, and sending the last ones.
                        built = time.thread_time() - t0 + self.out.take_spent()
                    if run.status == "diverged":  # found by training, or by the frame's
                        run.playing = False  # own numbers (the weights finite, not their cost)
            request = run.steps_per_frame * run.seconds_per_step
            self.pacer.report(key, trained, built, request, late)
            self.fps = self.rate()
            # A frame later than its slot may be caught up by the next one (jitter averages
            # out), but never by more than one interval (no burst after a stall).
            interval = 1.0 / self.fps
            next_at = max(next_at + interval, time.monotonic() - interval)
            self.pacer.next_tick(key, next_at)

    # -- commands (hold :meth:`turn`) --------------------------------------------------
    def play(self) -> None:
        if self.run.status == "diverged":
            raise RunDiverged()
        self.run.playing = True

    def pause(self) -> None:
        self.run.playing = False
        self.post_frame(grid=True)

    def step(self, steps: int | None, epochs: int | None) -> None:
        """Queued for the ticker (at most ``max_steps_per_request`` waiting)."""
        count = commands.step(self.run, steps, epochs, self.settings)
        cap = self.settings.max_steps_per_request
        self.pending_steps = min(cap, self.pending_steps + count)

    async def reset(self) -> None:
        await commands.reset(self.run, self.workers)
        self.post_frame(grid=True, history=True)

    def speed(self, steps_per_frame: int) -> None:
        self.run.steps_per_frame = steps_per_frame
        if not self.run.playing:
            self.post_frame()

    def probe(self, index: int) -> None:
        commands.probe(self.run, index)
        self.post_frame()

    def grid(self) -> None:
        self.want_grid = True
        if not self.run.playing:
            self.post_frame()

    async def configure(self, changes: dict[str, Any]) -> None:
        await commands.configure(self.run, changes, self.workers)  # new data: off the loop
        self.post_frame(grid=True)  # after a rebuild: `rebuilt`, then a frame with history

    def set_weight(self, l: int, j: int, k: int, value: float) -> None:  # noqa: E741
        commands.set_weight(self.run, l, j, k, value)
        self.post_frame(grid=True)

    def select(self, l: int | None, j: int, k: int | None) -> None:  # noqa: E741
        """The neuron or edge whose terms every frame carries (``l`` None: none)."""
        sizes = self.run.state.net.sizes
        self.selection = None if l is None else insight.check_selection(sizes, l, j, k)
        if not self.run.playing:
            self.post_frame()
