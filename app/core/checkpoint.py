"""A trainer's state, captured and restored exactly: what training on from it depends on.

:class:`~app.core.training.Trainer` trains deterministically from: θ (every ``w^l`` and
``b^l``), the momentum velocity ``v``, the batch order (this epoch's permutation of the
training set and the position in it), the random generator that draws the next epoch's
permutation, and the counters (``step``, ``epoch``, ``status``). :func:`capture` copies
them out; :func:`restore` writes them back into a trainer built from the same settings
(same network shape, same training set), so that the next steps give bit-for-bit the
weights the original went on to have. The hyperparameters, the data and any fixed
feedback matrices are the settings' (rebuilt from them); they are not part of this state.

The random generator draws only when an epoch starts (its permutation), so its state is
the same for every capture within one epoch; the permutation is a new array each epoch and
is never written to, so captures share it rather than copying it (:attr:`order`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from app.core.training import Trainer

Array = NDArray[np.float64]
STATUSES = ("ok", "diverged")


class CheckpointError(ValueError):
    """A state that does not fit the trainer: ``field`` names the part, ``str(e)`` why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(slots=True)
class TrainerState:
    """``theta`` and ``velocity`` ``(P,)`` in the trainer's layout (layer by layer, each
    ``[w^l | b^l]`` row-major ``(n_l, n_{l-1}+1)``); ``order`` ``(n,)``: this epoch's
    permutation of the ``n`` training examples (None before the first epoch started),
    ``cursor`` the position in it of the next batch (``n``: the epoch is over, the next
    batch draws a new permutation); ``rng``: the generator's state
    (``numpy.random.Generator.bit_generator.state``); ``step``, ``epoch``, ``status``."""

    theta: Array
    velocity: Array
    order: NDArray[np.integer[Any]] | None
    cursor: int
    rng: Mapping[str, Any]
    step: int
    epoch: int
    status: str

    @property
    def nbytes(self) -> int:
        """Bytes held by the arrays of this capture alone (``order`` not counted: shared)."""
        return self.theta.nbytes + self.velocity.nbytes


def capture(tr: Trainer, rng: Mapping[str, Any] | None = None) -> TrainerState:
    """A copy of everything ``tr`` trains on from (``order`` shared: see the module). A
    diverged trainer's velocity is captured as zeros: it may hold the overflow, and training
    goes on only after :meth:`~app.core.training.Trainer.reset_status`, which zeroes it.
    ``rng``: the generator's state if the caller knows it already (captured since the last
    permutation was drawn: the generator has not moved since), else it is read (~2 µs)."""
    ok = tr.status == "ok"
    return TrainerState(
        theta=tr.theta.copy(),
        velocity=tr._velocity.copy() if ok else np.zeros_like(tr._velocity),
        order=tr.order,
        cursor=tr._cursor,
        rng=tr.rng.bit_generator.state if rng is None else rng,
        step=tr.step,
        epoch=tr.epoch,
        status=tr.status,
    )


def check(tr: Trainer, st: TrainerState) -> None:
    """:class:`CheckpointError` naming the first part of ``st`` that does not fit ``tr``."""
    p, n = tr.theta.shape, len(tr.x)
    for name, a in (("theta", st.theta), ("velocity", st.velocity)):
        if a.shape != p or a.dtype != np.float64:
            raise CheckpointError(name, f"{name} must be {p[0]} float64 numbers, got {a.shape}")
        if not np.isfinite(a).all():
            raise CheckpointError(name, f"{name} has a value that is not finite")
    if st.order is not None:
        o = st.order
        if o.shape != (n,) or not np.array_equal(np.sort(o), np.arange(n)):
            raise CheckpointError("order", f"order must be a permutation of 0..{n - 1}")
    if not 0 <= st.cursor <= n:
        raise CheckpointError("cursor", f"cursor must be 0..{n} (the training set has {n})")
    if st.order is None and st.cursor != n:
        raise CheckpointError("cursor", f"without an order the cursor must be {n}")
    if st.step < 0 or st.epoch < 0 or st.epoch > st.step:
        raise CheckpointError("step", "step and epoch must be ≥ 0, epoch at most step")
    if st.status not in STATUSES:
        raise CheckpointError("status", f"status must be one of {', '.join(STATUSES)}")
    _check_rng(tr, st.rng)


def _check_rng(tr: Trainer, state: Mapping[str, Any]) -> None:
    """The state must be one the trainer's generator takes (same kind, valid numbers)."""
    kind = type(tr.rng.bit_generator)
    try:
        kind().state = state
    except (TypeError, ValueError, KeyError, OverflowError) as e:
        raise CheckpointError("rng", f"not a {kind.__name__} state: {e}") from None


def restore(tr: Trainer, st: TrainerState) -> None:
    """Write ``st`` into ``tr`` (built from the same settings): checked first
    (:func:`check`), so a state that does not fit changes nothing."""
    check(tr, st)
    tr.theta[:] = st.theta  # in place: the network's w^l, b^l are views of θ
    tr._velocity[:] = st.velocity
    tr.rng.bit_generator.state = st.rng
    if st.order is None:
        tr._perm_x_T, tr._perm_y_T = tr._x_T, tr._y_T
    else:
        tr._perm_x_T, tr._perm_y_T = tr._x_T[:, st.order], tr._y_T[:, st.order]
    tr.order = None if st.order is None else st.order.astype(np.intp)
    tr._cursor = st.cursor
    tr.step, tr.epoch, tr.status = st.step, st.epoch, st.status
