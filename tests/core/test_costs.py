"""Costs against their formulas, BP1 against differences of the cost, and refused pairings."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app.core.activations import get_activation
from app.core.costs import COSTS, get_cost
from app.core.network import Network, backprop
from app.core.training import Hyper, Trainer

# Every (output, cost) pairing the registry allows.
PAIRS = [(out, name) for name, cost in COSTS.items() for out in cost.outputs]


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
    a = act.fn(z)
    delta = cost.delta_L(a, y, np.ones_like(z) if cost.sigma_prime_cancels else act.prime(z, a))
    eps = 1e-6
    numeric = np.zeros_like(z)
    for j in range(z.shape[1]):
        step = np.zeros_like(z)
        step[:, j] = eps
        up = cost.per_example(z + step, act.fn(z + step), y)
        down = cost.per_example(z - step, act.fn(z - step), y)
        numeric[:, j] = (up - down) / (2 * eps)
    np.testing.assert_allclose(delta, numeric, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("cost_name", list(COSTS))
def test_grad_a_is_the_derivative_of_the_cost_in_a(cost_name: str) -> None:
    """``∇_a C_x`` by central differences of ``C_x`` in ``a`` (z is not used by the formula:
    the cost is taken through ``scalar_cost``, written from the textbook here)."""
    cost = COSTS[cost_name]
    rng = np.random.default_rng(2)
    a = rng.uniform(0.1, 0.9, size=(4, 3))
    y = np.eye(3)[[0, 2, 1, 2]] if cost_name == "log_likelihood" else rng.uniform(0, 1, (4, 3))
    eps = 1e-6
    numeric = np.zeros_like(a)
    for r in range(4):
        for j in range(3):
            up, down = a[r].copy(), a[r].copy()
            up[j] += eps
            down[j] -= eps
            numeric[r, j] = (
                scalar_cost(cost_name, list(up), list(y[r]))
                - scalar_cost(cost_name, list(down), list(y[r]))
            ) / (2 * eps)
    np.testing.assert_allclose(cost.grad_a(a, y), numeric, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("cost_name", [n for n, c in COSTS.items() if c.cancels_on])
def test_sigma_prime_cancels_where_the_registry_says(cost_name: str) -> None:
    """On ``cancels_on`` the long way, ``∇_a C`` through σ's Jacobian, is ``a − y``."""
    cost = COSTS[cost_name]
    assert cost.cancels_on is not None and cost.outputs == (cost.cancels_on,)
    act = get_activation(cost.cancels_on)
    z, y = batch(cost.cancels_on, np.random.default_rng(3))
    a = act.fn(z)
    g = cost.grad_a(a, y)
    if act.elementwise:
        long_way = g * act.prime(z, a)
    else:  # softmax: ∂a_i/∂z_j = a_i(δ_ij − a_j), so δ_j = Σ_i g_i a_i (δ_ij − a_j)
        long_way = np.stack(
            [(np.diag(ar) - np.outer(ar, ar)) @ gr for ar, gr in zip(a, g, strict=True)]
        )
    np.testing.assert_allclose(long_way, a - y, rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(cost.delta_L(a, y, np.full_like(a, np.nan)), a - y)


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
