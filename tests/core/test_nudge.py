"""Nudging: the measured slope of C_x against backprop's value, for every activation and
cost in the registries, on seeded random networks."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from app.core.activations import HIDDEN
from app.core.costs import COSTS, get_cost
from app.core.network import Network, backprop, feedforward
from app.core.nudge import (
    CBRT_U,
    NotFinite,
    NudgeError,
    nudge,
    nudge_layer,
)

SIZES = [3, 4, 3, 2]
PAIRS = [(hidden, out, cost) for cost, c in COSTS.items() for out in c.outputs for hidden in HIDDEN]


def random_case(
    hidden: str, out: str, cost: str, seed: int, sizes: list[int] = SIZES
) -> tuple[Network, np.ndarray, np.ndarray]:
    """A network with normal(0, 1) parameters, an input and a target fitting the cost."""
    rng = np.random.default_rng(seed)
    weights = [rng.normal(size=(n, k)) for k, n in itertools.pairwise(sizes)]
    biases = [rng.normal(size=n) for n in sizes[1:]]
    net = Network(sizes, weights, biases, [hidden] * (len(sizes) - 2) + [out])
    x = rng.normal(size=sizes[0])
    if cost == "quadratic":
        y = rng.uniform(-1.0, 1.0, size=sizes[-1])
    else:  # one-hot (log-likelihood), 0/1 targets (cross-entropy)
        y = np.eye(sizes[-1])[rng.integers(sizes[-1])]
    return net, x, y


def every_quantity(sizes: list[int]) -> list[tuple[str, int, int, int | None]]:
    out: list[tuple[str, int, int, int | None]] = []
    for l in range(2, len(sizes) + 1):  # noqa: E741
        for j in range(sizes[l - 1]):
            out += [("z", l, j, None), ("a", l, j, None), ("b", l, j, None)]
            out += [("w", l, j, k) for k in range(sizes[l - 2])]
    return out


def reference_value(net: Network, cost: str, x, y, of: str, l: int, j: int, k: int | None):  # noqa: E741
    """The derivative as network.backprop gives it (the readable reference), by the
    book's formulas: δ^l_j; Σ_i w^{l+1}_ij δ^{l+1}_i (a^L: ∇_a C); a^{l-1}_k δ^l_j; δ^l_j."""
    t = backprop(net, cost, x[None, :], y[None, :])
    i = l - 2
    if of in ("z", "b"):
        return t.delta[i][0, j]
    if of == "w":
        return t.a[i][0, k] * t.delta[i][0, j]
    if l == net.L:
        return get_cost(cost, net.activations[-1]).grad_a(t.a[-1], t.y)[0, j]
    return sum(net.weights[i + 1][r, j] * t.delta[i + 1][0, r] for r in range(net.sizes[l]))


@pytest.mark.parametrize(("hidden", "out", "cost"), PAIRS)
def test_measured_slope_agrees_with_backprop_for_every_activation_and_cost(
    hidden: str, out: str, cost: str
) -> None:
    checked = 0
    for seed in range(2):
        net, x, y = random_case(hidden, out, cost, seed)
        for of, l, j, k in every_quantity(SIZES):  # noqa: E741
            r = nudge(net, cost, x, y, of, l, j, k)
            want = reference_value(net, cost, x, y, of, l, j, k)
            # backprop's value is the reference's: to the last bit, except a hidden a's
            # sum, which the reference here adds in its own order
            if of in ("z", "b", "w") or l == net.L:
                assert r.backprop == want, (of, l, j, k)
            else:
                assert r.backprop == pytest.approx(want, rel=1e-13, abs=1e-300)
            # measured: 1e-6 relative, wherever the slope is not tiny next to C_x (rounding
            # of C_x alone is about u·C_x/ε ≈ 4e-11·C_x in the slope)
            if abs(want) >= 1e-3 * max(1.0, r.cost):
                assert r.measured == pytest.approx(want, rel=1e-6), (seed, of, l, j, k)
                checked += 1
            assert r.forward_passes == 2
    assert checked >= 40  # most of the 2 · 57 quantities are not tiny


