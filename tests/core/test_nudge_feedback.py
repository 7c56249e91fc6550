"""What the inverse rule (and any rule) predicts for a nudge, against a recursion written
here with np.linalg.pinv, and against the measured slope, which only backprop matches."""

from __future__ import annotations

import numpy as np
import pytest

from app.core import feedback as fb
from app.core.activations import ACTIVATIONS
from app.core.nudge import nudge
from tests.core.test_nudge import random_case

SIZES = [3, 5, 4, 2]  # w^3 is 4 × 5, w^4 is 2 × 4: neither is square


def _sigma_prime(name: str, z: np.ndarray) -> np.ndarray:
    act = ACTIVATIONS[name]
    return np.asarray(act.prime(z[None, :], act.fn(z[None, :]))[0])


def _rule_slopes(net, x, y, back):  # type: ignore[no-untyped-def]
    """Per layer l = 2..L: δ̃^l and the error carried back to a^l (``Σ_i B_ji δ̃_i``) for
    a quadratic cost, the forward pass and the recursion written out with ``back[i]`` =
    B^{i+3}."""
    a, zs = [x], []
    for w, b, name in zip(net.weights, net.biases, net.activations, strict=True):
        zs.append(w @ a[-1] + b)
        a.append(ACTIVATIONS[name].fn(zs[-1][None, :])[0])
    d = (a[-1] - y) * _sigma_prime(net.activations[-1], zs[-1])  # BP1
    deltas, carried = [d], [a[-1] - y]
    for i in range(len(net.weights) - 2, -1, -1):
        c = back[i] @ deltas[0]
        carried.insert(0, c)
        deltas.insert(0, c * _sigma_prime(net.activations[i], zs[i]))
    return a, deltas, carried


@pytest.mark.parametrize("hidden", ["tanh", "sigmoid", "swish"])
@pytest.mark.parametrize("seed", range(4))
def test_the_inverse_prediction_is_the_pinv_recursion(hidden: str, seed: int) -> None:
    net, x, y = random_case(hidden, "tanh", "quadratic", seed, SIZES)
    pinv = [np.linalg.pinv(w) for w in net.weights[1:]]
    a, d, carried = _rule_slopes(net, x, y, pinv)
    for l_ in (2, 3, 4):
        i = l_ - 2
        for j in range(SIZES[i + 1]):
            got = {q: nudge(net, "quadratic", x, y, q, l_, j).inverse for q in ("z", "b", "a")}
            assert got["z"] == pytest.approx(d[i][j], rel=1e-10, abs=1e-14)
            assert got["b"] == pytest.approx(d[i][j], rel=1e-10, abs=1e-14)
            assert got["a"] == pytest.approx(carried[i][j], rel=1e-10, abs=1e-14)
            r = nudge(net, "quadratic", x, y, "w", l_, j, 1)
            assert r.inverse == pytest.approx(a[i][1] * d[i][j], rel=1e-10, abs=1e-14)
            if l_ == 4:  # BP1 is every rule's
                assert r.inverse == r.backprop


def test_the_measurement_sides_with_backprop_not_the_inverse() -> None:
    """On networks whose w is not square, the measured slope agrees with backprop and, below
    the output layer, typically not with the inverse rule."""
    agree, differ, total = 0, 0, 0
    for seed in range(6):
        net, x, y = random_case("tanh", "tanh", "quadratic", seed, SIZES)
        for l_, j in ((2, 0), (2, 3), (3, 1), (3, 2)):
            for q, k in (("z", None), ("w", 0)):
                r = nudge(net, "quadratic", x, y, q, l_, j, k)
                assert r.inverse is not None
                total += 1
                scale = max(abs(r.measured), 1e-4)
                agree += abs(r.measured - r.backprop) <= 1e-6 * scale
                differ += abs(r.measured - r.inverse) > 1e-2 * scale
    assert agree == total
    assert differ >= 0.9 * total


def test_a_run_rule_is_read_with_its_own_matrices() -> None:
    net, x, y = random_case("tanh", "tanh", "quadratic", 2, SIZES)
    rule = fb.make("random", SIZES, 9)
    _, d, carried = _rule_slopes(net, x, y, list(rule.fixed))
    r = nudge(net, "quadratic", x, y, "a", 2, 1, feedback=rule)
    assert r.rule == pytest.approx(carried[0][1], rel=1e-10)
    assert nudge(net, "quadratic", x, y, "z", 3, 2, feedback=rule).rule == pytest.approx(
        d[1][2], rel=1e-10
    )
    plain = nudge(net, "quadratic", x, y, "z", 2, 0)
    assert plain.rule == plain.backprop  # no rule given: backprop's
