"""Predicted versus actual: the first-order change in cost of one SGD step, and the real one.

Before a step on batch B, the gradient ``∇C(θ)`` of the batch's cost (the mean ``C_x`` over
B plus the regularisation term, ``n`` the training-set size) predicts the change the step
makes to first order: ``ΔC ≈ ∇C(θ)·Δθ``. ``Δθ`` is what the engine then adds to every
weight and bias, ``θ_after − θ_before``: ``−η∇C`` for plain SGD, ``μv − η∇C`` with momentum
(the velocity carries earlier steps, so ``Δθ`` is not along ``−∇C``), the regulariser's
gradient included. After the step the same cost is measured on the same batch:
``actual = C_B(θ + Δθ) − C_B(θ)``. For a small η the two agree (their ratio tends to 1: the
step is small enough for the cost to be nearly linear along it); for a large one the cost
curves away from its tangent within the step and the gap shows it.

The step itself is the trainer's own :meth:`~app.core.training.Trainer.train` of one step,
untouched: the prediction reads the batch and θ around it, never changes the arithmetic
of training (a run trains to the same bits with or without predictions). ``∇C`` and the
costs come from :func:`app.core.network.backprop` and :func:`~app.core.network.cost_value`,
the readable reference, with the transpose in BP2 whatever rule the engine uses: the
prediction is about the cost's true gradient.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from app.core.network import Array, backprop, cost_value
from app.core.training import Trainer


@dataclass(frozen=True)
class Prediction:
    """One step's ``predicted`` (``∇C·Δθ``) and ``actual`` (``C_B(θ+Δθ) − C_B(θ)``) change
    of the batch cost, with ``cost_before`` and ``cost_after``; ``step`` is the run's step
    count after it (the step took the run from ``step − 1`` to ``step``). A value that is not
    finite is None (a diverging step: the trainer then rolls θ back, ``actual`` is None)."""

    step: int
    predicted: float | None
    actual: float | None
    cost_before: float | None
    cost_after: float | None

    def as_dict(self) -> dict[str, int | float | None]:
        return {
            "step": self.step,
            "predicted": self.predicted,
            "actual": self.actual,
            "cost_before": self.cost_before,
            "cost_after": self.cost_after,
        }


def gradient_dot(grad_w: list[Array], grad_b: list[Array], d_theta: Array) -> float:
    """``∇C·Δθ`` for ``Δθ`` in the trainer's θ layout (layer by layer ``[w^l | b^l]``
    row-major, ``(n_l, n_{l-1} + 1)``)."""
    total, o = 0.0, 0
    for gw, gb in zip(grad_w, grad_b, strict=True):
        n, k = gw.shape
        block = d_theta[o : o + n * (k + 1)].reshape(n, k + 1)
        total += float(np.vdot(gw, block[:, :k])) + float(np.dot(gb, block[:, k]))
        o += n * (k + 1)
    return total


def predicted_step(trainer: Trainer) -> Prediction:
    """Train one step (``trainer.train(1)``) and say what it was predicted to do to the cost
    of its batch, and what it did. The trainer must be able to train (status ``ok``)."""
    with np.errstate(all="ignore"):  # a diverging step is reported as None, not warned about
        return _predicted_step(trainer)


def _predicted_step(trainer: Trainer) -> Prediction:
    h, n = trainer.hyper, len(trainer.x)
    bx, by = trainer.next_batch()  # the batch the step trains on (views: copied)
    x, y = bx.copy(), by.copy()
    before = backprop(trainer.net, trainer.cost_name, x, y, h.regulariser, h.lmbda, n)
    theta_before = trainer.theta.copy()
    trainer.train(1)
    if trainer.status != "ok":  # diverged: θ was rolled back, there is no "after"
        return Prediction(trainer.step, None, None, _finite(before.cost), None)
    d_theta = trainer.theta - theta_before
    predicted = gradient_dot(before.grad_w, before.grad_b, d_theta)
    after = cost_value(trainer.net, trainer.cost, x, y, h.regulariser, h.lmbda, n)
    actual = after - before.cost
    return Prediction(
        trainer.step, _finite(predicted), _finite(actual), _finite(before.cost), _finite(after)
    )


def _finite(v: float) -> float | None:
    return v if math.isfinite(v) else None
