"""The engine's training held to an independent reference loop, over hundreds of steps.

The reference below is written from the book (Nielsen ch. 1-3), example by example, with
none of the engine's helpers: its own activations, σ', BP1-BP4, regularisers, momentum
(``v ← μv − η∇C``, ``w ← w + v``, ch. 3) and minibatches (a fresh ``rng.permutation`` of
the training set every epoch, consecutive batches, the last one short). Both training
paths of :class:`Trainer` must match it to 1e-12 of the parameters' scale. Before this file,
momentum was only ever compared with itself: a μ² in the update passed every test.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from app.core.network import Network
from app.core.training import Hyper, Trainer
from tests.core.test_training import N, problem  # the same random problems as the paths' test

SLOPE = 0.01  # leaky ReLU's slope for z < 0 (Playground's, and the API's documented value)


def act(name: str, z: np.ndarray) -> np.ndarray:
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.where(z > 0, z, 0.0)
    if name == "leaky_relu":
        return np.where(z > 0, z, SLOPE * z)
    if name == "swish":  # z·sigmoid(z)
        return z / (1.0 + np.exp(-z))
    if name == "gelu":  # z·Φ(z), Φ the standard normal CDF
        return z * _phi(z)
    if name == "linear":
        return z.copy()
    if name == "softmax":
        e = np.exp(z - z.max())
        return e / e.sum()
    raise AssertionError(name)


def act_prime(name: str, z: np.ndarray) -> np.ndarray:
    if name == "sigmoid":
        s = 1.0 / (1.0 + np.exp(-z))
        return s * (1.0 - s)
    if name == "tanh":
        return 1.0 - np.tanh(z) ** 2
    if name == "relu":
        return (z > 0).astype(float)
    if name == "leaky_relu":
        return np.where(z > 0, 1.0, SLOPE)
    if name == "swish":  # s + z·s(1 − s)
        s = 1.0 / (1.0 + np.exp(-z))
        return s + z * s * (1.0 - s)
    if name == "gelu":  # Φ(z) + z·φ(z)
        return _phi(z) + z * np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
    if name == "linear":
        return np.ones_like(z)
    raise AssertionError(name)


def _phi(z: np.ndarray) -> np.ndarray:
    """Φ(z) = ½ erfc(−z/√2), elementwise (erfc: not the engine's erf)."""
    return np.array([0.5 * math.erfc(-v / math.sqrt(2.0)) for v in z.ravel()]).reshape(z.shape)


def example_gradients(
    ws: list[np.ndarray],
    bs: list[np.ndarray],
    acts: list[str],
    cost: str,
    x: np.ndarray,
    y: np.ndarray,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """∂C_x/∂w^l and ∂C_x/∂b^l for one example, column vectors as in the book."""
    a, zs, activations = x, [], [x]
    for w, b, name in zip(ws, bs, acts, strict=True):
        z = w @ a + b
        a = act(name, z)
        zs.append(z)
        activations.append(a)
    if cost == "quadratic":  # BP1: (a − y) ⊙ σ'(z^L)
        delta = (activations[-1] - y) * act_prime(acts[-1], zs[-1])
    else:  # cross-entropy + sigmoid, log-likelihood + softmax: σ' cancels
        delta = activations[-1] - y
    gw: list[np.ndarray] = [np.empty(0)] * len(ws)
    gb: list[np.ndarray] = [np.empty(0)] * len(ws)
    for i in range(len(ws) - 1, -1, -1):
        gb[i] = delta  # BP3
        gw[i] = np.outer(delta, activations[i])  # BP4
        if i > 0:  # BP2
            delta = (ws[i].T @ delta) * act_prime(acts[i - 1], zs[i - 1])
    return gw, gb


def reference_run(
    net: Network,
    cost: str,
    x: np.ndarray,
    y: np.ndarray,
    plan: list[tuple[Hyper, int]],
    seed: int,
) -> list[np.ndarray]:
    """Train copies of ``net``'s parameters for each (hyper, steps) of ``plan`` in turn;
    returns the final weights and biases, flattened layer by layer."""
    ws = [w.copy() for w in net.weights]
    bs = [b.copy() for b in net.biases]
    vw = [np.zeros_like(w) for w in ws]
    vb = [np.zeros_like(b) for b in bs]
    rng = np.random.default_rng(seed)
    order: np.ndarray = np.arange(0)
    cursor = N
    for hyper, steps in plan:
        eta, mu, lam, m = hyper.learning_rate, hyper.momentum, hyper.lmbda, hyper.batch_size
        for _ in range(steps):
            if cursor >= N:
                order, cursor = rng.permutation(N), 0
            batch = order[cursor : cursor + m]
            cursor += len(batch)
            sum_w = [np.zeros_like(w) for w in ws]
            sum_b = [np.zeros_like(b) for b in bs]
            for e in batch:
                gw, gb = example_gradients(ws, bs, net.activations, cost, x[e], y[e])
                for i in range(len(ws)):
                    sum_w[i] += gw[i]
                    sum_b[i] += gb[i]
            for i in range(len(ws)):
                grad_w = sum_w[i] / len(batch)
                if hyper.regulariser == "l2":
                    grad_w = grad_w + lam / N * ws[i]
                elif hyper.regulariser == "l1":
                    grad_w = grad_w + lam / N * np.sign(ws[i])
                grad_b = sum_b[i] / len(batch)
                vw[i] = mu * vw[i] - eta * grad_w
                vb[i] = mu * vb[i] - eta * grad_b
                ws[i] = ws[i] + vw[i]
                bs[i] = bs[i] + vb[i]
    return [np.concatenate([p.ravel() for p in ws]), np.concatenate([p.ravel() for p in bs])]


def engine_params(net: Network) -> list[np.ndarray]:
    return [
        np.concatenate([w.ravel() for w in net.weights]),
        np.concatenate([b.ravel() for b in net.biases]),
    ]


# Stable settings: where training is chaotic (e.g. η = 0.3, μ = 0.9 here), any two correct
# implementations drift apart from their last-bit differences, 1e-16 growing to 1e-9 by step
# 120, so agreement to 1e-12 is only a fair demand where small differences do not explode.
CASES = [
    # (activations, cost, [(hyper, steps), ...])
    (["tanh", "tanh", "linear"], "quadratic", [(Hyper(0.05, 10), 300)]),
    (["sigmoid", "sigmoid", "sigmoid"], "quadratic", [(Hyper(0.5, 10, momentum=0.9), 300)]),
    (["relu", "relu", "linear"], "quadratic", [(Hyper(0.02, 7, "l2", 3.0, 0.9), 300)]),
    (["leaky_relu", "tanh", "sigmoid"], "cross_entropy", [(Hyper(0.2, 4, "l1", 0.5, 0.5), 300)]),
    (["tanh", "sigmoid", "softmax"], "log_likelihood", [(Hyper(0.3, 8, "l2", 1.0, 0.8), 300)]),
    (["swish", "gelu", "linear"], "quadratic", [(Hyper(0.05, 10, "l2", 1.0, 0.5), 300)]),
    (["gelu", "swish", "sigmoid"], "cross_entropy", [(Hyper(0.2, 6, "l1", 0.5), 300)]),
    # hyperparameters changed mid-run keep the weights and the velocity
    (
        ["tanh", "tanh", "sigmoid"],
        "cross_entropy",
        [
            (Hyper(0.1, 5, momentum=0.9), 120),
            (Hyper(0.1, 12, "l1", 2.0, 0.5), 120),
            (Hyper(0.05, 47, "l2", 1.0, 0.0), 60),
        ],
    ),
]


def assert_close(engine: list[np.ndarray], reference: list[np.ndarray]) -> None:
    for got, want in zip(engine, reference, strict=True):
        assert np.isfinite(got).all()
        scale = np.max(np.abs(want))
        assert np.max(np.abs(got - want)) <= 1e-12 * scale, np.max(np.abs(got - want)) / scale


@pytest.mark.parametrize("path", ["fast", "instrumented"])
@pytest.mark.parametrize(("acts", "cost", "plan"), CASES)
def test_engine_matches_an_independent_training_loop(
    acts: list[str], cost: str, plan: list[tuple[Hyper, int]], path: str
) -> None:
    net, x, y = problem(acts, sizes=[3, 5, 4, 3], seed=7)
    reference = reference_run(net, cost, x, y, plan, seed=11)
    trainer = Trainer(net, cost, x, y, plan[0][0], np.random.default_rng(11))
    for hyper, steps in plan:
        trainer.set_hyper(
            learning_rate=hyper.learning_rate,
            batch_size=hyper.batch_size,
            regulariser=hyper.regulariser,
            lmbda=hyper.lmbda,
            momentum=hyper.momentum,
        )
        if path == "fast":
            assert trainer.train(steps) == steps
        else:
            for _ in range(steps):
                trainer.step_instrumented()
    assert trainer.status == "ok"
    assert_close(engine_params(trainer.net), reference)


def test_the_reference_catches_a_wrong_momentum() -> None:
    """The check can fail: the same loop with μ² in the velocity update is far off."""
    acts, cost = ["sigmoid", "sigmoid", "sigmoid"], "quadratic"
    net, x, y = problem(acts, sizes=[3, 5, 4, 3], seed=7)
    right = reference_run(net, cost, x, y, [(Hyper(0.5, 10, momentum=0.9), 100)], seed=11)
    wrong = reference_run(net, cost, x, y, [(Hyper(0.5, 10, momentum=0.81), 100)], seed=11)
    with pytest.raises(AssertionError):
        assert_close(wrong, right)
