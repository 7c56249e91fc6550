"""Saturated and dead units, as the activation registry describes each activation."""

from __future__ import annotations

import numpy as np
import pytest

from app.core.activations import ACTIVATIONS
from app.core.forward import Feedforward
from app.core.network import Network
from app.core.saturation import count, layer_health

HIDDEN = [name for name, act in ACTIVATIONS.items() if act.hidden_ok]


def net_with(hidden: str, w: float, b: float) -> Network:
    """2-4-1, every hidden weight ``w`` and bias ``b`` (so every hidden z = w·(x1 + x2) + b)."""
    return Network(
        [2, 4, 1],
        [np.full((4, 2), w), np.zeros((1, 4))],
        [np.full(4, b), np.zeros(1)],
        [hidden, "linear"],
    )


X = np.random.default_rng(0).uniform(-1, 1, size=(50, 2))
Y = np.zeros((50, 1))


@pytest.mark.parametrize("hidden", HIDDEN)
def test_far_out_z_saturates_exactly_the_saturating_activations(hidden: str) -> None:
    """z = ±(large) everywhere: a unit whose σ' vanishes there is saturated, no other."""
    h = layer_health(net_with(hidden, 0.0, 40.0), X, Y)[0]
    assert h.saturated == (4 if ACTIVATIONS[hidden].saturates else 0)
    assert h.dead == 0


@pytest.mark.parametrize("hidden", HIDDEN)
def test_z_below_zero_everywhere_kills_exactly_the_dying_activations(hidden: str) -> None:
    """z ≤ 0 for every example: ReLU units are dead; swish and GELU units, whose σ' is small
    but not 0 there, and leaky ReLU are not."""
    h = layer_health(net_with(hidden, 0.1, -1.0), X, Y)[0]
    assert h.dead == (4 if ACTIVATIONS[hidden].dies else 0)
    assert h.saturated == 0


def test_the_registry_names_the_saturating_and_dying_ones() -> None:
    saturating = {n for n, a in ACTIVATIONS.items() if a.saturates}
    dying = {n for n, a in ACTIVATIONS.items() if a.dies}
    assert saturating == {"tanh", "sigmoid"} and dying == {"relu"}


def test_only_the_first_n_points_of_a_pass_are_counted() -> None:
    """Saturation is judged on the training set: a pass over train and test points (the
    metrics' pass, train rows first) counts only the first n. Here the 50 training points
    drive every tanh unit to z ≈ 40, and 150 test points near 0 keep them in the linear
    part; counted over all 200 the units would not be saturated (150 of 200 are not)."""
    net = net_with("tanh", 20.0, 0.0)  # z = 20·(x1 + x2)
    train = np.ones((50, 2))  # z = 40: tanh' ≈ 0
    test = np.full((150, 2), 0.001)  # z = 0.04: tanh' ≈ 1
    fwd = Feedforward(net.sizes, net.activations, np.vstack([train, test]))
    fwd.set_network(net)
    fwd.run()
    y = np.zeros((200, 1))
    assert count(fwd, y, n=50)[0].saturated == 4
    assert count(fwd, y)[0].saturated == 0
    assert layer_health(net, train, y[:50])[0].saturated == 4
