"""Train and test cost and accuracy against formulas written here, in float64, to the
4 significant digits the page shows."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app.core import saturation
from app.core.costs import COSTS, get_cost
from app.core.network import Network, output
from app.core.training import Hyper, Trainer
from app.runs.metrics import Evaluator

RNG = np.random.default_rng(11)
X = RNG.normal(0.0, 1.5, size=(300, 2))
LABEL = np.where(X[:, 0] * X[:, 1] > 0, 1.0, -1.0)  # xor-like: about half wrong at first
CLASS = (np.arctan2(X[:, 1], X[:, 0]) // (2 * np.pi / 3) % 3).astype(int)  # three wedges


def _problem(cost: str) -> tuple[list[str], np.ndarray, str]:
    """(activations, targets y (N, n_L), kind) for a cost, as the app pairs them."""
    if cost == "log_likelihood":
        return ["tanh", "softmax"], np.eye(3)[CLASS], "multiclass"
    if cost == "cross_entropy":
        return ["tanh", "sigmoid"], (LABEL > 0).astype(float)[:, None], "classification"
    return ["tanh", "tanh"], LABEL[:, None], "classification"


def _want_cost(cost: str, a: np.ndarray, y: np.ndarray) -> float:
    """Mean C_x over the points, each cost's textbook formula."""
    if cost == "quadratic":
        per = 0.5 * ((a - y) ** 2).sum(axis=1)
    elif cost == "cross_entropy":
        per = -(y * np.log(a) + (1 - y) * np.log(1 - a)).sum(axis=1)
    else:
        per = -(y * np.log(a)).sum(axis=1)
    return float(per.mean())


def _want_accuracy(out_act: str, a: np.ndarray, y: np.ndarray) -> float:
    """Share of points whose predicted class is their class, counted one by one."""
    hits = 0
    for a_x, y_x in zip(a, y, strict=True):
        if len(a_x) > 1:
            hits += int(np.argmax(a_x) == np.argmax(y_x))
        else:
            cut = 0.5 if out_act == "sigmoid" else 0.0
            hits += int((a_x[0] > cut) == (y_x[0] > cut))
    return hits / len(a)


def _shown(x: float) -> float:
    return float(f"{x:.4g}")


@pytest.mark.parametrize("cost_name", sorted(COSTS))
@pytest.mark.parametrize("n_train", [210, 300])
def test_costs_and_accuracies_are_the_formulas(cost_name: str, n_train: int) -> None:
    acts, y, kind = _problem(cost_name)
    net = Network.create([2, 6, y.shape[1]], acts, "xavier", np.random.default_rng(2))
    tr = Trainer(net, cost_name, X[:n_train], y[:n_train], Hyper(learning_rate=0.1), RNG)
    tr.train(40)  # away from the initial weights
    ev = Evaluator(X, y, n_train, kind, net, tr.theta)
    penalty = 0.0125
    got = ev(get_cost(cost_name, acts[-1]), penalty)
    a = output(net, X)
    assert got.finite
    assert got.train_cost == pytest.approx(
        _want_cost(cost_name, a[:n_train], y[:n_train]) + penalty, rel=1e-3
    )
    assert got.train_accuracy == _shown(_want_accuracy(acts[-1], a[:n_train], y[:n_train]))
    if n_train == len(X):  # no test set: nothing to show
        assert got.test_cost is None and got.test_accuracy is None
    else:
        want = _want_cost(cost_name, a[n_train:], y[n_train:]) + penalty
        assert got.test_cost == pytest.approx(want, rel=1e-3)
        assert got.test_accuracy == _shown(_want_accuracy(acts[-1], a[n_train:], y[n_train:]))


def test_regression_has_costs_and_no_accuracy() -> None:
    y = (X[:, :1] * 0.5) ** 2
    net = Network.create([2, 4, 1], ["relu", "linear"], "xavier", np.random.default_rng(0))
    tr = Trainer(net, "quadratic", X[:200], y[:200], Hyper(), RNG)
    got = Evaluator(X, y, 200, "regression", net, tr.theta)(get_cost("quadratic", "linear"), 0.0)
    a = output(net, X)
    assert got.train_cost == pytest.approx(0.5 * float(((a[:200] - y[:200]) ** 2).mean()), rel=1e-3)
    assert got.train_accuracy is None and got.test_accuracy is None