def test_backprop_value_is_network_backprop_bit_for_bit() -> None:
    net, x, y = random_case("tanh", "sigmoid", "cross_entropy", 7)
    t = backprop(net, "cross_entropy", x[None, :], y[None, :])
    assert nudge(net, "cross_entropy", x, y, "z", 3, 1).backprop == t.delta[1][0, 1]
    assert nudge(net, "cross_entropy", x, y, "b", 2, 3).backprop == t.grad_b[0][3]
    assert nudge(net, "cross_entropy", x, y, "w", 4, 1, 2).backprop == t.grad_w[2][1, 2]
    hidden_a = (t.delta[2] @ net.weights[2])[0, 0]
    assert nudge(net, "cross_entropy", x, y, "a", 3, 0).backprop == hidden_a


def test_the_cost_written_in_a_is_the_registry_cost() -> None:
    """C_x(a^L) as the registry writes it for nudging (``of_a``) equals its per_example at
    the network's own a^L, for every registered cost."""
    for name, c in COSTS.items():
        for out in c.outputs:
            net, x, y = random_case("tanh", out, name, 3)
            f = feedforward(net, x[None, :])
            want = float(c.per_example(f.z[-1], f.a[-1], y[None, :])[0])
            assert float(c.of_a(f.a[-1], y[None, :])[0]) == pytest.approx(want, rel=1e-13)


def test_softmax_output_a_and_z_have_different_slopes() -> None:
    """Softmax + log-likelihood: nudging a^L_j alone measures −y_j/a_j (the a^L are free);
    nudging z^L_j moves every a^L through the softmax and measures a_j − y_j (BP1)."""
    net, x, y = random_case("tanh", "softmax", "log_likelihood", 11)
    a_L = feedforward(net, x[None, :]).a[-1][0]
    hot = int(np.argmax(y))
    r_a = nudge(net, "log_likelihood", x, y, "a", 4, hot)
    r_z = nudge(net, "log_likelihood", x, y, "z", 4, hot)
    assert r_a.measured == pytest.approx(-1.0 / a_L[hot], rel=1e-7)
    assert r_z.measured == pytest.approx(a_L[hot] - 1.0, rel=1e-7)
    other = 1 - hot
    assert abs(nudge(net, "log_likelihood", x, y, "a", 4, other).measured) < 1e-9
    assert nudge(net, "log_likelihood", x, y, "z", 4, other).measured == pytest.approx(
        a_L[other], rel=1e-7
    )


def test_the_step_follows_the_stated_rule() -> None:
    """ε = ∛u · max(1, |q|): a weight of 40 is nudged by 40 times the step of a weight of 0.5."""
    net, x, y = random_case("tanh", "linear", "quadratic", 5)
    net.weights[0][0, 0] = 0.5
    net.weights[0][0, 1] = 40.0
    small = nudge(net, "quadratic", x, y, "w", 2, 0, 0)
    big = nudge(net, "quadratic", x, y, "w", 2, 0, 1)
    assert small.epsilon == pytest.approx(CBRT_U, rel=1e-9)
    assert big.epsilon == pytest.approx(40 * CBRT_U, rel=1e-9)
    assert 6.0e-6 < CBRT_U < 6.1e-6
    # cross-entropy's a^L: the step shrinks with the distance to 0 or 1
    net, x, y = random_case("tanh", "sigmoid", "cross_entropy", 5)
    a = feedforward(net, x[None, :]).a[-1][0, 0]
    r = nudge(net, "cross_entropy", x, y, "a", 4, 0)
    assert r.epsilon == pytest.approx(CBRT_U * min(a, 1 - a), rel=1e-6)


def test_a_large_step_shows_the_finite_difference_failing() -> None:
    """The slope is measured, not copied from backprop: a step of 0.5 on a tanh network
    misses backprop's value by more than the curvature allows a small step to."""
    net, x, y = random_case("tanh", "linear", "quadratic", 2)
    worst = 0.0
    for of, l, j, k in every_quantity(SIZES):  # noqa: E741
        r = nudge(net, "quadratic", x, y, of, l, j, k, epsilon=0.5)
        assert r.epsilon == pytest.approx(0.5, rel=1e-12)
        if abs(r.backprop) > 1e-3:
            worst = max(worst, abs(r.measured - r.backprop) / abs(r.backprop))
    assert worst > 1e-3


