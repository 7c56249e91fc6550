"""The feedback rules of BP2 (app/core/feedback.py): the engine against the readable
reference for every rule, both against a hand-written loop in plain NumPy, and the
transpose against the ordinary run, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from app.core import feedback as fb
from app.core.activations import ACTIVATIONS
from app.core.costs import COSTS
from app.core.fast_step import FastStep
from app.core.network import Network, backprop
from app.core.training import Hyper, Trainer
from tests.core.test_training import N, problem

CLOSE = {"rtol": 1e-12, "atol": 1e-14}
SIZES = [3, 5, 4, 3]  # w^3 is 4 × 5 and w^4 is 3 × 4: neither has an inverse


def _cases() -> list[tuple[list[str], str]]:
    hidden = sorted(n for n, a in ACTIVATIONS.items() if a.hidden_ok)
    out = [([h, h, "tanh"], "quadratic") for h in hidden]
    out += [(["tanh", "tanh", o], c) for c, cost in sorted(COSTS.items()) for o in cost.outputs]
    return out


@pytest.mark.parametrize("rule", fb.NAMES)
@pytest.mark.parametrize(("acts", "cost"), _cases(), ids=lambda v: str(v))
def test_the_engine_is_the_reference_for_every_rule(acts: list[str], cost: str, rule: str) -> None:
    net, x, y = problem(acts, cost)
    feedback = fb.make(rule, net.sizes, seed=5)
    hyper = Hyper(0.05, 9, "l2", 0.3, momentum=0.3)
    tr = Trainer(net, cost, x, y, hyper, np.random.default_rng(3), feedback)
    tr.train(13)
    bx, by = (v.copy() for v in tr.next_batch())
    want = backprop(net.copy(), cost, bx, by, "l2", 0.3, len(x), feedback=feedback)
    got = tr.step_instrumented()
    for name in ("z", "a", "delta", "sigma_prime", "grad_w", "grad_b"):
        for g, w in zip(getattr(got, name), getattr(want, name), strict=True):
            np.testing.assert_allclose(g, w, **CLOSE, err_msg=name)
    assert got.cost == pytest.approx(want.cost, rel=1e-12)


def test_the_reference_rule_changes_delta_below_the_output_only() -> None:
    """BP1 is the rule's too: δ^L is backprop's; δ^{L-1} is not (w^4 is 3 × 4)."""
    net, x, y = problem(["tanh", "tanh", "tanh"])
    true = backprop(net, "quadratic", x, y)
    for rule in ("inverse", "random"):
        t = backprop(net, "quadratic", x, y, feedback=fb.make(rule, net.sizes, 1))
        np.testing.assert_array_equal(t.delta[-1], true.delta[-1])
        assert np.max(np.abs(t.delta[-2] - true.delta[-2])) > 1e-3


# -- a hand-written loop: plain NumPy, none of the engine's helpers ---------------------------


def _hand_training(
    w: list[np.ndarray],
    b: list[np.ndarray],
    x: np.ndarray,
    y: np.ndarray,
    back: str,
    fixed: list[np.ndarray],
    eta: float,
    m: int,
    steps: int,
    seed: int,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """tanh hidden layers, a linear output, quadratic cost, plain SGD; BP2 through
    ``pinv(w^{l+1})`` (inverse) or ``fixed[l-2]`` (random). Batches in the trainer's order:
    a permutation of the N examples per epoch from ``default_rng(seed)``, consecutive
    slices, the last one short."""
    w, b = [v.copy() for v in w], [v.copy() for v in b]
    rng = np.random.default_rng(seed)
    n_ex, perm = len(x), None
    c = n_ex  # a permutation before the first batch
    for _ in range(steps):
        if c >= n_ex:
            perm, c = rng.permutation(n_ex), 0
        assert perm is not None
        idx = perm[c : c + m]
        c += len(idx)
        acts = [x[idx].T]  # columns are examples
        zs = []
        for l_ in range(len(w)):
            z = w[l_] @ acts[-1] + b[l_][:, None]
            zs.append(z)
            acts.append(z if l_ == len(w) - 1 else np.tanh(z))
        d = acts[-1] - y[idx].T  # BP1, linear output: σ' = 1
        deltas = [d]
        for l_ in range(len(w) - 1, 0, -1):
            mat = np.linalg.pinv(w[l_]) if back == "inverse" else fixed[l_ - 1]
            d = (mat @ d) * (1.0 - np.tanh(zs[l_ - 1]) ** 2)
            deltas.insert(0, d)
        for l_ in range(len(w)):
            w[l_] = w[l_] - eta * (deltas[l_] @ acts[l_].T) / len(idx)
            b[l_] = b[l_] - eta * deltas[l_].sum(axis=1) / len(idx)
    return w, b


@pytest.mark.parametrize("rule", ["inverse", "random"])
@pytest.mark.parametrize("sizes", [[3, 5, 4, 3], [2, 4, 4, 1]], ids=str)
def test_fifty_steps_equal_a_hand_written_loop(rule: str, sizes: list[int]) -> None:
    """The rule's recursion computed independently: ``pinv`` of the current weights, or
    the random matrices drawn as documented (N(0, 1/n_l) from child 3 of the seed's
    SeedSequence), the same at every step."""
    net, x, y = problem(["tanh", "tanh", "linear"], sizes=sizes)
    seed = 17
    child = np.random.SeedSequence(seed).spawn(4)[3]
    rng = np.random.default_rng(child)
    mine = [
        rng.standard_normal((k, n)) / np.sqrt(n)
        for n, k in zip(sizes[2:], sizes[1:-1], strict=True)
    ]
    feedback = fb.make(rule, net.sizes, seed)
    if rule == "random":
        for got, want in zip(feedback.fixed, mine, strict=True):
            np.testing.assert_array_equal(got, want)
    w0, b0 = [v.copy() for v in net.weights], [v.copy() for v in net.biases]
    tr = Trainer(net, "quadratic", x, y, Hyper(0.05, 10), np.random.default_rng(99), feedback)
    assert tr.train(50) == 50 and tr.status == "ok"
    w, b = _hand_training(w0, b0, x, y, rule, mine, 0.05, 10, 50, seed=99)
    for got, want in zip([*net.weights, *net.biases], [*w, *b], strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    # and the rule mattered: backprop's 50 steps end elsewhere
    net2, _, _ = problem(["tanh", "tanh", "linear"], sizes=sizes)
    Trainer(net2, "quadratic", x, y, Hyper(0.05, 10), np.random.default_rng(99)).train(50)
    assert np.max(np.abs(net2.weights[0] - net.weights[0])) > 1e-6


def test_the_random_matrices_come_from_the_seed_alone() -> None:
    a, b = fb.random_matrices(SIZES, 4), fb.random_matrices(SIZES, 4)
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)
    assert [m.shape for m in a] == [(5, 4), (4, 3)]  # (n_{l-1}, n_l): the transpose's
    assert not np.allclose(a[0], fb.random_matrices(SIZES, 5)[0])
    # the run's own streams (children 0..2: data, init, batches) are not shifted by it
    first3 = np.random.SeedSequence(4).spawn(3)
    again = np.random.SeedSequence(4).spawn(4)[:3]
    for s, t in zip(first3, again, strict=True):
        assert np.random.default_rng(s).random() == np.random.default_rng(t).random()


def test_the_inverse_is_the_inverse_when_w_is_square() -> None:
    rng = np.random.default_rng(0)
    w = rng.normal(size=(4, 4))
    out = np.empty((4, 4))
    fb.pinv_into(w, out)
    np.testing.assert_allclose(out, np.linalg.inv(w), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(out @ w, np.eye(4), atol=1e-12)
    # not square: the pseudo-inverse, w⁺ w w⁺ = w⁺ and shape (n_l, n_{l+1})
    w = rng.normal(size=(3, 5))
    out = np.empty((5, 3))
    fb.pinv_into(w, out)
    np.testing.assert_allclose(out @ w @ out, out, atol=1e-12)
    w[1, 2] = np.nan
    fb.pinv_into(w, out)  # no exception: NaN, which the trainer reports as divergence
    assert np.isnan(out).all()


def test_transpose_is_the_ordinary_run_bit_for_bit() -> None:
    runs = []
    for feedback in (None, fb.make("transpose", SIZES, 3)):
        net, x, y = problem(["relu", "tanh", "sigmoid"], "cross_entropy")
        tr = Trainer(
            net,
            "cross_entropy",
            x,
            y,
            Hyper(0.3, 7, momentum=0.5),
            np.random.default_rng(1),
            feedback,
        )
        tr.train(100)
        trace = tr.step_instrumented()
        runs.append((tr.theta.copy(), trace.delta))
        # no extra cost: the same NumPy calls as without a rule
        step = tr._fast_step(7, 0.3)
        runs[-1] += (len(step.forward), len(step.backward))
    (t0, d0, f0, b0), (t1, d1, f1, b1) = runs
    np.testing.assert_array_equal(t0, t1)
    for u, v in zip(d0, d1, strict=True):
        np.testing.assert_array_equal(u, v)
    assert (f0, b0) == (f1, b1)


def test_the_inverse_adds_one_pinv_per_layer_and_random_none() -> None:
    net, _, _ = problem(["tanh", "tanh", "tanh"])
    w_aug = [np.hstack([w, b[:, None]]) for w, b in zip(net.weights, net.biases, strict=True)]
    g_aug = [np.empty_like(v) for v in w_aug]
    counts = {
        name: len(FastStep(net, w_aug, g_aug, 4, False, feedback=fb.make(name, SIZES, 0)).backward)
        for name in fb.NAMES
    }
    assert counts["inverse"] == counts["transpose"] + len(SIZES) - 2
    assert counts["random"] == counts["transpose"]


def test_a_rule_with_the_wrong_matrices_is_refused() -> None:
    feedback = fb.make("random", [3, 4, 2], 0)
    net = Network.create(SIZES, ["tanh"] * 3, "xavier", np.random.default_rng(0))
    with pytest.raises(ValueError, match="shapes"):
        backprop(net, "quadratic", np.zeros((1, 3)), np.zeros((1, 3)), feedback=feedback)


def test_training_with_the_inverse_that_blows_up_is_reported_diverged() -> None:
    """A large η under the inverse rule overflows: the run says diverged and keeps finite
    parameters (rolled back to the last finite ones)."""
    net, x, y = problem(["tanh", "tanh", "linear"])
    tr = Trainer(
        net,
        "quadratic",
        x,
        y,
        Hyper(3.0, 10),
        np.random.default_rng(0),
        fb.make("inverse", SIZES, 1),
    )
    tr.train(3000)
    assert tr.status == "diverged"
    assert np.isfinite(tr.theta).all()
    assert len(x) == N


def test_alignment_is_a_cosine_or_none() -> None:
    u = np.array([[1.0, 0.0], [0.0, 0.0]])
    assert fb.alignment(u, u) == 1.0
    assert fb.alignment(u, -u) == -1.0
    assert fb.alignment(u, np.array([[0.0, 2.0], [0.0, 0.0]])) == 0.0
    assert fb.alignment(u, np.zeros((2, 2))) is None
    assert fb.alignment(u, np.full((2, 2), np.inf)) is None
