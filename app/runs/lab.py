"""The experiment a run carries out: its config, what was built from it, the probe, and
its timeline of snapshots.

One reason to change: what a learner can do to the experiment itself (train it, change its
settings, set a weight, choose the probe, rewind it), checked against the network and the
data. No budgets, locks, streams or frames here: those are the run's (:mod:`app.runs.run`),
and measuring it is :mod:`app.runs.measurements`'.

Snapshots (:mod:`app.runs.timeline`) are taken as the experiment trains: one at every step
before :data:`~app.runs.timeline.EVERY_STEP_UNTIL`, one at the end of every :meth:`Lab.train`
call after it, and one of the state training starts from when that state is not the last
one kept (after a rewind, a weight set, an opened document).
"""

from __future__ import annotations

import math
from typing import Any

from app.core import checkpoint
from app.core.prediction import Prediction, predicted_step
from app.runs.config import ConfigError
from app.runs.experiment import HYPER_FIELDS, KEEP_FIELDS, Experiment
from app.runs.state import RunState, build, data_key
from app.runs.timeline import EVERY_STEP_UNTIL, Timeline, budget_bytes
from app.settings import Settings

MAX_WEIGHT = 100.0  # |w^l_jk| a learner may type in


class RunDiverged(RuntimeError):
    """Training was asked of a diverged run. Lowering the learning rate alone does not bring
    it back where it stopped: a run stops at its last step whose weights are finite, and
    their cost has usually overflowed there already."""

    def __init__(self) -> None:
        super().__init__(
            "the run diverged: reset it, or rewind to a step before it diverged and lower "
            "the learning rate"
        )


class Lab:
    """``config`` (the experiment), ``state`` (data, network, trainer, built from it),
    ``probe`` (the training example whose tensors frames carry) and ``generation`` (counts
    rebuilds: new data or network)."""

    def __init__(self, config: Experiment, settings: Settings, state: RunState | None) -> None:
        self.settings = settings
        self.config = config
        self.state: RunState = state if state is not None else build(config, settings)
        self.probe = config.probe
        self.generation = 0
        # The first step trained after each frame is predicted (app/core/prediction.py).
        self.prediction: Prediction | None = None
        self.predict_next = True
        self.timeline = self._new_timeline()
        self._moved = False  # the state is not the last snapshot's: record it before training

    def _new_timeline(self) -> Timeline:
        """A timeline that starts with the state now (step 0, or an opened document's)."""
        st = self.state
        tl = Timeline(budget_bytes(st.trainer.theta.size, st.n_train))
        tl.capture(st.trainer)
        return tl

    # -- reading ----------------------------------------------------------------------
    def status(self, playing: bool) -> str:
        if self.state.trainer.status != "ok":
            return "diverged"
        return "running" if playing else "paused"

    def steps_per_epoch(self) -> int:
        return -(-self.state.n_train // self.state.trainer.hyper.batch_size)

    def data(self) -> dict[str, Any]:
        """The raw points and labels of the training and test sets, and their extent."""
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
    def train(self, steps: int) -> int:
        """Up to ``steps`` fast-path steps, snapshots taken as it goes (see the module);
        raises :class:`RunDiverged` if diverged."""
        tr = self.state.trainer
        if tr.status != "ok":
            raise RunDiverged()
        if steps <= 0:
            return 0
        tl = self.timeline
        if self._moved or tl.last_step != tr.step:
            tl.capture(tr)  # drops the snapshots ahead of it
            self._moved = False
        done = 0
        while done < steps:
            k = steps - done
            early = tr.step < EVERY_STEP_UNTIL  # a snapshot every step
            if early or self.predict_next:
                k = 1
            ran = self._steps(k)
            done += ran
            if ran < k or tr.status != "ok":
                # Diverged: the trainer stays at its last finite step (the update that
                # overflowed is not counted), whatever its weights: the frame shows them.
                break
            if early:
                tl.capture(tr)
        if tl.last_step != tr.step:
            tl.capture(tr)  # where this stretch of training ends
        return done

    def _steps(self, k: int) -> int:
        """``k`` fast-path steps; the first one after a frame is predicted (``k`` is then 1):
        the trainer's own step, with the prediction read around it."""
        tr = self.state.trainer
        if not self.predict_next:
            return tr.train(k)
        self.predict_next = False  # until the next frame
        before = tr.step
        self.prediction = predicted_step(tr)
        return tr.step - before  # 0 if the update overflowed (not kept)

    def prediction_at(self, step: int) -> dict[str, int | float | None] | None:
        """The frame's ``prediction``: the last predicted step's, unless it lies after
        ``step`` (the run went back); an update that overflowed is of ``step`` → ``step + 1``
        (the run stays at ``step``: it is not kept)."""
        p = self.prediction
        if p is None or p.step > step + (p.actual is None):
            return None
        return p.as_dict()

    def rewind(self, step: int) -> int:
        """Back to the latest kept snapshot at or before ``step``; returns its step. The
        snapshots after it stay until the experiment trains on or a weight is set."""
        snap = self.timeline.at_or_before(step)
        if snap is None:
            steps = self.timeline.steps
            why = f"the earliest kept step is {steps[0]}" if steps else "no steps are kept"
            raise ConfigError(("step",), f"cannot rewind to step {step}: {why}")
        checkpoint.restore(self.state.trainer, snap)
        self.timeline.moved()
        self._moved = True
        self.prediction, self.predict_next = None, True  # it was of another state's step
        return snap.step

    def rebuilt(self, config: Experiment, state: RunState, *, new: bool) -> None:
        """A state built from ``config`` (by :func:`app.runs.state.build`); ``new``: another
        network or data (a rebuild), not the same config again (a reset)."""
        self.config, self.state, self.probe = config, state, config.probe
        self.prediction, self.predict_next = None, True
        self.timeline = self._new_timeline()
        self._moved = False
        if new:
            self.generation += 1

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
        tr = self.state.trainer
        tr.set_weight(l, j, k, value)
        self.timeline.drop_after(tr.step)  # a new future from here
        self._moved = True

    def changed(self, new: Experiment) -> set[str]:
        """The fields ``new`` changes that matter to this run: CSV text sent while neither
        the old nor the new data is the CSV is only kept (for when it is picked), and so is
        noise while both are the CSV (noise is added to the built-in data sets only)."""
        changed = set(self.config.differs(new))
        csv_before, csv_after = self.config.dataset == "csv", new.dataset == "csv"
        if "csv" in changed and not csv_before and not csv_after:
            changed.discard("csv")
        if "noise" in changed and csv_before and csv_after:
            changed.discard("noise")
        return changed

    def needs_rebuild(self, new: Experiment) -> bool:
        """``new`` changes more than the training rule, the probe and unused CSV text."""
        return not self.changed(new) <= KEEP_FIELDS

    def slow_rebuild(self, new: Experiment) -> bool:
        """Rebuilding for ``new`` draws or parses new data (worth a worker thread)."""
        return data_key(new) != self.state.data_key

    def retune(self, new: Experiment) -> bool:
        """Apply ``new`` without a rebuild if it changes only the training rule and the
        probe (the weights are kept); False (nothing done) if it needs a rebuild."""
        changed = self.changed(new)
        if not changed <= KEEP_FIELDS:
            return False
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
            tr.reset_status()  # zeroes the velocity
            self._moved = True
        self.config, self.probe = new, new.probe
        return True
