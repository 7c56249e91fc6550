"""Minibatch SGD: the fast path against the instrumented one, seeds, epochs, divergence."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from app.core import activations
from app.core.costs import COSTS
from app.core.network import Network, backprop
from app.core.training import DIVERGENCE_CHECK_EVERY, Hyper, Trainer

N = 47  # a prime: batch sizes 2..46 leave a short last batch in every epoch


def problem(
    acts: list[str], cost: str = "quadratic", sizes: list[int] | None = None, seed: int = 0
) -> tuple[Network, np.ndarray, np.ndarray]:
    sizes = sizes or [3, 5, 4, 3]
    rng = np.random.default_rng(seed)
    net = Network.create(sizes, acts, "xavier", rng)
    x = rng.normal(size=(N, sizes[0]))
    if acts[-1] == "softmax":
        y = np.eye(sizes[-1])[rng.integers(0, sizes[-1], size=N)]
    elif acts[-1] == "sigmoid":
        y = rng.integers(0, 2, size=(N, sizes[-1])).astype(np.float64)
    else:
        y = rng.uniform(-1, 1, size=(N, sizes[-1]))
    return net, x, y


def trainer(
    acts: list[str], cost: str = "quadratic", hyper: Hyper | None = None, seed: int = 0
) -> Trainer:
    net, x, y = problem(acts, cost, seed=seed)
    return Trainer(net, cost, x, y, hyper or Hyper(0.1, 10), np.random.default_rng(seed + 100))


def assert_same_parameters(a: np.ndarray, b: np.ndarray, rel: float = 1e-12) -> None:
    """``max |a − b| ≤ rel · max |b|``: relative to the parameters' scale, so that a weight
    that L1 keeps near 0 is not judged on its own tiny magnitude."""
    assert np.isfinite(a).all() and np.isfinite(b).all()
    assert np.max(np.abs(a - b)) <= rel * np.max(np.abs(b)), np.max(np.abs(a - b))


COMBOS = [
    (["tanh", "tanh", "tanh"], "quadratic", Hyper(0.1, 10)),
    (["sigmoid", "sigmoid", "sigmoid"], "quadratic", Hyper(0.5, 10, momentum=0.9)),
    (["relu", "relu", "linear"], "quadratic", Hyper(0.05, 7, "l2", 2.0)),
    (["leaky_relu", "leaky_relu", "leaky_relu"], "quadratic", Hyper(0.05, 1, "l1", 0.5)),
    (["linear", "linear", "relu"], "quadratic", Hyper(0.02, 47)),
    (["tanh", "relu", "sigmoid"], "cross_entropy", Hyper(0.3, 4, "l2", 1.0, 0.5)),
    (["sigmoid", "leaky_relu", "softmax"], "log_likelihood", Hyper(0.3, 10, "l1", 0.3, 0.8)),
    (["relu", "tanh", "softmax"], "log_likelihood", Hyper(0.1, 46)),
    (["tanh", "sigmoid", "tanh"], "quadratic", Hyper(0.1, 60, momentum=0.5)),  # batch > N
    (["swish", "swish", "gelu"], "quadratic", Hyper(0.1, 10, "l2", 1.0, 0.5)),  # σ' needs z
    (["gelu", "gelu", "sigmoid"], "cross_entropy", Hyper(0.2, 7, "l1", 0.3)),
]


@pytest.mark.parametrize(("acts", "cost", "hyper"), COMBOS)
def test_fast_and_instrumented_paths_agree(acts: list[str], cost: str, hyper: Hyper) -> None:
    steps = 120  # several epochs, each ending in a short batch unless batch | 47
    fast, slow = trainer(acts, cost, hyper), trainer(acts, cost, hyper)
    assert fast.train(steps) == steps
    for _ in range(steps):
        slow.step_instrumented()
    assert (fast.step, fast.epoch) == (slow.step, slow.epoch)
    assert fast.status == slow.status == "ok"
    assert_same_parameters(fast.theta, slow.theta)
    # the parameters moved: the comparison is not between two untouched networks
    assert np.max(np.abs(fast.theta - trainer(acts, cost, hyper).theta)) > 1e-3


# Every activation and pairing the registries offer (app/core/activations.py, costs.py).
HIDDEN = list(activations.HIDDEN)
OUTPUT_COST = [(out, name) for name, cost in COSTS.items() for out in cost.outputs]


@settings(max_examples=80, deadline=None)
@given(
    depth=st.integers(2, 5),
    data=st.data(),
    n=st.integers(1, 30),
    batch=st.integers(1, 8),
    steps=st.integers(1, 40),
    regulariser=st.sampled_from(["none", "l1", "l2"]),
    momentum=st.sampled_from([0.0, 0.9]),
    seed=st.integers(0, 2**32 - 1),
)
def test_fast_and_instrumented_paths_agree_on_random_networks(
    depth: int,
    data: st.DataObject,
    n: int,
    batch: int,
    steps: int,
    regulariser: str,
    momentum: float,
    seed: int,
) -> None:
    """Hidden activations differ layer by layer, which exercises how the fast path groups
    σ' over runs of equal activations."""
    sizes = data.draw(st.lists(st.integers(1, 6), min_size=depth, max_size=depth))
    hidden = data.draw(st.lists(st.sampled_from(HIDDEN), min_size=depth - 2, max_size=depth - 2))
    out, cost = data.draw(st.sampled_from(OUTPUT_COST))
    rng = np.random.default_rng(seed)
    net = Network.create(sizes, [*hidden, out], "xavier", rng)
    x = rng.normal(size=(n, sizes[0]))
    y = np.eye(sizes[-1])[rng.integers(0, sizes[-1], size=n)]  # one-hot: fits every cost
    hyper = Hyper(0.1, batch, regulariser, 0.0 if regulariser == "none" else 0.3, momentum)
    fast = Trainer(net.copy(), cost, x, y, hyper, np.random.default_rng(seed))
    slow = Trainer(net.copy(), cost, x, y, hyper, np.random.default_rng(seed))
    for _ in range(steps):
        if slow.status == "ok":
            slow.step_instrumented()
    # A run that blows up (linear layers, momentum) multiplies the two paths' last-bit
    # rounding differences every step; agreement to 1e-12 is only meaningful on a bounded run.
    assume(slow.status == "ok" and np.max(np.abs(slow.theta)) < 1e3)
    assert fast.train(steps) == steps
    assert (fast.step, fast.epoch) == (slow.step, slow.epoch)
    assert_same_parameters(fast.theta, slow.theta)


