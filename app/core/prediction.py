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
of training (a run trains to the same bits with or without predictions). Nothing is
computed twice: ``∇C`` is the gradient the engine took the step with (the trainer's
``η∇C``, divided by η), ``C_B(θ)`` is read from the engine's recording of that step's
forward pass, and ``C_B(θ + Δθ)`` is one more forward pass of the same engine on the same
batch. The prediction is about the cost's true gradient: when the step's ``η∇C`` is not η
times it (η = 0, a step that only coasts on the velocity; or a BP2 rule other than the
transpose, :mod:`app.core.feedback`, whose step follows the rule's direction), the engine
with the transpose takes ``∇C`` first, at scale 1/m and without an update. The tests hold the
numbers to plain NumPy (the cost written out, its gradient by central differences), which
is also how :func:`app.core.network.backprop`, the readable reference, is held.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass

import numpy as np

from app.core import regularisers
from app.core.fast_step import FastStep
from app.core.forward import theta_layers
from app.core.network import Array
from app.core.training import Trainer


@dataclass(frozen=True)
class Prediction:
    """One step's ``predicted`` (``∇C·Δθ``) and ``actual`` (``C_B(θ+Δθ) − C_B(θ)``) change
    of the batch cost, with ``cost_before`` and ``cost_after``; ``step`` is the run's step
    count after it (the step took the run from ``step − 1`` to ``step``; for an update that
    overflowed, which the run does not keep, the count it would have had); ``batch`` the
    examples in its batch B, the cost both are of; ``cos`` the cosine between the step Δθ
    and −∇C (1 for plain SGD; below 1 with momentum or under a BP2 rule other than the
    transpose, whose step is not along −∇C), ``longer`` ‖Δθ‖ / (η‖∇C‖): how many times as
    long the step is as plain SGD's at the same η (None at η = 0). A value that is not
    finite, or of a zero gradient or step, is None (a diverging step: the trainer then rolls
    θ back, ``actual`` is None)."""

    step: int
    predicted: float | None
    actual: float | None
    cost_before: float | None
    cost_after: float | None
    batch: int
    cos: float | None = None
    longer: float | None = None

    def as_dict(self) -> dict[str, int | float | None]:
        return {
            "step": self.step,
            "predicted": self.predicted,
            "actual": self.actual,
            "cost_before": self.cost_before,
            "cost_after": self.cost_after,
            "batch": self.batch,
            "cos": self.cos,
            "longer": self.longer,
        }


def predicted_step(trainer: Trainer) -> Prediction:
    """Train one step (``trainer.train(1)``) and say what it was predicted to do to the cost
    of its batch, and what it did. The trainer must be able to train (status ``ok``)."""
    with np.errstate(all="ignore"):  # a diverging step is reported as None, not warned about
        return _predicted_step(trainer)


def _predicted_step(trainer: Trainer) -> Prediction:
    h = trainer.hyper
    x_T, y_T = trainer.batch_T()  # the batch the step trains on (views: kept by the trainer)
    m = x_T.shape[1]
    engine = trainer.engine(m)
    exact = trainer.feedback is None or trainer.feedback.exact
    gradient = None
    if h.learning_rate == 0.0 or not exact:  # the step's η∇C is not η times ∇C
        gradient = _gradient(trainer, x_T, y_T)
    theta_before = trainer.theta.copy()
    penalty_before = _penalty(trainer)
    trainer.train(1)
    # the engine's recording of the step: z^L and a^L of the batch at θ before it
    before = _batch_cost(trainer, engine, y_T) + penalty_before
    if trainer.status != "ok":  # diverged: the update is undone (the run stays at its step)
        return Prediction(trainer.step + 1, None, None, _finite(before), None, m)
    if gradient is None:
        gradient = trainer.scaled_gradient * (1.0 / h.learning_rate)
    d_theta = trainer.theta - theta_before
    predicted = float(np.dot(gradient, d_theta))
    engine.forward_pass(x_T)  # the same batch at θ + Δθ
    after = _batch_cost(trainer, engine, y_T) + _penalty(trainer)
    actual = after - before
    g_norm, step_norm = float(np.linalg.norm(gradient)), float(np.linalg.norm(d_theta))
    cos = longer = math.nan
    if g_norm > 0.0 and step_norm > 0.0:
        cos = min(1.0, max(-1.0, -predicted / (g_norm * step_norm)))
        if h.learning_rate > 0.0:
            longer = step_norm / (h.learning_rate * g_norm)
    return Prediction(
        trainer.step,
        _finite(predicted),
        _finite(actual),
        _finite(before),
        _finite(after),
        m,
        _finite(cos),
        _finite(longer),
    )


# Per trainer, the engine of the exact gradient at scale 1 (for η = 0, or a BP2 rule other
# than the transpose) and its gradient buffer, for the last batch size asked.
_EXACT: weakref.WeakKeyDictionary[Trainer, tuple[int, FastStep, Array]] = (
    weakref.WeakKeyDictionary()
)


def _gradient(trainer: Trainer, x_T: Array, y_T: Array) -> Array:
    """``∇C`` at θ on the batch, by the engine with the transpose in BP2, without an update:
    the batch mean of ``∇C_x``, plus the penalty's gradient ``λ/n·r'(w)`` on the weights."""
    m, net = x_T.shape[1], trainer.net
    kept = _EXACT.get(trainer)
    if kept is None or kept[0] != m:
        g = np.empty_like(trainer.theta)
        w_aug = theta_layers(trainer.theta, net.sizes)
        cancels = trainer.cost.sigma_prime_cancels
        kept = _EXACT[trainer] = (
            m,
            FastStep(net, w_aug, theta_layers(g, net.sizes), m, cancels),
            g,
        )
    _, engine, g = kept
    engine.scale[()] = 1.0 / m  # δ^L / m: the gradient comes out as the batch mean
    engine(x_T, y_T)
    out = g.copy()
    h, n = trainer.hyper, len(trainer.x)
    for block, w in zip(theta_layers(out, net.sizes), net.weights, strict=True):
        r = regularisers.penalty_grad(h.regulariser, h.lmbda, n, w)
        if r is not None:
            block[:, :-1] += r
    return out


def _batch_cost(trainer: Trainer, engine: FastStep, y_T: Array) -> float:
    """The mean ``C_x`` over the batch of the engine's last forward pass."""
    c = trainer.cost.per_example(engine.z_L.T, engine.a_L.T, y_T.T)
    return float(np.add.reduce(c)) / len(c)


def _penalty(trainer: Trainer) -> float:
    h = trainer.hyper
    return regularisers.penalty(h.regulariser, h.lmbda, len(trainer.x), trainer.net.weights)


def _finite(v: float) -> float | None:
    return v if math.isfinite(v) else None
