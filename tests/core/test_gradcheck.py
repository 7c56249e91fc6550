"""Backprop against central differences for every allowed activation × cost × regulariser,
and the check itself against a gradient broken on purpose."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from app.core import activations
from app.core.costs import COSTS
from app.core.gradcheck import gradient_check, relative_error
from app.core.network import Network, feedforward
from app.core.regularisers import REGULARISERS

# Everything the registries offer: a new activation, cost or regulariser is checked here.
HIDDEN = list(activations.HIDDEN)
OUTPUT_COST = [(out, name) for name, cost in COSTS.items() for out in cost.outputs]
TOLERANCE = 1e-6  # notation.md: relative error below 1e-6 in float64
SIZES = [3, 4, 3, 2]
M = 4


def fair_problem(hidden: str, output: str, seed: int) -> tuple[Network, np.ndarray, np.ndarray]:
    """A network and batch where every derivative exists: |z| > 1e-3 (no ReLU kink within
    reach of ε) and |w| > 1e-3 (no L1 kink), nonzero biases. Resampled until so."""
    rng = np.random.default_rng(seed)
    for _ in range(100):
        net = Network.create(SIZES, [hidden, hidden, output], "standard_normal", rng)
        x = rng.uniform(-1, 1, size=(M, SIZES[0]))
        zs = feedforward(net, x).z
        if all(np.abs(z).min() > 1e-3 for z in zs) and all(
            np.abs(p).min() > 1e-3 for p in net.weights + net.biases
        ):
            break
    else:
        raise AssertionError("could not draw a network away from the kinks")
    act = activations.get_activation(output)
    if not act.elementwise:  # softmax: one-hot targets
        y = np.eye(SIZES[-1])[rng.integers(0, SIZES[-1], size=M)]
    else:  # targets inside the output's range
        y = rng.uniform(*(act.bounds or (-1.0, 1.0)), size=(M, SIZES[-1]))
    return net, x, y


def test_every_registered_choice_is_checked() -> None:
    assert set(HIDDEN) >= {"swish", "gelu"}
    assert {out for out, _ in OUTPUT_COST} == set(activations.OUTPUT)
    assert {cost for _, cost in OUTPUT_COST} == set(COSTS)


@pytest.mark.parametrize("regulariser", list(REGULARISERS))
@pytest.mark.parametrize(("output", "cost"), OUTPUT_COST)
@pytest.mark.parametrize("hidden", HIDDEN)
def test_backprop_equals_central_differences(
    hidden: str, output: str, cost: str, regulariser: str
) -> None:
    for seed in range(2):
        net, x, y = fair_problem(hidden, output, seed)
        lmbda = 0.0 if regulariser == "none" else 0.5
        check = gradient_check(net, cost, x, y, regulariser, lmbda, n=10, eps=1e-5)
        assert check.max_rel_error < TOLERANCE, (hidden, output, cost, regulariser, seed)
        # the check saw real gradients, not a network that happens to be flat
        assert max(np.abs(g).max() for g in check.numeric_w) > 1e-3


@pytest.mark.parametrize("where", ["hidden", "output"])
def test_gradient_check_catches_a_wrong_derivative(
    where: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """σ' off by 10 %: backprop goes wrong, the cost (and so the differences) does not."""
    tanh = activations.ACTIVATIONS["tanh"]
    broken = dataclasses.replace(
        tanh,
        prime=lambda z, a: 1.1 * tanh.prime(z, a),
    )
    monkeypatch.setitem(activations.ACTIVATIONS, "tanh", broken)
    hidden, output = ("tanh", "sigmoid") if where == "hidden" else ("sigmoid", "tanh")
    net, x, y = fair_problem(hidden, output, seed=0)
    check = gradient_check(net, "quadratic", x, y)
    assert check.max_rel_error > 1e-2


def test_gradient_check_catches_a_wrong_regulariser_gradient(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from app.core import regularisers

    real = regularisers.penalty_grad

    def doubled(name: str, lmbda: float, n: int, w: np.ndarray) -> np.ndarray | None:
        g = real(name, lmbda, n, w)
        return None if g is None else 2.0 * g

    monkeypatch.setattr(regularisers, "penalty_grad", doubled)
    net, x, y = fair_problem("tanh", "linear", seed=0)
    assert gradient_check(net, "quadratic", x, y, "l2", 5.0, n=4).max_rel_error > 1e-2


def test_gradient_check_leaves_the_network_alone() -> None:
    net, x, y = fair_problem("tanh", "linear", seed=0)
    before = [w.copy() for w in net.weights + net.biases]
    check = gradient_check(net, "quadratic", x, y)
    for p, q in zip(net.weights + net.biases, before, strict=True):
        np.testing.assert_array_equal(p, q)
    assert [g.shape for g in check.numeric_w] == [w.shape for w in net.weights]
    assert [g.shape for g in check.numeric_b] == [b.shape for b in net.biases]


def test_relative_error_is_floored_for_tiny_gradients() -> None:
    assert relative_error(np.array([1.0]), np.array([1.1])) == pytest.approx(0.1 / 1.1)
    # 1e-12 apart around 1e-9: measured on the floor's scale (1e-4), not as 0.1 %
    assert relative_error(np.array([1e-9]), np.array([1e-9 + 1e-12])) == pytest.approx(1e-8)
    assert relative_error(np.zeros(0), np.zeros(0)) == 0.0
