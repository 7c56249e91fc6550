"""The fast step's recording mode (``Trainer.step_instrumented``) against the readable
reference, :func:`app.core.network.backprop`: every z, a, σ', δ, gradient and cost of the
batch, for every registered activation, cost and regulariser, before the update."""

from __future__ import annotations

import numpy as np
import pytest

from app.core.activations import ACTIVATIONS
from app.core.costs import COSTS
from app.core.network import backprop
from app.core.training import Hyper, Trainer
from tests.core.test_training import problem

HIDDEN = sorted(name for name, act in ACTIVATIONS.items() if act.hidden_ok)
CLOSE = {"rtol": 1e-12, "atol": 1e-14}


def _cases() -> list[tuple[list[str], str]]:
    """Every hidden σ (two layers of it) under a tanh output with the quadratic cost, and
    every cost under tanh layers with each output it pairs with."""
    out = [([h, h, "tanh"], "quadratic") for h in HIDDEN]
    out += [(["tanh", "tanh", o], c) for c, cost in sorted(COSTS.items()) for o in cost.outputs]
    return out


@pytest.mark.parametrize("regulariser", ["none", "l2", "l1"])
@pytest.mark.parametrize(("acts", "cost"), _cases(), ids=lambda v: str(v))
def test_recorded_trace_is_the_reference_trace(
    acts: list[str], cost: str, regulariser: str
) -> None:
    net, x, y = problem(acts, cost)
    hyper = Hyper(0.2, 9, regulariser, 0.7 if regulariser != "none" else 0.0, momentum=0.3)
    tr = Trainer(net, cost, x, y, hyper, np.random.default_rng(3))
    tr.train(13)  # away from the start, mid-epoch, with momentum built up
    bx, by = (v.copy() for v in tr.next_batch())
    want = backprop(net.copy(), cost, bx, by, regulariser, hyper.lmbda, len(x))
    got = tr.step_instrumented()
    np.testing.assert_array_equal(got.x, bx)
    np.testing.assert_array_equal(got.y, by)
    for name in ("z", "a", "delta", "sigma_prime", "grad_w", "grad_b"):
        for g, w in zip(getattr(got, name), getattr(want, name), strict=True):
            assert g.shape == w.shape, name
            np.testing.assert_allclose(g, w, **CLOSE, err_msg=name)
    np.testing.assert_allclose(got.cost_x, want.cost_x, **CLOSE)
    assert got.cost == pytest.approx(want.cost, rel=1e-12)


def test_a_trace_keeps_its_numbers_after_later_steps() -> None:
    """The recording is copied out: later steps reuse the engine's buffers."""
    net, x, y = problem(["relu", "relu", "tanh"])
    tr = Trainer(net, "quadratic", x, y, Hyper(0.1, 5), np.random.default_rng(0))
    first = tr.step_instrumented()
    kept = [v.copy() for v in (*first.z, *first.a, *first.delta, *first.sigma_prime)]
    tr.train(30)
    tr.step_instrumented()
    now = [*first.z, *first.a, *first.delta, *first.sigma_prime]
    for k, v in zip(kept, now, strict=True):
        np.testing.assert_array_equal(k, v)


@pytest.mark.parametrize("regulariser", ["none", "l2"])
def test_a_trace_read_only_after_later_steps_is_the_reference_trace(regulariser: str) -> None:
    """The trace's lists are made when first read: made after 40 more steps (a new epoch's
    shuffle and new weights in between), they are still the batch's, at θ before its step."""
    net, x, y = problem(["tanh", "relu", "tanh"])
    hyper = Hyper(0.1, 5, regulariser, 0.5 if regulariser != "none" else 0.0, momentum=0.5)
    tr = Trainer(net, "quadratic", x, y, hyper, np.random.default_rng(4))
    bx, by = (v.copy() for v in tr.next_batch())
    want = backprop(net.copy(), "quadratic", bx, by, regulariser, hyper.lmbda, len(x))
    got = tr.step_instrumented()
    tr.train(40)
    assert tr.epoch >= 1
    for name in ("z", "a", "delta", "sigma_prime", "grad_w", "grad_b"):
        for g, w in zip(getattr(got, name), getattr(want, name), strict=True):
            np.testing.assert_allclose(g, w, **CLOSE, err_msg=name)
    np.testing.assert_array_equal(got.x, bx)
    np.testing.assert_array_equal(got.y, by)
    with pytest.raises(ValueError, match="read-only"):
        got.x[0, 0] = 1.0
