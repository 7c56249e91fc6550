"""The three numbers on an edge (notation.md) and the identities that tie them to the Trace."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.edges import batch_mean, edges, for_example
from app.core.network import Network, Trace, backprop

HIDDEN = ["sigmoid", "tanh", "relu", "leaky_relu", "linear"]
OUTPUT_COST = [(act, "quadratic") for act in HIDDEN] + [
    ("sigmoid", "cross_entropy"),
    ("softmax", "log_likelihood"),
]


@st.composite
def traces(draw: st.DrawFn) -> tuple[Network, Trace]:
    """A random network (2-5 layers of 1-6 neurons) and its trace on a batch of 1-8."""
    depth = draw(st.integers(2, 5))
    out, cost = draw(st.sampled_from(OUTPUT_COST))
    sizes = draw(st.lists(st.integers(1, 6), min_size=depth, max_size=depth))
    hidden = draw(st.lists(st.sampled_from(HIDDEN), min_size=depth - 2, max_size=depth - 2))
    m = draw(st.integers(1, 8))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    net = Network.create(sizes, [*hidden, out], "standard_normal", rng)
    x = rng.uniform(-2, 2, size=(m, sizes[0]))
    y = np.eye(sizes[-1])[rng.integers(0, sizes[-1], size=m)]  # one-hot: valid for every cost
    return net, backprop(net, cost, x, y)


@settings(max_examples=100, deadline=None)
@given(traces())
def test_bp2_identity_per_example_and_layer(case: tuple[Network, Trace]) -> None:
    """Σ_j (w^l_jk δ^l_j) · σ'(z^{l-1}_k) = δ^{l-1}_k for every neuron k, example, layer."""
    net, tr = case
    for example in range(len(tr.x)):
        eq = edges(net, tr, example)
        for i in range(1, len(net.weights)):  # eq[i] is layer l = i + 2, δ^{l-1} = delta[i-1]
            sent_back = eq[i].backward.sum(axis=0)  # Σ_j over destinations: ((w^l)^T δ^l)_k
            np.testing.assert_allclose(
                sent_back * tr.sigma_prime[i - 1][example],
                tr.delta[i - 1][example],
                rtol=1e-12,
                atol=1e-14 * (1.0 + np.abs(tr.delta[i - 1][example]).max()),
            )


@settings(max_examples=100, deadline=None)
@given(traces())
def test_forward_contributions_sum_to_z(case: tuple[Network, Trace]) -> None:
    """Σ_k w^l_jk a^{l-1}_k + b^l_j = z^l_j, and the gradient is BP4's a_k δ_j."""
    net, tr = case
    for example in range(len(tr.x)):
        for i, eq in enumerate(edges(net, tr, example)):
            z = eq.forward.sum(axis=1) + net.biases[i]
            np.testing.assert_allclose(z, tr.z[i][example], rtol=1e-12, atol=1e-12)
            want = np.outer(tr.delta[i][example], tr.a[i][example])
            np.testing.assert_array_equal(eq.gradient, want)


@settings(max_examples=60, deadline=None)
@given(traces())
def test_edge_shapes_and_batch_means(case: tuple[Network, Trace]) -> None:
    net, tr = case
    means = edges(net, tr)
    per = [edges(net, tr, e) for e in range(len(tr.x))]
    for i, w in enumerate(net.weights):
        for name in ("forward", "backward", "gradient"):
            assert getattr(means[i], name).shape == w.shape
            assert all(getattr(p[i], name).shape == w.shape for p in per)
            # a batch view is the mean over the batch of the per-example views
            mean_of_examples = np.mean([getattr(p[i], name) for p in per], axis=0)
            np.testing.assert_allclose(
                getattr(means[i], name), mean_of_examples, rtol=1e-12, atol=1e-12
            )
    # without regularisation the mean gradient is backprop's ∂C/∂w
    for i, eq in enumerate(means):
        np.testing.assert_allclose(eq.gradient, tr.grad_w[i], rtol=1e-12, atol=1e-15)


def test_edge_orientation_row_j_column_k() -> None:
    """Entry [j, k] belongs to the edge from neuron k (layer l-1) to neuron j (layer l)."""
    w = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])  # 2 destinations j, 3 sources k
    a_prev = np.array([10.0, 20.0, 30.0])
    delta = np.array([0.5, -1.0])
    eq = for_example(w, a_prev, delta)
    assert eq.forward[1, 2] == 6.0 * 30.0  # w_jk a_k
    assert eq.backward[1, 2] == 6.0 * -1.0  # w_jk δ_j
    assert eq.gradient[1, 2] == 30.0 * -1.0  # a_k δ_j
    mean = batch_mean(w, np.array([a_prev, -a_prev]), np.array([delta, 3 * delta]))
    assert mean.forward[1, 2] == pytest.approx(0.0)
    assert mean.backward[1, 2] == pytest.approx(6.0 * -2.0)
    assert mean.gradient[1, 2] == pytest.approx((30.0 * -1.0 - 30.0 * -3.0) / 2)