def test_nudging_changes_nothing() -> None:
    net, x, y = random_case("swish", "sigmoid", "cross_entropy", 4)
    before = [w.copy() for w in net.weights] + [b.copy() for b in net.biases]
    x0, y0 = x.copy(), y.copy()
    for of, l, j, k in every_quantity(SIZES):  # noqa: E741
        nudge(net, "cross_entropy", x, y, of, l, j, k)
    nudge_layer(net, "cross_entropy", x, y, 3)
    after = net.weights + net.biases
    assert all(np.array_equal(p, q) for p, q in zip(before, after, strict=True))
    assert np.array_equal(x, x0) and np.array_equal(y, y0)


def test_every_weight_of_a_layer() -> None:
    net, x, y = random_case("gelu", "softmax", "log_likelihood", 9)
    r = nudge_layer(net, "log_likelihood", x, y, 3)
    assert r.count == 3 * 4 and r.forward_passes == 2 * 12
    t = backprop(net, "log_likelihood", x[None, :], y[None, :])
    assert np.array_equal(r.backprop, t.grad_w[1])
    for j, k in itertools.product(range(3), range(4)):
        one = nudge(net, "log_likelihood", x, y, "w", 3, j, k)
        assert r.measured[j, k] == one.measured
    rel = np.abs(r.measured - r.backprop) / np.maximum(np.abs(r.backprop), 1e-4)
    assert r.max_rel_diff == pytest.approx(rel.max(), rel=1e-12)
    assert rel[r.worst] == rel.max()
    assert r.max_rel_diff < 1e-6
    assert r.seconds > 0 and r.backprop_seconds > 0


@pytest.mark.parametrize(
    ("of", "l", "j", "k", "field", "says"),
    [
        ("z", 1, 0, None, "l", "2..4"),
        ("a", 1, 0, None, "l", "input"),
        ("b", 5, 0, None, "l", "L = 4"),
        ("z", 3, 3, None, "j", "0..2"),
        ("w", 3, 0, None, "k", "needs k"),
        ("w", 3, 0, 4, "k", "0..3"),
        ("b", 3, 0, 1, "k", "weight w only"),
        ("q", 3, 0, None, "of", "z, a, w, b"),
    ],
)
def test_a_quantity_the_network_lacks_is_named(
    of: str,
    l: int,  # noqa: E741
    j: int,
    k: int | None,
    field: str,
    says: str,
) -> None:
    net, x, y = random_case("tanh", "linear", "quadratic", 0)
    with pytest.raises(NudgeError, match=says) as e:
        nudge(net, "quadratic", x, y, of, l, j, k)
    assert e.value.field == field


def test_log_domain_and_saturated_outputs() -> None:
    net, x, y = random_case("tanh", "sigmoid", "cross_entropy", 1)
    a = feedforward(net, x[None, :]).a[-1][0, 0]
    with pytest.raises(NudgeError, match="below") as e:
        nudge(net, "cross_entropy", x, y, "a", 4, 0, epsilon=min(a, 1 - a) * 1.01)
    assert e.value.field == "epsilon"
    # a sigmoid output saturated to exactly 1.0: ln(1 − a) has no finite slope
    net.biases[-1][0] = 60.0
    assert feedforward(net, x[None, :]).a[-1][0, 0] == 1.0
    with pytest.raises(NotFinite):
        nudge(net, "cross_entropy", x, y, "a", 4, 0)
    # its z still has a finite slope: the cost is computed from z (softplus)
    r = nudge(net, "cross_entropy", x, y, "z", 4, 0)
    assert math.isfinite(r.measured) and r.measured == pytest.approx(1.0 - y[0], rel=1e-6)


def test_a_step_below_float64_spacing_is_named() -> None:
    """ε = 1e-15 on a weight of 40: 40 ± 1e-15 is 40 again, so there is nothing to measure."""
    net, x, y = random_case("tanh", "linear", "quadratic", 5)
    net.weights[0][0, 1] = 40.0
    with pytest.raises(NudgeError, match="spacing") as e:
        nudge(net, "quadratic", x, y, "w", 2, 0, 1, epsilon=1e-15)
    assert e.value.field == "epsilon"
    with pytest.raises(NudgeError, match="spacing"):
        nudge_layer(net, "quadratic", x, y, 2, epsilon=1e-15)
    # a tiny ε that still moves q measures rounding noise, and says which ε it used
    r = nudge(net, "quadratic", x, y, "w", 2, 0, 0, epsilon=1e-15)
    assert r.epsilon > 0 and math.isfinite(r.measured)
