"""Predicted versus actual change of the batch cost, held to plain NumPy written here.

The independent computation knows nothing of the app: a tanh/sigmoid network with the
quadratic cost and L2, its forward pass written out, its gradient by central differences of
the cost, the batch found by replaying the trainer's shuffles, and the update the book's
``v ← μv − η∇C``, ``θ ← θ + v``.
"""

from __future__ import annotations

import numpy as np
import pytest

from app.core.network import Network
from app.core.prediction import predicted_step
from app.core.training import Hyper, Trainer

SIZES = [2, 3, 3, 1]
N = 23


def _unpack(theta: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """[w^l | b^l] row-major, layer by layer (the documented θ layout)."""
    out, o = [], 0
    for n, k in zip(SIZES[1:], SIZES[:-1], strict=True):
        block = theta[o : o + n * (k + 1)].reshape(n, k + 1)
        out.append((block[:, :k], block[:, k]))
        o += n * (k + 1)
    return out


def _cost(theta: np.ndarray, x: np.ndarray, y: np.ndarray, lmbda: float) -> float:
    """Mean ½‖a^L − y‖² over the rows of x, plus λ/(2n)·Σw² (n = N, weights only);
    tanh hidden layers, sigmoid output."""
    a = x
    layers = _unpack(theta)
    for i, (w, b) in enumerate(layers):
        z = a @ w.T + b
        a = 1 / (1 + np.exp(-z)) if i == len(layers) - 1 else np.tanh(z)
    c = 0.5 * np.sum((a - y) ** 2) / len(x)
    return float(c + lmbda / (2 * N) * sum(np.sum(w * w) for w, _ in layers))


def _grad(theta: np.ndarray, x: np.ndarray, y: np.ndarray, lmbda: float) -> np.ndarray:
    """Central differences, ε = 1e-6 (agrees with the true gradient to ~1e-9 here)."""
    g = np.empty_like(theta)
    for i in range(len(theta)):
        e = np.zeros_like(theta)
        e[i] = 1e-6
        g[i] = (_cost(theta + e, x, y, lmbda) - _cost(theta - e, x, y, lmbda)) / 2e-6
    return g


def _setup(eta: float, momentum: float = 0.0, lmbda: float = 0.0, batch: int = 5) -> Trainer:
    rng = np.random.default_rng(3)
    net = Network.create(SIZES, ["tanh", "tanh", "sigmoid"], "xavier", rng)
    x = rng.normal(size=(N, 2))
    y = rng.integers(0, 2, size=(N, 1)).astype(float)
    reg = "l2" if lmbda else "none"
    hyper = Hyper(eta, batch, reg, lmbda, momentum)
    return Trainer(net, "quadratic", x, y, hyper, np.random.default_rng(9))


def _replayed_batches(steps: int, batch: int) -> list[np.ndarray]:
    """The rows each step trains on: a fresh permutation of the N rows from the trainer's
    generator (seed 9) at each epoch, cut in batches, the last one short."""
    rng = np.random.default_rng(9)
    out: list[np.ndarray] = []
    while len(out) < steps:
        perm = rng.permutation(N)
        out += [perm[c : c + batch] for c in range(0, N, batch)]
    return out[:steps]


@pytest.mark.parametrize(
    ("eta", "momentum", "lmbda"), [(0.5, 0.0, 0.0), (0.3, 0.9, 0.0), (0.2, 0.5, 3.0)]
)
def test_prediction_equals_a_plain_numpy_finite_change(
    eta: float, momentum: float, lmbda: float
) -> None:
    tr = _setup(eta, momentum, lmbda)
    x_all, y_all = tr.x.copy(), tr.y.copy()
    theta = tr.theta.copy()
    v = np.zeros_like(theta)
    batches = _replayed_batches(9, 5)  # crosses an epoch (23 = 4·5 + 3: a short batch)
    for s, rows in enumerate(batches):
        x, y = x_all[rows], y_all[rows]
        g = _grad(theta, x, y, lmbda)
        v = momentum * v - eta * g
        expected_pred = float(g @ v)
        c0, c1 = _cost(theta, x, y, lmbda), _cost(theta + v, x, y, lmbda)
        p = predicted_step(tr)
        theta = theta + v
        assert p.step == s + 1 == tr.step
        np.testing.assert_allclose(tr.theta, theta, rtol=1e-7, atol=1e-9)
        assert p.predicted == pytest.approx(expected_pred, rel=1e-6, abs=1e-12)
        assert p.cost_before == pytest.approx(c0, rel=1e-10)
        assert p.cost_after == pytest.approx(c1, rel=1e-7)
        assert p.actual == pytest.approx(c1 - c0, rel=1e-5, abs=1e-11)


def test_a_tiny_step_is_predicted_to_first_order_and_a_large_one_is_not() -> None:
    ratios = {}
    for eta in (1e-5, 1e-3, 40.0):
        tr = _setup(eta)
        p = predicted_step(tr)
        assert p.predicted is not None and p.actual is not None
        assert p.predicted < 0  # plain SGD: −η‖∇C‖², always downhill to first order
        ratios[eta] = p.actual / p.predicted
    # the error of a first-order prediction is O(η²) against its O(η): the ratio → 1
    assert abs(ratios[1e-5] - 1) < 1e-3
    assert abs(ratios[1e-5] - 1) < abs(ratios[1e-3] - 1) < 0.1
    assert abs(ratios[40.0] - 1) > 0.5, ratios


def test_training_with_predictions_is_bit_for_bit_training_without() -> None:
    a, b = _setup(0.4, 0.8, 1.0), _setup(0.4, 0.8, 1.0)
    for _ in range(12):
        predicted_step(a)
        a.train(3)
    b.train(48)
    assert a.step == b.step == 48
    assert a.theta.tobytes() == b.theta.tobytes()
    assert a._velocity.tobytes() == b._velocity.tobytes()


def test_a_diverging_step_reports_no_numbers_that_are_not_finite() -> None:
    tr = _setup(1e9, lmbda=1.0)
    tr.net.weights[2][:] = 1e308  # λ/(2n)·Σw² overflows, and so does the step η·λ/n·w
    p = predicted_step(tr)
    for v in (p.predicted, p.actual, p.cost_before, p.cost_after):
        assert v is None or np.isfinite(v)
    assert tr.status == "diverged" and p.actual is None and p.cost_before is None
