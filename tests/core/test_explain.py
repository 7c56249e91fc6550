"""The explain terms (app/core/explain.py) against the reference pass and an independent
SGD loop; the saturation counts (app/core/saturation.py) on units built to be saturated."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app.core import explain, saturation
from app.core.edges import for_example
from app.core.network import Network, backprop
from app.core.training import Hyper, Trainer

CASES = [
    # hidden sizes, hidden activation, output, cost, regulariser, λ, μ
    ([4, 3], "tanh", "sigmoid", "cross_entropy", "none", 0.0, 0.0),
    ([3], "sigmoid", "linear", "quadratic", "l2", 0.3, 0.9),
    ([5, 2, 3], "relu", "tanh", "quadratic", "l1", 0.05, 0.5),
    ([2, 4], "leaky_relu", "sigmoid", "cross_entropy", "l2", 1.0, 0.9),
]


def make(case, seed):  # type: ignore[no-untyped-def]
    hidden, act, out, cost, reg, lmbda, mu = case
    rng = np.random.default_rng(seed)
    sizes = [2, *hidden, 1]
    net = Network.create(sizes, [act] * len(hidden) + [out], "xavier", rng)
    x = rng.normal(size=(23, 2))
    y = (rng.random((23, 1)) > 0.5).astype(float)
    if out == "tanh":
        y = 2 * y - 1
    hyper = Hyper(learning_rate=0.3, batch_size=5, regulariser=reg, lmbda=lmbda, momentum=mu)
    return net, cost, x, y, Trainer(net, cost, x, y, hyper, rng)


def close(a: float, b: float, scale: float = 1.0) -> bool:
    return abs(a - b) <= 1e-12 * max(scale, abs(a), abs(b))


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_neuron_terms_are_the_reference_pass(case, seed) -> None:  # type: ignore[no-untyped-def]
    net, cost, _x, _y, tr = make(case, seed)
    tr.train(7)
    bx, by = (np.array(v) for v in tr.next_batch())
    ref = backprop(net, cost, bx, by)
    cancels = tr.cost.sigma_prime_cancels
    for l in range(2, net.L + 1):  # noqa: E741
        i = l - 2
        for j in range(net.sizes[l - 1]):
            e = explain.neuron(net, cost, (bx[2], by[2]), (bx, by), l, j, cancels)
            p = e["probe"]
            assert close(p["delta"], ref.delta[i][2, j])
            rows = e["batch"]["rows"]
            assert [r["delta"] for r in rows] == pytest.approx(list(ref.delta[i][:, j]), abs=1e-15)
            assert close(e["batch"]["mean_delta"], ref.delta[i][:, j].mean())
            if l == net.L:
                assert e["equation"] == "BP1"
                assert close(p["a"], ref.a[-1][2, j]) and p["y"] == by[2, j]
                want = p["a_minus_y"] * (1.0 if cancels else p["sigma_prime"])
                assert close(want, p["delta"])
                continue
            assert e["equation"] == "BP2"
            # Each term is w^{l+1}_ij δ^{l+1}_i: the backward contribution of edges.py.
            back = for_example(net.weights[i + 1], ref.a[i + 1][2], ref.delta[i + 1][2]).backward
            for t in p["terms"]:
                assert t["w"] == net.weights[i + 1][t["i"], j]
                assert close(t["product"], back[t["i"], j])
            scale = sum(abs(t["product"]) for t in p["terms"])
            assert close(p["sum"], float(np.sum(back[:, j])), scale)
            assert close(p["sigma_prime"], ref.sigma_prime[i][2, j])
            assert close(p["sigma_prime"] * p["sum"], p["delta"], scale)
            # The batch mean of the per-example BP2 is the mean δ; the product of means is not
            # what the page may call it (it is sent so the page can show the difference).
            means = e["batch_means"]
            assert close(means["sigma_prime"], ref.sigma_prime[i][:, j].mean())
            mean_rows = [r["sigma_prime"] * r["sum"] for r in rows]
            assert close(math.fsum(mean_rows) / len(rows), e["batch"]["mean_delta"], scale)


def reference_step(net, cost, bx, by, reg, lmbda, n, eta, mu, v):  # type: ignore[no-untyped-def]
    """One SGD step written out example by example (no engine helpers): new (w, v) lists."""
    W = [w.copy() for w in net.weights]
    B = [b.copy() for b in net.biases]
    acts = net.activations
    f = {
        "tanh": (np.tanh, lambda z: 1 - np.tanh(z) ** 2),
        "sigmoid": (lambda z: 1 / (1 + np.exp(-z)), lambda z: np.exp(-z) / (1 + np.exp(-z)) ** 2),
        "relu": (lambda z: np.maximum(z, 0), lambda z: (z > 0) * 1.0),
        "leaky_relu": (lambda z: np.where(z > 0, z, 0.01 * z), lambda z: np.where(z > 0, 1, 0.01)),
        "linear": (lambda z: z, lambda z: np.ones_like(z)),
    }
    gW = [np.zeros_like(w) for w in W]
    for xv, yv in zip(bx, by, strict=True):
        a, zs = [xv], []
        for w, b, name in zip(W, B, acts, strict=True):
            zs.append(w @ a[-1] + b)
            a.append(f[name][0](zs[-1]))
        d = a[-1] - yv if cost == "cross_entropy" else (a[-1] - yv) * f[acts[-1]][1](zs[-1])
        for i in range(len(W) - 1, -1, -1):
            gW[i] += np.outer(d, a[i])
            if i:
                d = (W[i].T @ d) * f[acts[i - 1]][1](zs[i - 1])
    out_w, out_v = [], []
    for w, g, vv in zip(W, gW, v, strict=True):
        g = g / len(bx)
        if reg == "l2":
            g = g + lmbda / n * w
        elif reg == "l1":
            g = g + lmbda / n * np.sign(w)
        nv = mu * vv - eta * g
        out_v.append(nv)
        out_w.append(w + nv)
    return out_w, out_v


@pytest.mark.parametrize("case", CASES)
def test_next_delta_w_is_the_change_one_step_makes(case) -> None:  # type: ignore[no-untyped-def]
    net, cost, x, y, tr = make(case, 7)
    reg, lmbda, mu = case[4], case[5], case[6]
    v = [np.zeros_like(w) for w in net.weights]
    for _ in range(12):  # the reference loop tracks the velocity alongside the trainer
        bx, by = (np.array(a) for a in tr.next_batch())
        step = explain.Step(0.3, mu, reg, lmbda, len(x))
        want_w, v = reference_step(net, cost, bx, by, reg, lmbda, len(x), 0.3, mu, v)
        before = [w.copy() for w in net.weights]
        predicted = {
            (l, j, k): explain.edge(
                net,
                cost,
                (x[0], y[0]),
                (bx, by),
                l,
                j,
                k,
                step,
                velocity=float(tr._v_aug[l - 2][j, k]),
            )["update"]
            for l in range(2, net.L + 1)  # noqa: E741
            for j in range(net.sizes[l - 1])
            for k in range(net.sizes[l - 2])
        }
        tr.train(1)
        for (l, j, k), u in predicted.items():  # noqa: E741
            i = l - 2
            scale = abs(before[i][j, k]) + 1e-3
            ref_dw = want_w[i][j, k] - before[i][j, k]
            assert abs(u["delta_w"] - ref_dw) <= 1e-12 * scale, (l, j, k)
            made = net.weights[i][j, k] - before[i][j, k]
            assert abs(u["delta_w"] - made) <= 1e-12 * scale, (l, j, k)
            assert u["w_next"] == pytest.approx(net.weights[i][j, k], abs=1e-12 * scale)
            assert abs(v[i][j, k] - tr._v_aug[i][j, k]) <= 1e-12 * scale or not mu


def test_edge_probe_numbers_and_bp4_mean() -> None:
    net, cost, x, y, _tr = make(CASES[1], 3)
    bx, by = x[:5], y[:5]
    ref = backprop(net, cost, bx, by)
    step = explain.Step(0.3, 0.0, "none", 0.0, len(x))
    for j in range(3):
        for k in range(2):
            e = explain.edge(net, cost, (bx[1], by[1]), (bx, by), 2, j, k, step, 0.0)
            q = for_example(net.weights[0], ref.a[0][1], ref.delta[0][1])
            assert close(e["probe"]["forward"], q.forward[j, k])
            assert close(e["probe"]["backward"], q.backward[j, k])
            assert close(e["probe"]["gradient"], q.gradient[j, k])
            assert close(e["update"]["grad"], ref.grad_w[0][j, k])
            assert e["update"]["delta_w"] == -0.3 * e["update"]["grad"]


def test_saturated_and_dead_units_are_counted() -> None:
    x = np.random.default_rng(0).normal(size=(50, 2))
    w = np.array([[40.0, 40.0], [0.1, 0.0], [-40.0, 30.0]])
    b = np.array([0.0, 0.0, 0.0])
    tanh = Network([2, 3, 1], [w, np.ones((1, 3))], [b, np.zeros(1)], ["tanh", "linear"])
    h, out = saturation.layer_health(tanh, x, np.zeros((50, 1)))
    # |z| ≥ 40·|x1 + x2| is large except near the line x1 = −x2: saturated nearly everywhere
    z = x @ w.T
    sat = ((1 - np.tanh(z) ** 2) < 0.01).mean(axis=0) >= 0.5
    assert h.saturated == int(sat.sum()) == 2 and not sat[1]
    assert out.output and out.saturated == 0  # a linear output never saturates
    assert saturation.share([h, out]) == (2 / 3, 0.0) and saturation.alarming([h, out])
    w_dead = np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 1.0]])
    b_dead = np.array([0.0, -1.0, 0.0])  # neuron 2: z = −1 for every x
    relu = Network([2, 3, 1], [w_dead, np.ones((1, 3))], [b_dead, np.zeros(1)], ["relu", "linear"])
    h, out = saturation.layer_health(relu, x, np.zeros((50, 1)))
    assert (h.dead, h.saturated) == (1, 0)
    assert saturation.share([h, out]) == (0.0, 1 / 3) and not saturation.alarming([h, out])
    # A saturated tanh output stops all learning (δ^L = (a − y)·σ′ ≈ 0): alarming on its own.
    hot = Network(
        [2, 3, 1], [w_dead, 50 * np.ones((1, 3))], [b_dead, np.zeros(1)], ["relu", "tanh"]
    )
    layers = saturation.layer_health(hot, np.abs(x) + 1, -np.ones((50, 1)))
    assert saturation.output_saturated(layers) and saturation.alarming(layers)
    # ... when it is wrong: saturated at the right answer is a good fit, not a stall.
    right = saturation.layer_health(hot, np.abs(x) + 1, np.ones((50, 1)))
    assert not saturation.output_saturated(right) and not saturation.alarming(right)
    # With cross-entropy σ' cancels: the output layer is not judged.
    sig = Network(
        [2, 3, 1], [w_dead, 50 * np.ones((1, 3))], [b_dead, np.zeros(1)], ["relu", "sigmoid"]
    )
    assert [h.l for h in saturation.layer_health(sig, x, np.zeros((50, 1)), cancels=True)] == [2]
