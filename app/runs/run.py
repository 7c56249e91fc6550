"""A training run: config + data + network + trainer + probe + history.

A run is mutated only from the event loop (REST handlers and its stream), under
``run.lock`` whenever an operation awaits in the middle (chunked training, a rebuild in a
worker thread). A request that finds the lock held longer than :data:`BUSY_WAIT_S` is
refused with :class:`RunBusy` (409), which says what the run is doing (:class:`Job`).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from app.runs import insight
from app.runs.config import ConfigError, check_caps
from app.runs.experiment import HYPER_FIELDS, KEEP_FIELDS, Experiment
from app.runs.frames import encode
from app.runs.metrics import Metrics
from app.runs.state import RunState, build, build_ready, data_key
from app.runs.work import Workers
from app.settings import Settings

HISTORY_POINTS = 2_000
DEFAULT_STEPS_PER_FRAME = 10
# A request waits this long for a run another request or its stream holds, then gets a 409.
BUSY_WAIT_S = 0.25
MAX_WEIGHT = 100.0  # |w^l_jk| a learner may type in

HistoryPoint = tuple[int, int, float | None, float | None, float | None, float | None]


class Driver(Protocol):
    """The stream currently driving a run."""

    def stop(self, reason: str) -> None: ...


class RunDiverged(RuntimeError):
    """Training was asked of a diverged run."""


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


class Run:
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
        self.steps_per_frame = DEFAULT_STEPS_PER_FRAME
        self.seconds_per_step = 0.0  # the fast path's last measured speed (see driver)
        self.playing = False
        self.session: Driver | None = None  # the stream that drives this run, if any
        self.history: deque[HistoryPoint] = deque(maxlen=HISTORY_POINTS)
        self.last_used = time.monotonic()
        self.config = config
        self.state: RunState = state if state is not None else build(config, settings)
        self.probe = config.probe
        self.generation = 0  # counts rebuilds (new data or network), by any client
        self._metrics: tuple[Metrics, int] | None = None  # the last measured, and its step
        self._health: tuple[RunState, dict[str, Any]] | None = None  # kept like _metrics
        self.advice_pending = False  # the last frame said advice is being tried

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
        if self.state.trainer.status != "ok":
            return "diverged"
        return "running" if self.playing else "paused"

    @property
    def step(self) -> int:
        return self.state.trainer.step

    def frame(
        self,
        *,
        grid: bool = False,
        history: bool = False,
        data_changed: bool = False,
        fps: float | None = None,
        metrics: bool = True,
        explain: insight.Selection | None = None,
    ) -> bytes:
        """The current frame (``docs/frames.md``), encoded as JSON bytes. ``metrics=False``
        reuses the last train/test cost and accuracy (a pass over every point) if there are
        any: a playing stream measures them every few frames. ``explain``: the neuron or edge
        whose terms the frame carries in full precision (``explain``; null without one)."""
        with np.errstate(all="ignore"):  # overflow is caught below and reported as divergence
            return self._frame(grid, history, data_changed, fps, metrics, explain)

    def _frame(
        self,
        grid: bool,
        history: bool,
        data_changed: bool,
        fps: float | None,
        fresh: bool,
        explain: insight.Selection | None = None,
    ) -> bytes:
        st = self.state
        tr, net = st.trainer, st.net
        h = tr.hyper
        bx, by = tr.next_batch()
        builder = st.builder(len(bx))
        p = self.probe
        probe = (st.dataset.points[st.train_idx[p]], st.x[p], st.y[p])
        penalty = st.penalty()
        batch_cost, finite = builder.fill(
            tr.theta, probe, (bx, by), h.regulariser, h.lmbda, st.n_train, penalty
        )
        if fresh or self._metrics is None:
            self._metrics = self._measure(penalty)
        metrics, metrics_step = self._metrics
        if not (finite and metrics.finite):
            tr.status = "diverged"
        builder.probe["index"] = p
        frame = {
            "type": "frame",
            "run_id": self.id,
            "status": self.status,
            "step": tr.step,
            "epoch": tr.epoch,
            "kind": st.kind,
            "sizes": net.sizes,
            "activations": net.activations,
            "cost_name": st.cost_name,
            "hyper": {
                "learning_rate": h.learning_rate,
                "batch_size": h.batch_size,
                "regulariser": h.regulariser,
                "lambda": h.lmbda,
                "momentum": h.momentum,
            },
            "steps_per_frame": self.steps_per_frame,
            "fps": fps,
            "t": round(time.time(), 4),
            "train": {"cost": metrics.train_cost, "accuracy": metrics.train_accuracy},
            "test": {"cost": metrics.test_cost, "accuracy": metrics.test_accuracy},
            "metrics_step": metrics_step,
            "batch_cost": batch_cost,
            "probe": builder.probe,
            "input": builder.input,
            "layers": builder.layers,
            "grid": st.grid(net) if grid and st.grid is not None else None,
            "history": self.history_dict() if history else None,
            "data_changed": data_changed,
            "explain": insight.explain(st, p, (bx, by), explain) if explain else None,
            "health": self._health_now(fresh),
        }
        return encode(frame)

    def _health_now(self, fresh: bool) -> dict[str, Any]:
        """Saturated/dead units (measured with the metrics), and advice tried on this run
        when most units are saturated or dead, or the run diverged."""
        st = self.state
        if fresh or self._health is None or self._health[0] is not st:
            self._health = (st, insight.health(st))
        h = dict(self._health[1])
        if self.status == "diverged":
            h["advice"] = insight.advice(self.config, self.settings, "diverged")
        elif h["alarm"]:
            h["advice"] = insight.advice(self.config, self.settings, h["reason"])
        # Advice is tried in a background thread: until it is ready, frames say so.
        h["advice_pending"] = (self.status == "diverged" or h["alarm"]) and h["advice"] is None
        self.advice_pending = h["advice_pending"]
        return h

    def advice_arrived(self) -> bool:
        """True once the advice that the last frame said was pending is ready: the next frame
        carries it (a paused stream then sends one)."""
        if not self.advice_pending or self._health is None:
            return False
        reason = "diverged" if self.status == "diverged" else self._health[1]["reason"]
        return insight.advice(self.config, self.settings, reason) is not None

    def _measure(self, penalty: float) -> tuple[Metrics, int]:
        """Train and test metrics now and the step they were measured at; the history gets
        a point."""
        st = self.state
        tr = st.trainer
        metrics = st.evaluator(st.cost, penalty)
        point = (
            tr.step,
            tr.epoch,
            metrics.train_cost,
            metrics.test_cost,
            metrics.train_accuracy,
            metrics.test_accuracy,
        )
        if not self.history or self.history[-1][:2] != point[:2]:
            self.history.append(point)
        return metrics, tr.step

    def history_dict(self) -> dict[str, list[Any]]:
        cols = list(zip(*self.history, strict=True)) if self.history else [()] * 6
        keys = ("step", "epoch", "train_cost", "test_cost", "train_accuracy", "test_accuracy")
        return {k: list(c) for k, c in zip(keys, cols, strict=True)}

    def data(self) -> dict[str, Any]:
        st = self.state
        ds = st.dataset
        return {
            "kind": ds.kind,
            "n_classes": ds.n_classes,
            "train": {"points": ds.points[st.train_idx], "labels": ds.labels[st.train_idx]},
            "test": {"points": ds.points[st.test_idx], "labels": ds.labels[st.test_idx]},
            "extent": st.extent,
        }

    # -- changing ---------------------------------------------------------------------
    def reset(self, state: RunState | None = None) -> None:
        """Same config, same seed: the initial weights and data again, step 0 (the data
        already built is reused: nothing is parsed again). ``state``: built already, from
        this run's config (in a worker thread)."""
        self.state = state or build(self.config, self.settings, reuse=self.state)
        self._forget_measurements()

    def _forget_measurements(self) -> None:
        """A new state (step 0 again): the loss history and the kept metrics are stale."""
        self.history.clear()
        self._metrics = None

    def set_probe(self, index: int, name: str = "index") -> None:
        """``name``: the field the client sent (``index`` of POST /probe, ``probe`` of PATCH)."""
        if index >= self.state.n_train:
            n = self.state.n_train
            raise ConfigError((name,), f"the training set has {n} examples (0..{n - 1})")
        self.probe = index
        self.config = self.config.changed(probe=index)  # GET /runs/{id} says so

    def set_weight(self, l: int, j: int, k: int, value: float) -> None:  # noqa: E741
        """``w^l_jk = value`` (j, k 0-based), every other parameter kept; the momentum
        velocity of that weight is zeroed. A diverged run stays diverged (reset it or change
        the learning rate): the edit does not remove what made it diverge."""
        net = self.state.net
        L = net.L
        if not 2 <= l <= L:
            raise ConfigError(("l",), f"layer l must be 2..{L} (this network has L = {L})")
        n_l, n_prev = net.sizes[l - 1], net.sizes[l - 2]
        if not 0 <= j < n_l:
            raise ConfigError(("j",), f"layer {l} has {n_l} neurons: j must be 0..{n_l - 1}")
        if not 0 <= k < n_prev:
            raise ConfigError(
                ("k",), f"layer {l - 1} has {n_prev} neurons: k must be 0..{n_prev - 1}"
            )
        if not (math.isfinite(value) and abs(value) <= MAX_WEIGHT):
            raise ConfigError(("value",), f"a finite weight with |value| ≤ {MAX_WEIGHT:g}")
        self.state.trainer.set_weight(l, j, k, value)

    def plan(self, changes: dict[str, Any]) -> Plan:
        """The config after ``changes``, checked against the caps and the memory budgets."""
        new = self.config.changed(**changes)
        check_caps(new, self.settings)
        size = self.admit(self, new)
        return Plan(new, not self.config.differs(new) <= KEEP_FIELDS, size)

    def slow_rebuild(self, new: Experiment) -> bool:
        """Rebuilding for ``new`` draws or parses new data (worth a worker thread)."""
        return data_key(new) != self.state.data_key

    def install(self, plan: Plan, state: RunState) -> None:
        """A rebuilt state for ``plan.config`` (built by :func:`app.runs.state.build`)."""
        new = plan.config
        self.config, self.state, self.probe = new, state, new.probe
        self.bytes = plan.bytes
        self._forget_measurements()
        self.generation += 1

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
        if not plan.rebuild:
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
        new = plan.config
        changed = self.config.differs(new)
        if changed <= KEEP_FIELDS:
            if new.probe >= self.state.n_train:
                self.set_probe(new.probe, "probe")  # raises, naming the field sent
            tr = self.state.trainer
            if changed & HYPER_FIELDS:
                tr.set_hyper(
                    learning_rate=new.learning_rate,
                    batch_size=new.batch_size,
                    regulariser=new.regulariser,
                    lmbda=new.lmbda,
                    momentum=new.momentum,
                )
            if "learning_rate" in changed and tr.status != "ok":
                tr.reset_status()
            self.config, self.probe = new, new.probe
            self.bytes = plan.bytes

    def train(self, steps: int) -> int:
        """Up to ``steps`` fast-path steps; raises :class:`RunDiverged` if diverged."""
        tr = self.state.trainer
        if tr.status != "ok":
            raise RunDiverged("the run diverged: reset it or lower the learning rate")
        if steps <= 0:
            return 0
        return tr.train(steps)

    def steps_per_epoch(self) -> int:
        return -(-self.state.n_train // self.state.trainer.hyper.batch_size)


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