def test_training_changes_the_numbers_and_a_repeat_is_reused() -> None:
    acts, y, kind = _problem("quadratic")
    net = Network.create([2, 6, 1], acts, "xavier", np.random.default_rng(4))
    tr = Trainer(net, "quadratic", X[:250], y[:250], Hyper(learning_rate=0.3), RNG)
    ev = Evaluator(X, y, 250, kind, net, tr.theta)
    cost = get_cost("quadratic", "tanh")
    before = ev(cost, 0.0)
    assert ev(cost, 0.0) is before  # a paused run asked again
    tr.train(300)
    after = ev(cost, 0.0)
    assert after.train_cost is not None and before.train_cost is not None
    assert after.train_cost < before.train_cost  # it learns: the shown cost goes down
    assert after.train_cost == pytest.approx(
        _want_cost("quadratic", output(net, X[:250]), y[:250]), rel=1e-3
    )


def test_an_overflowing_output_is_not_finite_and_shows_no_number() -> None:
    _, y, kind = _problem("quadratic")
    net = Network.create([2, 6, 1], ["tanh", "linear"], "xavier", np.random.default_rng(0))
    tr = Trainer(net, "quadratic", X[:250], y[:250], Hyper(), RNG)
    tr.theta[-1] = 1e300  # the output's bias: every a^L is 1e300
    got = Evaluator(X, y, 250, kind, net, tr.theta)(get_cost("quadratic", "linear"), 0.0)
    assert not got.finite
    assert got.train_cost is None and got.test_cost is None
    assert not any(isinstance(v, float) and not math.isfinite(v) for v in vars(got).values())


def test_a_cost_beyond_float32_but_finite_is_measured_in_float64() -> None:
    """An exploding run (a reviewer: plane at η 10) had weights of 1e21 and a batch cost of
    9e42, finite in float64, training's dtype; the float32 metrics overflowed to null and
    called it diverged, so it could not train on, even rewound or with a smaller η. The
    cost is measured again in float64 then: the textbook formula, to the digits shown."""
    _, y, kind = _problem("quadratic")
    net = Network.create([2, 6, 1], ["tanh", "linear"], "xavier", np.random.default_rng(0))
    tr = Trainer(net, "quadratic", X[:250], y[:250], Hyper(), RNG)
    tr.theta[-7:-1] = 1e21  # the output's weights: every a^L is about ±1e21, C_x about 1e42
    got = Evaluator(X, y, 250, kind, net, tr.theta)(get_cost("quadratic", "linear"), 0.0)
    assert got.finite and got.train_cost is not None and got.train_cost > 3.4e38
    a = output(net, X)  # the readable reference, float64
    assert got.train_cost == _shown(_want_cost("quadratic", a[:250], y[:250]))
    assert got.test_cost == _shown(_want_cost("quadratic", a[250:], y[250:]))
    assert got.train_accuracy == _shown(_want_accuracy("linear", a[:250], y[:250]))


def test_the_saturation_counts_read_the_metrics_pass_at_the_current_theta() -> None:
    """The health banner counts units on the metrics' own forward pass: after the weights
    change (a training step, an edited weight) it must count at the new weights, not the
    pass the metrics made before."""
    acts, y, kind = _problem("quadratic")
    net = Network.create([2, 4, 1], acts, "xavier", np.random.default_rng(5))
    tr = Trainer(net, "quadratic", X[:250], y[:250], Hyper(), RNG)
    ev = Evaluator(X, y, 250, kind, net, tr.theta)
    ev(get_cost("quadratic", "tanh"), 0.0)
    assert saturation.count(ev.forward_at_theta(), ev.y, n=250)[0].saturated == 0
    net.biases[0][:] = 40.0  # every hidden z is about 40: tanh' = 1 − tanh² ≈ 0 everywhere
    hidden = saturation.count(ev.forward_at_theta(), ev.y, n=250)[0]
    assert (hidden.l, hidden.n, hidden.saturated) == (2, 4, 4)
    np.testing.assert_allclose(ev.forward_at_theta().a(3).T, output(net, X), rtol=1e-5, atol=1e-6)
