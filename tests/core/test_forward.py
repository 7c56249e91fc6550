"""The engine's forward pass against the readable reference, for every registered σ."""

from __future__ import annotations

import numpy as np
import pytest

from app.core.activations import ACTIVATIONS
from app.core.forward import DTYPE, Feedforward, theta_layers
from app.core.network import Network, feedforward, n_params

# Weighted inputs reach both sides of every kink and the saturated tails.
X = np.random.default_rng(5).normal(0.0, 2.0, size=(257, 3))
HIDDEN = sorted(name for name, act in ACTIVATIONS.items() if act.hidden_ok)
OUTPUT = sorted(name for name, act in ACTIVATIONS.items() if getattr(act, "output_ok", True))


def _net(hidden: str, out: str, seed: int = 0) -> Network:
    rng = np.random.default_rng(seed)
    return Network.create([3, 5, 4, 2], [hidden, hidden, out], "xavier", rng)


def _theta(net: Network) -> np.ndarray:
    """θ in the trainer's layout, built here from the network's w and b."""
    return np.concatenate(
        [np.column_stack([w, b]).reshape(-1) for w, b in zip(net.weights, net.biases, strict=True)]
    )


def _pairs() -> list[tuple[str, str]]:
    """Every hidden σ under a linear output, and every output σ under tanh layers."""
    return [(h, "linear") for h in HIDDEN] + [("tanh", o) for o in OUTPUT]


@pytest.mark.parametrize(("hidden", "out"), _pairs())
def test_float64_pass_is_the_reference_feedforward(hidden: str, out: str) -> None:
    net = _net(hidden, out)
    want = feedforward(net, X)
    fwd = Feedforward(net.sizes, net.activations, X, dtype=np.float64)
    fwd.set_theta(_theta(net))
    fwd.run()
    for l in range(2, net.L + 1):  # noqa: E741
        np.testing.assert_allclose(fwd.z(l).T, want.z[l - 2], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(fwd.a(l).T, want.a[l - 1], rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(fwd.a(1).T, X)


@pytest.mark.parametrize(("hidden", "out"), _pairs())
def test_default_dtype_pass_agrees_to_more_than_the_digits_shown(hidden: str, out: str) -> None:
    """Metrics and the grid are shown to 4 significant digits; the pass's dtype keeps 5."""
    net = _net(hidden, out, seed=1)
    want = feedforward(net, X).a[-1]
    fwd = Feedforward(net.sizes, net.activations, X)
    fwd.set_network(net)
    fwd.run()
    got = fwd.a(net.L)
    assert got.dtype == DTYPE
    np.testing.assert_allclose(got.T, want, rtol=1e-5, atol=1e-5 * np.abs(want).max())


def test_softmax_output_normalises_each_point_not_each_neuron() -> None:
    net = _net("relu", "softmax")
    fwd = Feedforward(net.sizes, net.activations, X, dtype=np.float64)
    fwd.set_network(net)
    fwd.run()
    np.testing.assert_allclose(fwd.a(net.L).sum(axis=0), np.ones(len(X)), rtol=1e-12)


def test_set_network_and_set_theta_load_the_same_parameters() -> None:
    net = _net("sigmoid", "sigmoid")
    a, b = (Feedforward(net.sizes, net.activations, X, dtype=np.float64) for _ in range(2))
    a.set_network(net)
    b.set_theta(_theta(net))
    np.testing.assert_array_equal(a.theta, b.theta)
    for i, w_aug in enumerate(theta_layers(a.theta, net.sizes)):
        np.testing.assert_array_equal(w_aug[:, :-1], net.weights[i])
        np.testing.assert_array_equal(w_aug[:, -1], net.biases[i])


def test_a_partial_run_stops_at_the_asked_layer() -> None:
    net = _net("tanh", "linear")
    fwd = Feedforward(net.sizes, net.activations, X, dtype=np.float64)
    fwd.set_network(net)
    fwd.run(1)
    np.testing.assert_allclose(
        fwd.a(2).T, np.tanh(X @ net.weights[0].T + net.biases[0]), rtol=1e-12
    )


def test_a_new_run_reflects_new_parameters() -> None:
    net = _net("tanh", "linear")
    fwd = Feedforward(net.sizes, net.activations, X, dtype=np.float64)
    fwd.set_network(net)
    fwd.run()
    before = fwd.a(net.L).copy()
    net.biases[-1][:] += 1.0  # a linear output: every output moves up by exactly 1
    fwd.set_network(net)
    fwd.run()
    np.testing.assert_allclose(fwd.a(net.L), before + 1.0, rtol=1e-12)


def test_shapes_are_checked() -> None:
    net = _net("tanh", "linear")
    with pytest.raises(ValueError, match=r"\(N, 3\)"):
        Feedforward(net.sizes, net.activations, X[:, :2])
    with pytest.raises(ValueError, match="need"):
        theta_layers(np.zeros(n_params(net.sizes) + 1), net.sizes)
