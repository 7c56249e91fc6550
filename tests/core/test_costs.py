"""Costs against their formulas, BP1 against differences of the cost, and refused pairings."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app.core.activations import get_activation
from app.core.costs import get_cost
from app.core.network import Network, backprop
from app.core.training import Hyper, Trainer

PAIRS = [(act, "quadratic") for act in ["sigmoid", "tanh", "relu", "leaky_relu", "linear"]] + [
    ("sigmoid", "cross_entropy"),
    ("softmax", "log_likelihood"),
]


def batch(output: str, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """z^L (4, 3) away from the ReLU kink, and targets that suit the output."""
    z = rng.uniform(0.1, 2.0, size=(4, 3)) * rng.choice([-1.0, 1.0], size=(4, 3))
    if output == "softmax":
        return z, np.eye(3)[[0, 2, 1, 2]]
    return z, rng.uniform(0, 1, size=(4, 3))


def scalar_cost(cost: str, a: list[float], y: list[float]) -> float:
    if cost == "quadratic":
        return 0.5 * sum((aj - yj) ** 2 for aj, yj in zip(a, y, strict=True))
    if cost == "cross_entropy":
        return -sum(
            yj * math.log(aj) + (1 - yj) * math.log(1 - aj) for aj, yj in zip(a, y, strict=True)
        )
    return -sum(yj * math.log(aj) for aj, yj in zip(a, y, strict=True))


@pytest.mark.parametrize(("output", "cost_name"), PAIRS)
def test_per_example_cost_is_the_formula(output: str, cost_name: str) -> None:
    z, y = batch(output, np.random.default_rng(0))
    a = get_activation(output).fn(z)
    got = get_cost(cost_name, output).per_example(z, a, y)
    want = [scalar_cost(cost_name, list(ai), list(yi)) for ai, yi in zip(a, y, strict=True)]
    assert got.shape == (4,)
    np.testing.assert_allclose(got, want, rtol=1e-12)


@pytest.mark.parametrize(("output", "cost_name"), PAIRS)
def test_bp1_is_the_derivative_of_the_cost_in_z(output: str, cost_name: str) -> None:
    """δ^L_j = ∂C_x/∂z^L_j, by central differences through σ and the cost."""
    act, cost = get_activation(output), get_cost(cost_name, output)
    z, y = batch(output, np.random.default_rng(1))
    delta = cost.delta_L(
        act.fn(z), y, np.ones_like(z) if cost.sigma_prime_cancels else act.prime(z)
    )
    eps = 1e-6
    numeric = np.zeros_like(z)
    for j in range(z.shape[1]):
        step = np.zeros_like(z)
        step[:, j] = eps
        up = cost.per_example(z + step, act.fn(z + step), y)
        down = cost.per_example(z - step, act.fn(z - step), y)
        numeric[:, j] = (up - down) / (2 * eps)
    np.testing.assert_allclose(delta, numeric, rtol=1e-7, atol=1e-9)


def test_costs_stay_finite_when_the_output_saturates() -> None:
    z = np.array([[800.0, -800.0]])
    y = np.array([[0.0, 1.0]])  # maximally wrong
    ce = get_cost("cross_entropy", "sigmoid").per_example(z, get_activation("sigmoid").fn(z), y)
    np.testing.assert_allclose(ce, [1600.0])
    ll = get_cost("log_likelihood", "softmax")
    np.testing.assert_allclose(ll.per_example(z, get_activation("softmax").fn(z), y), [1600.0])


@pytest.mark.parametrize(
    ("cost", "output"),
    [("cross_entropy", "tanh"), ("log_likelihood", "sigmoid"), ("quadratic", "softmax")],
)
def test_nonsense_pairings_are_refused(cost: str, output: str) -> None:
    message = rf"cost '{cost}' cannot be paired with a '{output}' output layer; it needs one of"
    with pytest.raises(ValueError, match=message):
        get_cost(cost, output)
    net = Network.create([2, 3, 2], ["tanh", output], "xavier", np.random.default_rng(0))
    x, y = np.zeros((1, 2)), np.array([[1.0, 0.0]])
    with pytest.raises(ValueError, match=message):
        backprop(net, cost, x, y)
    with pytest.raises(ValueError, match=message):
        Trainer(net, cost, x, y, Hyper(), np.random.default_rng(0))


def test_softmax_in_a_hidden_layer_is_refused() -> None:
    with pytest.raises(
        ValueError, match=r"softmax is allowed on the output layer only \(layer 2\)"
    ):
        Network.create([2, 3, 2], ["softmax", "softmax"], "xavier", np.random.default_rng(0))


def test_unknown_cost_lists_the_choices() -> None:
    with pytest.raises(ValueError, match=r"unknown cost 'hinge'; choose one of \['cross_entropy'"):
        get_cost("hinge", "linear")