def test_the_paths_can_be_interleaved() -> None:
    """Frames mix the two: a step shown in full between many fast ones."""
    hyper = Hyper(0.1, 10, "l2", 0.5, 0.9)
    mixed, slow = (
        trainer(["tanh", "relu", "tanh"], hyper=hyper),
        trainer(["tanh", "relu", "tanh"], hyper=hyper),
    )
    for chunk in (3, 1, 7, 30, 2):
        mixed.train(chunk)
        mixed.step_instrumented()
    for _ in range(48):
        slow.step_instrumented()
    assert (mixed.step, mixed.epoch) == (slow.step, slow.epoch) == (48, 9)
    assert_same_parameters(mixed.theta, slow.theta)


def test_network_views_follow_theta() -> None:
    tr = trainer(["tanh", "tanh", "linear"])
    tr.train(5)
    trace = backprop(tr.net, "quadratic", tr.x, tr.y)  # the network sees the trained θ
    offset = 0
    for w, b in zip(tr.net.weights, tr.net.biases, strict=True):
        n, k = w.shape
        block = tr.theta[offset : offset + n * (k + 1)].reshape(n, k + 1)
        np.testing.assert_array_equal(block[:, :-1], w)
        np.testing.assert_array_equal(block[:, -1], b)
        offset += n * (k + 1)
    assert offset == tr.theta.size == tr.net.n_params()
    assert np.isfinite(trace.cost)


def test_step_instrumented_returns_the_trace_before_the_update() -> None:
    tr = trainer(["tanh", "tanh", "linear"], hyper=Hyper(0.2, 5))
    x, y = tr.next_batch()
    before = tr.net.copy()
    trace = tr.step_instrumented()
    np.testing.assert_array_equal(trace.x, x)
    np.testing.assert_array_equal(trace.y, y)
    want = backprop(before, "quadratic", x, y)
    for got, exp in zip(trace.grad_w, want.grad_w, strict=True):
        np.testing.assert_array_equal(got, exp)
    for w_new, w_old, g in zip(tr.net.weights, before.weights, trace.grad_w, strict=True):
        np.testing.assert_allclose(w_new, w_old - 0.2 * g, rtol=1e-14, atol=1e-15)
    # the trace owns its batch: a later epoch's shuffle does not change it
    keep = trace.x.copy()
    tr.train(40)
    np.testing.assert_array_equal(trace.x, keep)


# -- seeds, epochs, shuffling -------------------------------------------------------------
def test_same_seed_same_run_different_seed_different_run() -> None:
    acts = ["tanh", "tanh", "tanh"]
    a, b = trainer(acts, seed=3), trainer(acts, seed=3)
    a.train(200)
    b.train(200)
    np.testing.assert_array_equal(a.theta, b.theta)
    c = trainer(acts, seed=4)
    c.train(200)
    assert not np.allclose(a.theta, c.theta)
    # the same network and data, shuffled by another generator: another run
    net, x, y = problem(acts, seed=3)
    d = Trainer(net, "quadratic", x, y, Hyper(0.1, 10), np.random.default_rng(999))
    d.train(200)
    assert not np.allclose(a.theta, d.theta)


