"""backprop() against arithmetic done by hand and against a scalar per-neuron reference.

Neither oracle shares code with app.core: the worked example is closed-form arithmetic with
math.exp, the reference loops over j and k exactly as the book's per-neuron equations read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.costs import get_cost
from app.core.network import Network, backprop, cost_value, feedforward, n_params, output
from app.core.training import Hyper, Trainer

HIDDEN = ["sigmoid", "tanh", "relu", "leaky_relu", "linear"]
OUTPUT_COST = [(act, "quadratic") for act in HIDDEN] + [
    ("sigmoid", "cross_entropy"),
    ("softmax", "log_likelihood"),
]


# -- one network worked by hand ---------------------------------------------------------------
# 2-2-1, sigmoid everywhere, quadratic cost C = ½(a³ − y)², one example x = (1, 2), y = 1.
#   w² = [[0.1, 0.2], [0.3, −0.4]], b² = [0.1, −0.1], w³ = [[0.5, −0.6]], b³ = [0.2]
# Forward:
#   z²₁ = 0.1·1 + 0.2·2 + 0.1 = 0.6          a²₁ = σ(0.6)  = 0.645656306
#   z²₂ = 0.3·1 − 0.4·2 − 0.1 = −0.6         a²₂ = σ(−0.6) = 0.354343694
#   z³  = 0.5·a²₁ − 0.6·a²₂ + 0.2 = 0.310221937,  a³ = σ(z³) = 0.576939432
#   C   = ½(0.576939432 − 1)² = 0.089490122
# BP1: δ³ = (a³ − y)·σ'(z³) = (−0.423060568)·(0.244080324) = −0.103260760
#   (σ'(z) = σ(z)(1 − σ(z)); σ'(±0.6) = 0.228784240 for both)
# BP2: δ²_k = w³_1k δ³ σ'(z²_k):
#   δ²₁ = 0.5·(−0.103260760)·0.228784240 = −0.011812217
#   δ²₂ = −0.6·(−0.103260760)·0.228784240 = 0.014174661
# BP3: ∂C/∂b³ = δ³ = −0.103260760,  ∂C/∂b² = δ² = (−0.011812217, 0.014174661)
# BP4: ∂C/∂w³_1k = a²_k δ³ = (−0.066670961, −0.036589799)
#      ∂C/∂w²_jk = x_k δ²_j = [[−0.011812217, −0.023624435], [0.014174661, 0.028349322]]
# One SGD step, η = 0.5:  w ← w − η ∂C/∂w,  b ← b − η ∂C/∂b
#   w³ = (0.533335481, −0.581705100),  b³ = 0.251630380
#   w² = [[0.105906109, 0.211812217], [0.292912670, −0.414174661]]
#   b² = (0.105906109, −0.107087330)
W2 = [[0.1, 0.2], [0.3, -0.4]]
B2 = [0.1, -0.1]
W3 = [[0.5, -0.6]]
B3 = [0.2]
X = [1.0, 2.0]
Y = 1.0
ETA = 0.5


def sig(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def hand() -> dict[str, object]:
    """The arithmetic of the comment above, in closed form."""
    z2 = [0.1 * 1 + 0.2 * 2 + 0.1, 0.3 * 1 - 0.4 * 2 - 0.1]
    a2 = [sig(z) for z in z2]
    z3 = 0.5 * a2[0] - 0.6 * a2[1] + 0.2
    a3 = sig(z3)
    d3 = (a3 - Y) * a3 * (1 - a3)
    d2 = [w * d3 * sig(z) * (1 - sig(z)) for w, z in zip(W3[0], z2, strict=True)]
    gw3 = [[a2[0] * d3, a2[1] * d3]]
    gw2 = [[X[k] * d2[j] for k in range(2)] for j in range(2)]
    return {
        "z2": z2,
        "a2": a2,
        "z3": [z3],
        "a3": [a3],
        "cost": 0.5 * (a3 - Y) ** 2,
        "d3": [d3],
        "d2": d2,
        "gw3": gw3,
        "gw2": gw2,
        "new_w3": [[W3[0][k] - ETA * gw3[0][k] for k in range(2)]],
        "new_b3": [B3[0] - ETA * d3],
        "new_w2": [[W2[j][k] - ETA * gw2[j][k] for k in range(2)] for j in range(2)],
        "new_b2": [B2[j] - ETA * d2[j] for j in range(2)],
    }


def hand_net() -> Network:
    return Network(
        [2, 2, 1],
        [np.array(W2), np.array(W3)],
        [np.array(B2), np.array(B3)],
        ["sigmoid", "sigmoid"],
    )


def test_hand_worked_values_are_the_comment() -> None:
    h = hand()
    assert h["z2"] == pytest.approx([0.6, -0.6])
    assert h["a3"] == pytest.approx([0.576939432])
    assert h["d3"] == pytest.approx([-0.103260760])
    assert h["d2"] == pytest.approx([-0.011812217, 0.014174661])
    assert h["new_w3"][0] == pytest.approx([0.533335481, -0.581705100])
    assert h["new_b2"] == pytest.approx([0.105906109, -0.107087330])


def test_hand_worked_backprop() -> None:
    h = hand()
    tr = backprop(hand_net(), "quadratic", np.array([X]), np.array([[Y]]))
    close = {"rtol": 1e-12, "atol": 1e-15}
    np.testing.assert_allclose(tr.z[0][0], h["z2"], **close)
    np.testing.assert_allclose(tr.a[1][0], h["a2"], **close)
    np.testing.assert_allclose(tr.z[1][0], h["z3"], **close)
    np.testing.assert_allclose(tr.a[2][0], h["a3"], **close)
    np.testing.assert_allclose(tr.delta[1][0], h["d3"], **close)
    np.testing.assert_allclose(tr.delta[0][0], h["d2"], **close)
    np.testing.assert_allclose(tr.grad_w[1], h["gw3"], **close)
    np.testing.assert_allclose(tr.grad_b[1], h["d3"], **close)
    np.testing.assert_allclose(tr.grad_w[0], h["gw2"], **close)
    np.testing.assert_allclose(tr.grad_b[0], h["d2"], **close)
    assert tr.cost == pytest.approx(h["cost"], rel=1e-12)


@pytest.mark.parametrize("path", ["instrumented", "fast"])
def test_hand_worked_sgd_step(path: str) -> None:
    h = hand()
    net = hand_net()
    trainer = Trainer(
        net, "quadratic", np.array([X]), np.array([[Y]]), Hyper(ETA, 1), np.random.default_rng(0)
    )
    if path == "instrumented":
        trace = trainer.step_instrumented()
        np.testing.assert_allclose(trace.delta[0][0], h["d2"], rtol=1e-12)
    else:
        assert trainer.train(1) == 1
    close = {"rtol": 1e-12, "atol": 1e-15}
    np.testing.assert_allclose(net.weights[1], h["new_w3"], **close)
    np.testing.assert_allclose(net.biases[1], h["new_b3"], **close)
    np.testing.assert_allclose(net.weights[0], h["new_w2"], **close)
    np.testing.assert_allclose(net.biases[0], h["new_b2"], **close)
    assert (trainer.step, trainer.epoch) == (1, 1)


# -- an independent scalar reference --------------------------------------------------------
def softplus(t: float) -> float:
    """ln(1 + e^t) without overflow."""
    return max(t, 0.0) + math.log1p(math.exp(-abs(t)))


def ref_sigma(name: str, z: float) -> float:
    return {
        "sigmoid": lambda: math.exp(-softplus(-z)),  # 1 / (1 + e^−z), never overflowing
        "tanh": lambda: math.tanh(z),
        "relu": lambda: max(z, 0.0),
        "leaky_relu": lambda: z if z > 0 else 0.01 * z,  # the core's (and Playground's) slope
        "linear": lambda: z,
    }[name]()


def ref_sigma_prime(name: str, z: float) -> float:
    return {
        "sigmoid": lambda: ref_sigma("sigmoid", z) * (1.0 - ref_sigma("sigmoid", z)),
        "tanh": lambda: 1.0 - math.tanh(z) ** 2,
        "relu": lambda: 1.0 if z > 0 else 0.0,
        "leaky_relu": lambda: 1.0 if z > 0 else 0.01,
        "linear": lambda: 1.0,
    }[name]()


def reference_backprop(
    ws: list[list[list[float]]],
    bs: list[list[float]],
    acts: list[str],
    cost: str,
    xs: list[list[float]],
    ys: list[list[float]],
    regulariser: str,
    lmbda: float,
    n: int,
) -> dict[str, object]:
    """Nielsen ch. 2, one neuron at a time: z^l_j = Σ_k w^l_jk a^{l-1}_k + b^l_j, then
    BP1 δ^L_j = ∂C/∂a^L_j σ'(z^L_j) (or a^L_j − y_j where σ' cancels), BP2 δ^l_k =
    σ'(z^l_k) Σ_j w^{l+1}_jk δ^{l+1}_j, BP3 ∂C/∂b^l_j = δ^l_j, BP4 ∂C/∂w^l_jk = a^{l-1}_k δ^l_j,
    gradients averaged over the batch, plus the regulariser's λ/n·w or λ/n·sgn(w)."""
    m, depth = len(xs), len(ws)
    gw = [[[0.0] * len(row) for row in w] for w in ws]
    gb = [[0.0] * len(b) for b in bs]
    per: dict[str, list[object]] = {"z": [], "a": [], "delta": [], "cost_x": []}
    for x, y in zip(xs, ys, strict=True):
        a_s, z_s = [list(x)], []
        for w, b, act in zip(ws, bs, acts, strict=True):
            z = [
                sum(w[j][k] * a_s[-1][k] for k in range(len(a_s[-1]))) + b[j] for j in range(len(b))
            ]
            if act == "softmax":
                top = max(z)
                e = [math.exp(v - top) for v in z]
                a = [v / sum(e) for v in e]
            else:
                a = [ref_sigma(act, v) for v in z]
            z_s.append(z)
            a_s.append(a)
        a_L, z_L = a_s[-1], z_s[-1]
        if cost == "quadratic":
            c = 0.5 * sum((aj - yj) ** 2 for aj, yj in zip(a_L, y, strict=True))
            d = [
                (aj - yj) * ref_sigma_prime(acts[-1], zj)
                for aj, yj, zj in zip(a_L, y, z_L, strict=True)
            ]
        elif cost == "cross_entropy":
            # −[y ln a + (1 − y) ln(1 − a)]; ln σ(z) = −softplus(−z), ln(1 − σ(z)) = −softplus(z)
            c = sum(
                yj * softplus(-zj) + (1 - yj) * softplus(zj) for zj, yj in zip(z_L, y, strict=True)
            )
            d = [aj - yj for aj, yj in zip(a_L, y, strict=True)]
        else:
            # −Σ y_j ln a_j with ln a_j = z_j − ln Σ_k e^{z_k}
            top = max(z_L)
            log_total = top + math.log(sum(math.exp(v - top) for v in z_L))
            c = -sum(yj * (zj - log_total) for zj, yj in zip(z_L, y, strict=True))
            d = [aj - yj for aj, yj in zip(a_L, y, strict=True)]
        deltas = [d]
        for layer in range(depth - 2, -1, -1):
            w_next, d_next = ws[layer + 1], deltas[0]
            deltas.insert(
                0,
                [
                    ref_sigma_prime(acts[layer], z_s[layer][k])
                    * sum(w_next[j][k] * d_next[j] for j in range(len(d_next)))
                    for k in range(len(z_s[layer]))
                ],
            )
        for layer in range(depth):
            for j, dj in enumerate(deltas[layer]):
                gb[layer][j] += dj / m
                for k, ak in enumerate(a_s[layer]):
                    gw[layer][j][k] += ak * dj / m
        per["z"].append(z_s)
        per["a"].append(a_s)
        per["delta"].append(deltas)
        per["cost_x"].append(c)
    penalty = 0.0
    for layer, w in enumerate(ws):
        for j, row in enumerate(w):
            for k, wjk in enumerate(row):
                if regulariser == "l2":
                    penalty += lmbda / (2 * n) * wjk**2
                    gw[layer][j][k] += lmbda / n * wjk
                elif regulariser == "l1":
                    penalty += lmbda / n * abs(wjk)
                    gw[layer][j][k] += lmbda / n * (1.0 if wjk > 0 else -1.0 if wjk < 0 else 0.0)
    cost_total = sum(per["cost_x"]) / m + penalty
    return {"gw": gw, "gb": gb, "cost": cost_total, **per}


