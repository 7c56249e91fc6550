"""A training run as the server holds it: ownership, locking, pacing, memory, around the
experiment (:mod:`app.runs.lab`), its measurements (:mod:`app.runs.measurements`) and its
frame (:mod:`app.runs.frame_doc`).

A run is mutated only from the event loop (REST handlers and its stream), under
``run.lock`` whenever an operation awaits in the middle (chunked training, a rebuild in a
worker thread). A request that finds the lock held longer than :data:`BUSY_WAIT_S` is
refused with :class:`RunBusy` (409), which says what the run is doing (:class:`Job`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from app.runs import insight
from app.runs.config import ConfigError, check_caps
from app.runs.experiment import Experiment
from app.runs.frame_doc import Asked, frame_bytes
from app.runs.lab import MAX_WEIGHT, Lab, RunDiverged
from app.runs.measurements import HISTORY_POINTS, HistoryPoint, Measurements
from app.runs.state import RunState, build, build_ready, csv_dataset
from app.runs.work import Workers
from app.settings import Settings

__all__ = [
    "BUSY_WAIT_S",
    "HISTORY_POINTS",
    "MAX_WEIGHT",
    "Job",
    "Plan",
    "Run",
    "RunBusy",
    "RunDiverged",
    "RunGone",
    "check_steps",
]

DEFAULT_STEPS_PER_FRAME = 10
# A request waits this long for a run another request or its stream holds, then gets a 409.
BUSY_WAIT_S = 0.25


class Driver(Protocol):
    """The stream currently driving a run."""

    def stop(self, reason: str) -> None: ...


class RunBusy(RuntimeError):
    """The run is held by long work (:class:`Job`) for longer than :data:`BUSY_WAIT_S`."""


class RunGone(RuntimeError):
    """The run was deleted or evicted while it was being rebuilt."""


@dataclass
class Job:
    """Long work holding a run: ``what`` it is, ``done`` of ``total`` steps (0: no count)."""

    what: str
    total: int = 0
    done: int = 0

    def describe(self) -> str:
        if self.total:
            return f"{self.what} ({100 * self.done // self.total} % done)"
        return self.what


@dataclass(frozen=True)
class Plan:
    """A checked config change: the new config, whether it rebuilds, its memory estimate."""

    config: Experiment
    rebuild: bool
    bytes: int


def _admit_anything(run: Run, config: Experiment) -> int:
    """The default admission of a changed config: no budget (a run outside a store)."""
    return 0


async def _grow_anywhere(run: Run, size: int) -> None:
    """The default reservation of a grown estimate: nothing more to reserve (one process:
    ``admit`` counted it)."""


class Run:
    """A live run as the server holds it: who owns it, who drives it (its stream, its
    pacing), who holds it (the lock, the long :class:`Job`), and what it costs (``bytes``),
    around three pieces with a reason to change each: the experiment (:class:`Lab`: config,
    data, network, trainer, probe), its measurements (:class:`Measurements`: metrics,
    history, health) and its frame (:func:`app.runs.frame_doc.frame_bytes`)."""

    def __init__(
        self,
        run_id: str,
        config: Experiment,
        settings: Settings,
        state: RunState | None = None,
        owner: str = "",
    ) -> None:
        """``state``: built already (in a worker thread) from ``config``; ``owner``: the
        client (peer address) that created the run."""
        self.id = run_id
        self.settings = settings
        self.owner = owner
        self.lock = asyncio.Lock()
        self.job: Job | None = None  # the long work holding the lock, if any
        self.closed: str | None = None  # why the run was deleted or evicted: work stops
        self.bytes = 0  # its memory estimate, kept by the store (app/runs/budget.py)
        # Checks a changed config against the memory budgets (set by the store): raises, or
        # returns the new config's estimate.
        self.admit: Callable[[Run, Experiment], int] = _admit_anything
        # Reserves a grown estimate (bytes) where other workers see it (set by the Redis
        # store: app/runs/client_ledger.py); raises as ``admit`` does.
        self.grow: Callable[[Run, int], Awaitable[None]] = _grow_anywhere
        self.steps_per_frame = DEFAULT_STEPS_PER_FRAME
        self.seconds_per_step = 0.0  # the fast path's last measured speed (see driver)
        self.playing = False
        self.session: Driver | None = None  # the stream that drives this run, if any
        self.last_used = time.monotonic()
        self.lab = Lab(config, settings, state)
        self.measurements = Measurements()

    # -- the pieces, as other modules read them -----------------------------------------
    @property
    def config(self) -> Experiment:
        return self.lab.config

    @property
    def state(self) -> RunState:
        return self.lab.state

    @property
    def probe(self) -> int:
        return self.lab.probe

    @property
    def generation(self) -> int:
        return self.lab.generation

    @property
    def history(self) -> deque[HistoryPoint]:
        return self.measurements.history

    @property
    def advice_pending(self) -> bool:
        return self.measurements.advice_pending

    # -- reading ----------------------------------------------------------------------
    def touch(self) -> None:
        """Used now: by a request that changes the run, or by its stream (reads do not
        count, so a run nobody changes or watches becomes idle and is evicted)."""
        self.last_used = time.monotonic()

    @property
    def busy(self) -> bool:
        return self.lock.locked()

    def close(self, reason: str) -> None:
        """Deleted or evicted: training in progress stops at its next chunk."""
        self.closed = reason
        self.playing = False

    @contextlib.asynccontextmanager
    async def claim(self) -> AsyncIterator[None]:
        """Hold the run's lock; :class:`RunBusy` if it is not free within BUSY_WAIT_S."""
        try:
            await asyncio.wait_for(self.lock.acquire(), BUSY_WAIT_S)
        except TimeoutError:
            raise RunBusy(self.busy_message()) from None
        try:
            yield
        finally:
            self.lock.release()

    def busy_message(self) -> str:
        job = self.job
        doing = job.describe() if job is not None else "another request or its stream"
        return (
            f"the run is busy: {doing}; try again when it finishes, or cancel it "
            "(close the request that started it, or delete the run)"
        )

    @property
    def status(self) -> str:
        return self.lab.status(self.playing)

    @property
    def step(self) -> int:
        return self.lab.state.trainer.step

    def frame(
        self,
        *,
        grid: bool = False,
        history: bool = False,
        data_changed: bool = False,
        fps: float | None = None,
        metrics: bool = True,
        explain: insight.Selection | None = None,
        packed: bool = False,
    ) -> bytes:
        """The current frame (``docs/frames.md``), encoded as JSON bytes. ``metrics=False``
        reuses the last train/test cost and accuracy (a pass over every point) if there are
        any: a playing stream measures them every few frames. ``explain``: the neuron or edge
        whose terms the frame carries in full precision (``explain``; null without one).
        ``packed``: a packed frame instead (``app/runs/frame_pack.py``, a stream's choice)."""
        asked = Asked(grid, history, data_changed, fps, metrics, explain, packed)
        return frame_bytes(
            self.id,
            self.lab,
            self.measurements,
            self.settings,
            self.steps_per_frame,
            self.playing,
            asked,
        )

    def advice_arrived(self) -> bool:
        """True once the advice that the last frame said was pending is ready: the next frame
        carries it (a paused stream then sends one)."""
        diverged = self.status == "diverged"
        return self.measurements.advice_arrived(self.config, self.settings, diverged)

    def history_dict(self, histograms: bool = False, since: int | None = None) -> dict[str, Any]:
        """GET /history: :meth:`Measurements.history_dict` and its ``revision`` (not in a
        frame's history: a rewound run's frame is the one it showed then)."""
        m = self.measurements
        return {"revision": m.revision, **m.history_dict(histograms, since)}

    def data(self) -> dict[str, Any]:
        return self.lab.data()

    # -- changing ---------------------------------------------------------------------
    def reset(self, state: RunState | None = None) -> None:
        """Same config, same seed: the initial weights and data again, step 0 (the data
        already built is reused: nothing is parsed again). ``state``: built already, from
        this run's config (in a worker thread)."""
        lab = self.lab
        lab.rebuilt(
            lab.config, state or build(lab.config, self.settings, reuse=lab.state), new=False
        )
        self.measurements.forget()

    def set_probe(self, index: int, name: str = "index") -> None:
        """``name``: the field the client sent (``index`` of POST /probe, ``probe`` of PATCH)."""
        self.lab.set_probe(index, name)

    def set_weight(self, l: int, j: int, k: int, value: float) -> None:  # noqa: E741
        """:meth:`Lab.set_weight`; the history put aside by a rewind is dropped."""
        self.lab.set_weight(l, j, k, value)
        self.measurements.drop_ahead()

    def rewind(self, step: int) -> int:
        """Back to the latest kept step ≤ ``step`` (:meth:`Lab.rewind`), the history cut
        there (:meth:`Measurements.rewind`); returns that step. ConfigError naming ``step``
        if none is kept. A playing run is paused there (play trains on from it)."""
        kept = self.lab.rewind(step)
        self.measurements.rewind(kept)
        self.playing = False
        return kept

    def plan(self, changes: dict[str, Any]) -> Plan:
        """The config after ``changes``, checked against the caps and the memory budgets."""
        new = self.config.changed(**changes)
        check_caps(new, self.settings)
        size = self.admit(self, new)
        return Plan(new, self.lab.needs_rebuild(new), size)

    def slow_rebuild(self, new: Experiment) -> bool:
        """Rebuilding for ``new`` draws or parses new data (worth a worker thread)."""
        return self.lab.slow_rebuild(new)

    def install(self, plan: Plan, state: RunState) -> None:
        """A rebuilt state for ``plan.config`` (built by :func:`app.runs.state.build`)."""
        self.lab.rebuilt(plan.config, state, new=True)
        self.bytes = plan.bytes
        self.measurements.forget()

    def update(self, changes: dict[str, Any]) -> bool:
        """Apply a partial config (the experiment's field names as keys). Hyperparameters
        and the probe keep the weights; anything else rebuilds the run. Returns True if it
        rebuilt."""
        plan = self.plan(changes)
        if plan.rebuild:
            self.install(plan, build(plan.config, self.settings, reuse=self.state))
            return True
        self.keep(plan)
        return False

    async def change(self, changes: dict[str, Any], workers: Workers) -> bool:
        """:meth:`update`, a rebuild made in a worker thread (hold the lock meanwhile)."""
        plan = self.plan(changes)
        if plan.bytes > self.bytes:
            await self.grow(self, plan.bytes)
        if not plan.rebuild:
            text = plan.config.csv
            if text is not None and text != self.config.csv:  # kept, unused: checked all the same
                await workers.run(csv_dataset, text, self.settings)
            self.keep(plan)
            return False
        job = "rebuilding the run (new data or network)"
        self.install(plan, await self._built(workers, job, plan.config))
        return True

    async def reset_off_loop(self, workers: Workers) -> None:
        """:meth:`reset`, the new state made in a worker thread (hold the lock meanwhile)."""
        self.reset(await self._built(workers, "resetting the run", self.config))

    async def _built(self, workers: Workers, what: str, config: Experiment) -> RunState:
        self.job = Job(what)
        try:
            state = await workers.run(build_ready, config, self.settings, self.state)
        finally:
            self.job = None
        if self.closed is not None:
            raise RunGone(f"{self.closed} while it was being rebuilt")
        return state

    def keep(self, plan: Plan) -> None:
        """Apply ``plan`` without a rebuild: hyperparameters and the probe only."""
        if self.lab.retune(plan.config):
            self.bytes = plan.bytes

    def train(self, steps: int) -> int:
        """Up to ``steps`` fast-path steps; raises :class:`RunDiverged` if diverged. Training
        on after a rewind drops what lay ahead of it (snapshots, history)."""
        done = self.lab.train(steps)
        if done:
            self.measurements.drop_ahead()
        return done

    def steps_per_epoch(self) -> int:
        return self.lab.steps_per_epoch()


def check_steps(run: Run, steps: int | None, epochs: int | None, settings: Settings) -> int:
    """Steps asked for (an epoch is ⌈n_train / batch_size⌉ steps; nothing asked: 1 step),
    refused over ``max_steps_per_request``."""
    cap = settings.max_steps_per_request
    if epochs is not None:
        total = epochs * run.steps_per_epoch()
        if total > cap:
            raise ConfigError(
                ("epochs",),
                f"{epochs} epochs are {total} steps; at most {cap} (max_steps_per_request)",
            )
        return total
    if steps is not None and steps > cap:
        raise ConfigError(("steps",), f"at most {cap} steps (max_steps_per_request)")
    return steps or 1
