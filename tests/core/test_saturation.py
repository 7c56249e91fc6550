"""Saturated and dead units, as the activation registry describes each activation."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from app.core.activations import ACTIVATIONS
from app.core.forward import Feedforward
from app.core.network import Network
from app.core.saturation import (
    ALARM,
    LayerHealth,
    count,
    layer_health,
    saturated_beyond,
    summary,
)

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


def test_the_summary_applies_the_documented_rules_to_every_mix_of_layers() -> None:
    """docs/frames.md's health: shares over the hidden units only, the output saturated when
    every output unit is, the alarm above ALARM (or on that output), "dead" when the alarm is
    for mostly dead units; checked by plain arithmetic on random layers, edges included."""
    rng = np.random.default_rng(3)
    for _ in range(2000):
        layers = []
        for l in range(2, 2 + int(rng.integers(1, 4))):  # noqa: E741
            n = int(rng.integers(1, 5))
            sat = int(rng.integers(0, n + 1))
            dead = int(rng.integers(0, n - sat + 1)) if rng.random() < 0.5 else 0
            layers.append(LayerHealth(l, n, sat, dead))
        if rng.random() < 0.7:
            n = int(rng.integers(1, 3))
            layers.append(LayerHealth(len(layers) + 2, n, int(rng.integers(0, n + 1)), 0, True))
        hidden_n = sum(h.n for h in layers if not h.output)
        s = sum(h.saturated for h in layers if not h.output) / hidden_n
        d = sum(h.dead for h in layers if not h.output) / hidden_n
        out = [h for h in layers if h.output]
        out_sat = bool(out) and out[0].saturated == out[0].n
        sm = summary(layers)
        assert (sm.saturated_share, sm.dead_share) == (s, d)
        assert sm.output_saturated == out_sat
        assert sm.alarm == (s + d > ALARM or out_sat)
        assert sm.mostly_dead == (s + d > ALARM and d >= s)


def test_without_hidden_layers_nothing_is_shared_out() -> None:
    sm = summary([LayerHealth(2, 1, 1, 0, output=True)])
    assert (sm.saturated_share, sm.dead_share, sm.output_saturated, sm.alarm) == (0, 0, True, True)
    assert not sm.mostly_dead


def _per_layer(fwd: Feedforward, y: np.ndarray, cancels: bool, n: int) -> list[LayerHealth]:
    """The rule of the module's docstring, one layer at a time and written out plainly."""
    out, L = [], len(fwd.sizes)
    with np.errstate(all="ignore"):
        for l, act in enumerate(fwd.acts, start=2):  # noqa: E741
            if l == L and cancels:
                break
            z, a = fwd.z(l)[:, :n], fwd.a(l)[:, :n]
            sat = dead = 0
            for u in range(z.shape[0]):
                if act.prime_max is not None:
                    p = act.prime(z[u], a[u])
                    stuck = np.count_nonzero(p < 0.01 * act.prime_max) >= 0.5 * n
                    if l == L and act.bounds is not None:
                        wrong = np.abs(a[u] - y[:n, u]) > 0.5 * (act.bounds[1] - act.bounds[0])
                        stuck = stuck and np.count_nonzero(wrong) >= 0.25 * n
                    sat += bool(stuck)
                elif act.dies:
                    dead += bool(np.all(z[u] <= 0))
            out.append(LayerHealth(l, z.shape[0], sat, dead, output=l == L))
    return out


OUTPUTS = [name for name, act in ACTIVATIONS.items() if act.output_ok]


@pytest.mark.parametrize("hidden", HIDDEN)
def test_counting_layers_together_counts_what_each_layer_alone_does(hidden: str) -> None:
    """The stacked count (one block of rows per activation) against the per-unit rule, on
    networks from calm to saturated and dead, diverged ones included, over every output."""
    rng = np.random.default_rng(11)
    x = rng.uniform(-1, 1, size=(40, 3))
    for trial in range(12):
        output = OUTPUTS[trial % len(OUTPUTS)]
        sizes = [3, *rng.integers(1, 6, size=int(rng.integers(1, 4))).tolist(), 2]
        scale, shift = [0.3, 3.0, 30.0][trial % 3], float(rng.normal(0, 2))
        ws = [rng.normal(0, scale, (n, k)) for k, n in itertools.pairwise(sizes)]
        bs = [rng.normal(shift, scale, n) for n in sizes[1:]]
        if trial == 11:
            ws[0][0, 0] = np.nan  # a diverged run
        net = Network(sizes, ws, bs, [hidden] * (len(sizes) - 2) + [output])
        y = rng.choice(ACTIVATIONS[output].classes, size=(40, 2))
        fwd = Feedforward(net.sizes, net.activations, x)
        fwd.set_network(net)
        fwd.run()
        for cancels in (False, True):
            for n in (40, 17):
                assert count(fwd, y, cancels, n) == _per_layer(fwd, y, cancels, n)


@pytest.mark.parametrize("name", [n for n, a in ACTIVATIONS.items() if a.saturates])
def test_a_unit_is_saturated_exactly_beyond_the_z_the_count_compares_with(name: str) -> None:
    """The count compares |z| with one number per activation; that is the documented rule
    (σ'(z) below 1 % of its largest value) only if σ' is even and falls as |z| grows. Checked
    with the registry's σ' on 400,002 z from −40 to 40, and a billionth either side of the
    limit (closer, σ' computed in float64 is not exactly even: its rounding decides)."""
    act = ACTIVATIONS[name]
    limit = saturated_beyond(name)
    z = np.linspace(-40, 40, 400_002)
    z = np.concatenate(
        [z[np.abs(np.abs(z) - limit) > 1e-9 * limit], limit * np.array([1 - 1e-9, 1 + 1e-9])]
    )
    z = np.concatenate([z, -z])
    low = act.prime(z, act.fn(z)) < 0.01 * act.prime_max
    assert np.array_equal(low, np.abs(z) > limit)
    assert 1 < limit < 10  # tanh: 2.993, sigmoid: 5.986 (where σ' is 1 % of its peak)