@dataclass
class Case:
    net: Network
    cost: str
    x: np.ndarray
    y: np.ndarray
    regulariser: str
    lmbda: float
    n: int


@st.composite
def cases(draw: st.DrawFn) -> Case:
    depth = draw(st.integers(2, 5))
    out, cost = draw(st.sampled_from(OUTPUT_COST))
    sizes = draw(st.lists(st.integers(1, 6), min_size=depth, max_size=depth))
    hidden = draw(st.lists(st.sampled_from(HIDDEN), min_size=depth - 2, max_size=depth - 2))
    m = draw(st.integers(1, 8))
    regulariser = draw(st.sampled_from(["none", "l1", "l2"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    net = Network.create(sizes, [*hidden, out], "standard_normal", rng)
    x = rng.uniform(-2, 2, size=(m, sizes[0]))
    if out == "softmax":
        y = np.eye(sizes[-1])[rng.integers(0, sizes[-1], size=m)]
    elif out == "sigmoid":
        y = rng.uniform(0, 1, size=(m, sizes[-1]))
    else:
        y = rng.uniform(-1, 1, size=(m, sizes[-1]))
    return Case(net, cost, x, y, regulariser, 0.7, m + 5)


@settings(max_examples=150, deadline=None)
@given(cases())
def test_backprop_matches_scalar_reference(case: Case) -> None:
    net, x, y = case.net, case.x, case.y
    tr = backprop(net, case.cost, x, y, case.regulariser, case.lmbda, case.n)
    ref = reference_backprop(
        [w.tolist() for w in net.weights],
        [b.tolist() for b in net.biases],
        net.activations,
        case.cost,
        x.tolist(),
        y.tolist(),
        case.regulariser,
        case.lmbda,
        case.n,
    )
    close = {"rtol": 1e-9, "atol": 1e-12}
    for i in range(len(net.weights)):
        np.testing.assert_allclose(tr.grad_w[i], ref["gw"][i], **close)
        np.testing.assert_allclose(tr.grad_b[i], ref["gb"][i], **close)
        for e in range(len(x)):
            np.testing.assert_allclose(tr.z[i][e], ref["z"][e][i], **close)
            np.testing.assert_allclose(tr.a[i + 1][e], ref["a"][e][i + 1], **close)
            np.testing.assert_allclose(tr.delta[i][e], ref["delta"][e][i], **close)
    np.testing.assert_allclose(tr.cost_x, ref["cost_x"], **close)
    assert tr.cost == pytest.approx(ref["cost"], rel=1e-9, abs=1e-12)


# -- properties -------------------------------------------------------------------------
@settings(max_examples=100, deadline=None)
@given(cases())
def test_trace_shapes_and_finite_cost(case: Case) -> None:
    net, x, y = case.net, case.x, case.y
    tr = backprop(net, case.cost, x, y, case.regulariser, case.lmbda, case.n)
    m, sizes = len(x), net.sizes
    assert [a.shape for a in tr.a] == [(m, n) for n in sizes]
    for name in ("z", "delta", "sigma_prime"):
        assert [v.shape for v in getattr(tr, name)] == [(m, n) for n in sizes[1:]], name
    assert [g.shape for g in tr.grad_w] == [w.shape for w in net.weights]
    assert [g.shape for g in tr.grad_b] == [b.shape for b in net.biases]
    assert tr.cost_x.shape == (m,)
    assert isinstance(tr.cost, float) and math.isfinite(tr.cost)
    np.testing.assert_array_equal(tr.a[0], x)
    # the cost agrees with cost_value, and the output with output()
    cost = get_cost(case.cost, net.activations[-1])
    c = cost_value(net, cost, x, y, case.regulariser, case.lmbda, case.n)
    assert tr.cost == pytest.approx(c, rel=1e-12, abs=1e-15)
    np.testing.assert_allclose(output(net, x), tr.a[-1], rtol=1e-12, atol=1e-15)


def test_softmax_outputs_sum_to_one_even_for_huge_z() -> None:
    net = Network([2, 3], [np.array([[1e3, 0], [0, 1e3], [-1e3, 0]])], [np.zeros(3)], ["softmax"])
    a = feedforward(net, np.array([[1.0, 0.5], [-2.0, 3.0]])).a[-1]
    assert np.isfinite(a).all()
    np.testing.assert_allclose(a.sum(axis=1), 1.0, rtol=1e-15)


def test_n_params() -> None:
    net = Network.create([3, 5, 2], ["tanh", "linear"], "xavier", np.random.default_rng(0))
    assert net.n_params() == n_params([3, 5, 2]) == 5 * 4 + 2 * 6


def test_copy_is_independent() -> None:
    net = hand_net()
    dup = net.copy()
    dup.weights[0][0, 0] = 99.0
    assert net.weights[0][0, 0] == 0.1


# -- validation ---------------------------------------------------------------------------
def ok_params() -> tuple[list[np.ndarray], list[np.ndarray]]:
    return [np.zeros((4, 3)), np.zeros((2, 4))], [np.zeros(4), np.zeros(2)]


@pytest.mark.parametrize(
    ("sizes", "acts", "match"),
    [
        ([3], ["tanh"], "at least 2 layers"),
        ([3, 0, 2], ["tanh", "tanh"], ">= 1 neuron"),
        ([3, 4, 2], ["tanh"], "need 2 activations"),
        ([3, 4, 2], ["tanh", "mish"], "unknown activation 'mish'"),
        ([3, 4, 2], ["softmax", "tanh"], "softmax is allowed on the output layer only"),
    ],
)
def test_network_refuses_bad_structure(sizes: list[int], acts: list[str], match: str) -> None:
    ws, bs = ok_params()
    with pytest.raises(ValueError, match=match):
        Network(sizes, ws, bs, acts)


def test_network_refuses_bad_shapes() -> None:
    ws, bs = ok_params()
    with pytest.raises(ValueError, match=r"w\^2 must have shape \(4, 3\)"):
        Network([3, 4, 2], [ws[0].T, ws[1]], bs, ["tanh", "tanh"])  # transposed: refused
    with pytest.raises(ValueError, match=r"b\^3 must have shape \(2,\)"):
        Network([3, 4, 2], ws, [bs[0], np.zeros(3)], ["tanh", "tanh"])
    with pytest.raises(ValueError, match="need 2 weight matrices"):
        Network([3, 4, 2], ws[:1], bs, ["tanh", "tanh"])


def test_backprop_refuses_bad_batches() -> None:
    net = hand_net()
    with pytest.raises(ValueError, match=r"x must have shape \(m, 2\)"):
        backprop(net, "quadratic", np.zeros((3, 4)), np.zeros((3, 1)))
    with pytest.raises(ValueError, match=r"y must have shape \(3, 1\)"):
        backprop(net, "quadratic", np.zeros((3, 2)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="unknown regulariser 'l3'"):
        backprop(net, "quadratic", np.zeros((3, 2)), np.zeros((3, 1)), "l3")


def test_create_refuses_unknown_init() -> None:
    with pytest.raises(ValueError, match="unknown init 'ones'"):
        Network.create([2, 2], ["tanh"], "ones", np.random.default_rng(0))
