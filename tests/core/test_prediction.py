"""Predicted versus actual change of the batch cost, held to plain NumPy written here.

The independent computation knows nothing of the app: a tanh/sigmoid network with the
quadratic cost and L2, its forward pass written out, its gradient by central differences of
the cost, the batch found by replaying the trainer's shuffles, and the update the book's
``v ← μv − η∇C``, ``θ ← θ + v``.
"""

from __future__ import annotations

import numpy as np
import pytest

from app.core import feedback
from app.core.network import Network, backprop, cost_value
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


def _setup(
    eta: float, momentum: float = 0.0, lmbda: float = 0.0, batch: int = 5, rule: str = ""
) -> Trainer:
    rng = np.random.default_rng(3)
    net = Network.create(SIZES, ["tanh", "tanh", "sigmoid"], "xavier", rng)
    x = rng.normal(size=(N, 2))
    y = rng.integers(0, 2, size=(N, 1)).astype(float)
    reg = "l2" if lmbda else "none"
    hyper = Hyper(eta, batch, reg, lmbda, momentum)
    fb = feedback.make(rule, SIZES, 5) if rule else None
    return Trainer(net, "quadratic", x, y, hyper, np.random.default_rng(9), fb)


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
        # the step's angle to −∇C and its length in plain SGD steps (1 and 1 without momentum)
        cos = -float(g @ v) / (np.linalg.norm(g) * np.linalg.norm(v))
        assert p.cos == pytest.approx(cos, rel=1e-6)
        assert p.longer == pytest.approx(np.linalg.norm(v) / (eta * np.linalg.norm(g)), rel=1e-6)
        if momentum == 0:
            assert p.cos == pytest.approx(1.0, abs=1e-12) and p.longer == pytest.approx(1.0)


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


@pytest.mark.parametrize("rule", ["random", "inverse"])
def test_a_rule_other_than_backprop_is_predicted_with_the_true_gradient(rule: str) -> None:
    """The step follows the rule's direction; the prediction is the cost's true gradient
    (central differences) dotted with the step the rule took."""
    tr = _setup(0.4, 0.5, 2.0, rule=rule)
    x_all, y_all = tr.x.copy(), tr.y.copy()
    for rows in _replayed_batches(6, 5):
        x, y, theta = x_all[rows], y_all[rows], tr.theta.copy()
        g = _grad(theta, x, y, 2.0)
        p = predicted_step(tr)
        d_theta = tr.theta - theta
        assert abs(float(g @ d_theta) - float(-0.4 * g @ g)) > 1e-6  # not backprop's step
        assert p.predicted == pytest.approx(float(g @ d_theta), rel=1e-6, abs=1e-12)
        g_n, d_n = np.linalg.norm(g), np.linalg.norm(d_theta)
        assert p.cos == pytest.approx(-float(g @ d_theta) / (g_n * d_n), rel=1e-6, abs=1e-9)
        assert p.longer == pytest.approx(d_n / (0.4 * g_n), rel=1e-6)
        assert p.cost_before == pytest.approx(_cost(theta, x, y, 2.0), rel=1e-10)
        assert p.cost_after == pytest.approx(_cost(tr.theta, x, y, 2.0), rel=1e-10)


def test_a_step_with_no_learning_rate_predicts_the_velocitys_coast() -> None:
    """η = 0 after some momentum: Δθ = μv, and ΔC ≈ ∇C·μv (the gradient is not η∇C / η)."""
    tr = _setup(0.5, 0.9, 1.0)
    tr.train(4)
    tr.set_hyper(learning_rate=0.0)
    rows = _replayed_batches(5, 5)[4]
    x, y, theta = tr.x[rows], tr.y[rows], tr.theta.copy()
    v = 0.9 * tr._velocity  # the coast: v ← μv − 0·∇C
    g = _grad(theta, x, y, 1.0)
    p = predicted_step(tr)
    np.testing.assert_allclose(tr.theta, theta + v, rtol=1e-12)
    assert abs(float(g @ v)) > 1e-4
    assert p.predicted == pytest.approx(float(g @ v), rel=1e-6)
    assert p.cos == pytest.approx(-float(g @ v) / (np.linalg.norm(g) * np.linalg.norm(v)), rel=1e-6)
    assert p.longer is None  # no plain SGD step at η = 0 to compare its length with
    assert p.actual == pytest.approx(
        _cost(theta + v, x, y, 1.0) - _cost(theta, x, y, 1.0), rel=1e-6
    )


@pytest.mark.parametrize(
    ("acts", "cost", "reg"),
    [
        (["relu", "swish", "softmax"], "log_likelihood", "l1"),
        (["gelu", "leaky_relu", "sigmoid"], "cross_entropy", "l2"),
        (["sigmoid", "tanh", "linear"], "quadratic", "none"),
    ],
)
def test_the_prediction_agrees_with_the_readable_reference(
    acts: list[str], cost: str, reg: str
) -> None:
    """Every output, cost and penalty: ∇C·Δθ and the costs as app.core.network computes
    them (backprop's gradient, cost_value) on the batch the trainer's order gives."""
    rng = np.random.default_rng(4)
    sizes = [3, 5, 4, 3]
    net = Network.create(sizes, acts, "xavier", rng)
    x = rng.normal(size=(N, 3))
    y = np.eye(3)[rng.integers(0, 3, size=N)] if acts[-1] != "linear" else rng.normal(size=(N, 3))
    lmbda = 0.7 if reg != "none" else 0.0
    tr = Trainer(net, cost, x, y, Hyper(0.3, 4, reg, lmbda, 0.6), np.random.default_rng(2))
    for _ in range(9):  # crosses an epoch's short batch (23 = 5·4 + 3)
        bx, by = (v.copy() for v in tr.next_batch())
        ref = backprop(tr.net, cost, bx, by, reg, lmbda, N)
        theta = tr.theta.copy()
        p = predicted_step(tr)
        d = tr.theta - theta
        dw = [blk[:, :-1] for blk in _layers(d, sizes)]
        db = [blk[:, -1] for blk in _layers(d, sizes)]
        want = sum(float(np.vdot(g, w)) for g, w in zip(ref.grad_w, dw, strict=True))
        want += sum(float(np.dot(g, b)) for g, b in zip(ref.grad_b, db, strict=True))
        after = cost_value(tr.net, tr.cost, bx, by, reg, lmbda, N)
        assert p.predicted == pytest.approx(want, rel=1e-9, abs=1e-14)
        assert p.cost_before == pytest.approx(ref.cost, rel=1e-12)
        assert p.cost_after == pytest.approx(after, rel=1e-12)
        assert p.actual == pytest.approx(after - ref.cost, rel=1e-9, abs=1e-14)


def _layers(theta: np.ndarray, sizes: list[int]) -> list[np.ndarray]:
    out, o = [], 0
    for n, k in zip(sizes[1:], sizes[:-1], strict=True):
        out.append(theta[o : o + n * (k + 1)].reshape(n, k + 1))
        o += n * (k + 1)
    return out