@pytest.mark.parametrize(("n", "batch", "per_epoch"), [(250, 10, 25), (47, 10, 5), (47, 1, 47)])
def test_epoch_counting(n: int, batch: int, per_epoch: int) -> None:
    rng = np.random.default_rng(0)
    net = Network.create([2, 3, 1], ["tanh", "tanh"], "xavier", rng)
    x, y = rng.normal(size=(n, 2)), rng.uniform(-1, 1, size=(n, 1))
    tr = Trainer(net, "quadratic", x, y, Hyper(0.01, batch), rng)
    tr.train(per_epoch - 1)
    assert (tr.step, tr.epoch) == (per_epoch - 1, 0)
    tr.train(1)
    assert (tr.step, tr.epoch) == (per_epoch, 1)
    tr.train(2 * per_epoch)
    assert (tr.step, tr.epoch) == (3 * per_epoch, 3)


def test_every_epoch_visits_every_example_once_in_a_new_order() -> None:
    rng = np.random.default_rng(0)
    net = Network.create([1, 2, 1], ["tanh", "linear"], "xavier", rng)
    x = np.arange(23.0)[:, None]
    tr = Trainer(net, "quadratic", x, 2 * x, Hyper(0.0, 5), rng)
    orders = []
    for _ in range(3):
        seen = []
        for _ in range(5):  # 4 batches of 5 and one of 3
            bx, by = tr.next_batch()
            np.testing.assert_array_equal(by, 2 * bx)
            seen += bx[:, 0].tolist()
            tr.step_instrumented()
        assert sorted(seen) == x[:, 0].tolist()
        orders.append(seen)
    assert orders[0] != orders[1] != orders[2]
    assert tr.epoch == 3


# -- divergence ---------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["fast", "instrumented"])
def test_divergence_is_reported_and_rolled_back(path: str) -> None:
    """lr 1e3 on tanh hidden + linear output blows up (a sigmoid net would only saturate)."""
    tr = trainer(["tanh", "tanh", "linear"], hyper=Hyper(1e3, 10))
    if path == "fast":
        done = tr.train(500)
        assert done < 500
    else:
        for _ in range(500):
            tr.step_instrumented()
            if tr.status != "ok":
                break
    assert tr.status == "diverged"
    assert np.isfinite(tr.theta).all()
    assert all(np.isfinite(w).all() for w in tr.net.weights + tr.net.biases)
    with pytest.raises(RuntimeError, match="diverged"):
        tr.train(1)
    with pytest.raises(RuntimeError, match="diverged"):
        tr.step_instrumented()
    # lowering the rate and resetting lets training go on
    tr.reset_status()
    tr.set_hyper(learning_rate=1e-12)
    assert tr.train(10) == 10
    assert tr.status == "ok"


@pytest.mark.parametrize("momentum", [0.0, 0.9])
@pytest.mark.parametrize("path", ["fast", "instrumented"])
def test_a_diverged_run_stays_at_its_last_finite_step(path: str, momentum: float) -> None:
    """A reviewer saw a playing run that diverged say "step 5" over step 0's weights: the
    fast path rolled θ back to its last check but counted the steps after it. The run now
    stays at the last step whose θ is finite: a twin trained exactly that many steps, one at
    a time and checked after each (nothing shared with the paths' rollback), has the same θ,
    velocity, epoch and next batch, and its next step overflows."""
    hyper = Hyper(1e3, 7, momentum=momentum)  # 7 ∤ N: short batches at the epochs' ends
    tr = trainer(["tanh", "tanh", "linear"], hyper=hyper)
    tr.train(3)  # not at a chunk's start
    if path == "fast":
        tr.train(500)
    else:
        while tr.status == "ok":
            tr.step_instrumented()
    assert tr.status == "diverged" and np.isfinite(tr.theta).all()
    twin = trainer(["tanh", "tanh", "linear"], hyper=hyper)
    twin.train(3)
    for _ in range(tr.step - 3):  # the same path (the two round differently in the last bit)
        if path == "fast":
            assert twin.train(1) == 1
        else:
            twin.step_instrumented()
        assert twin.status == "ok" and np.isfinite(twin.theta).all()
    assert twin.theta.tobytes() == tr.theta.tobytes()
    assert twin._velocity.tobytes() == tr._velocity.tobytes()
    assert (twin.epoch, twin._cursor) == (tr.epoch, tr._cursor)
    assert [b.tobytes() for b in twin.next_batch()] == [b.tobytes() for b in tr.next_batch()]
    with np.errstate(all="ignore"):
        twin.train(1) if path == "fast" else twin.step_instrumented()
    assert twin.status == "diverged" and twin.step == tr.step  # the next update overflows


def test_fast_divergence_rolls_back_to_a_recent_check() -> None:
    tr = trainer(["tanh", "tanh", "linear"], hyper=Hyper(1e3, 10))
    done = tr.train(500)
    assert tr.status == "diverged"
    assert done <= 5 * DIVERGENCE_CHECK_EVERY  # caught within a few checks of blowing up


def test_a_saturating_sigmoid_net_does_not_diverge() -> None:
    tr = trainer(["sigmoid", "sigmoid", "sigmoid"], hyper=Hyper(1e3, 10))
    assert tr.train(300) == 300
    assert tr.status == "ok" and np.isfinite(tr.theta).all()


def test_evaluate_reports_the_cost() -> None:
    tr = trainer(["tanh", "tanh", "linear"], hyper=Hyper(0.1, 10, "l2", 1.0))
    c = tr.evaluate(tr.x, tr.y)
    assert c == pytest.approx(backprop(tr.net, "quadratic", tr.x, tr.y, "l2", 1.0, N).cost)
    assert tr.status == "ok"


# -- changing things mid-run --------------------------------------------------------------
def test_set_hyper_keeps_the_weights() -> None:
    tr = trainer(["tanh", "tanh", "tanh"])
    tr.train(13)
    before = tr.theta.copy()
    tr.set_hyper(learning_rate=0.5, batch_size=3, momentum=0.5, regulariser="l2", lmbda=1.0)
    np.testing.assert_array_equal(tr.theta, before)
    assert tr.hyper == Hyper(0.5, 3, "l2", 1.0, 0.5)
    with pytest.raises(ValueError, match="batch_size"):
        tr.set_hyper(batch_size=0)
    assert tr.hyper.batch_size == 3
    bx, _ = tr.next_batch()
    assert len(bx) == 3
    tr.train(5)
    assert not np.array_equal(tr.theta, before)


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"batch_size": 0}, "batch_size"),
        ({"momentum": 1.0}, "momentum"),
        ({"learning_rate": -1.0}, "learning_rate"),
        ({"regulariser": "l3"}, "unknown regulariser"),
    ],
)
def test_hyper_validation(changes: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Hyper(**changes)  # type: ignore[arg-type]


def test_set_parameters() -> None:
    tr = trainer(["tanh", "tanh", "linear"], hyper=Hyper(0.1, 10, momentum=0.9))
    tr.train(5)  # one epoch of 47 in batches of 10; momentum has built up
    ws = [np.full(w.shape, 0.25) for w in tr.net.weights]
    bs = [np.full(b.shape, -0.5) for b in tr.net.biases]
    tr.set_parameters(ws, bs)
    for w, b in zip(tr.net.weights, tr.net.biases, strict=True):
        assert (w == 0.25).all() and (b == -0.5).all()
    assert set(np.unique(tr.theta)) == {0.25, -0.5}
    # It continues like a fresh trainer on those parameters (momentum does not carry over),
    # given the same generator state: one shuffle per epoch, one epoch done.
    rng = np.random.default_rng(100)
    rng.permutation(N)
    net = Network(list(tr.net.sizes), ws, bs, list(tr.net.activations))
    twin = Trainer(net, "quadratic", tr.x, tr.y, tr.hyper, rng)
    tr.train(20)
    for _ in range(20):
        twin.step_instrumented()
    assert_same_parameters(tr.theta, twin.theta)


def test_set_parameters_refuses_bad_shapes() -> None:
    tr = trainer(["tanh", "tanh", "linear"])
    before = tr.theta.copy()
    ws = [w.copy() for w in tr.net.weights]
    bs = [b.copy() for b in tr.net.biases]
    with pytest.raises(ValueError, match=r"w\^2 must be \(5, 3\)"):
        tr.set_parameters([ws[0].T, *ws[1:]], bs)
    with pytest.raises(ValueError, match=r"b\^3"):
        tr.set_parameters(ws, [bs[0], np.zeros(1), bs[2]])
    with pytest.raises(ValueError, match="need 3 weight matrices"):
        tr.set_parameters(ws[:2], bs[:2])
    np.testing.assert_array_equal(tr.theta, before)  # nothing half-written


def test_trainer_refuses_bad_data() -> None:
    net, x, y = problem(["tanh", "tanh", "tanh"])
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"x must be \(N, 3\) and y \(N, 3\)"):
        Trainer(net, "quadratic", x[:, :2], y, Hyper(), rng)
    with pytest.raises(ValueError, match=r"x must be \(N, 3\)"):
        Trainer(net, "quadratic", x, y[:-1], Hyper(), rng)
    with pytest.raises(ValueError, match="empty"):
        Trainer(net, "quadratic", x[:0], y[:0], Hyper(), rng)
