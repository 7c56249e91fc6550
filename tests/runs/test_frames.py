"""Frames against the core: every number of a frame is the core's, to 4 significant digits."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import orjson
import pytest

from app.core import edges as core_edges
from app.core.activations import ACTIVATIONS
from app.core.costs import COSTS
from app.core.datasets import accuracy
from app.core.network import backprop
from app.runs.experiment import Experiment
from app.runs.rounding import round4, round_sig, rounded32
from app.runs.run import Run
from app.settings import Settings

RTOL = 1.2e-3  # 4 significant digits, then float32


def close(got: Any, want: Any) -> None:
    want = np.asarray(want, dtype=np.float64)
    got = np.asarray(got, dtype=np.float64)
    assert got.shape == want.shape
    scale = max(float(np.abs(want).max(initial=0.0)), 1e-12)
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=1e-9 * scale)


CASES = [
    {},
    {"hidden": [8, 8]},
    {"hidden": [], "dataset": "xor", "features": ["x1", "x2", "x1x2"]},
    {"hidden": [5, 3], "hidden_activation": "relu", "regulariser": "l2", "lmbda": 0.5},
    {
        "hidden": [3],
        "hidden_activation": "sigmoid",
        "output_activation": "sigmoid",
        "cost": "cross_entropy",
        "regulariser": "l1",
        "lmbda": 1.0,
    },
    {"dataset": "blobs3", "hidden": [6, 4], "hidden_activation": "leaky_relu"},
    {"dataset": "plane", "hidden": [4], "hidden_activation": "linear", "batch_size": 7},
    {
        "dataset": "spiral",
        "hidden": [8, 8, 8, 8, 8, 8],
        "features": list(["x1", "x2", "x1^2", "x2^2", "x1x2", "sin_x1", "sin_x2"]),
    },
    {"hidden": [2], "output_activation": "softmax"},
]


@pytest.mark.parametrize("changes", CASES, ids=[str(i) for i in range(len(CASES))])
def test_frame_matches_core_backprop(changes: dict[str, Any]) -> None:
    run = Run("r", Experiment(**{"seed": 3, **changes}), Settings())
    run.train(37)
    run.set_probe(5)
    frame = orjson.loads(run.frame(grid=True))
    st = run.state
    net, tr = st.net, st.trainer
    h = tr.hyper
    bx, by = tr.next_batch()
    batch = backprop(net, st.cost_name, bx, by, h.regulariser, h.lmbda, st.n_train)
    probe = backprop(net, st.cost_name, st.x[5:6], st.y[5:6])

    assert frame["step"] == 37 and frame["status"] == "paused"
    assert frame["sizes"] == net.sizes and frame["activations"] == net.activations
    close(frame["probe"]["x"], st.x[5])
    close(frame["probe"]["y"], st.y[5])
    close(frame["probe"]["point"], st.dataset.points[st.train_idx[5]])
    close(frame["probe"]["cost"], probe.cost_x[0])
    close(frame["batch_cost"], batch.cost)
    close(frame["input"]["a"], st.x[5])
    close(frame["input"]["mean_a"], bx.mean(axis=0))
    # the probe's error carried back to its inputs, (w²)ᵀδ², summed unrounded then rounded
    # once (the page used to sum the 4-digit products: 4 % off in 27 of 64 digit pixels)
    close(frame["input"]["backward"], net.weights[0].T @ probe.delta[0][0])
    probe_edges = core_edges.edges(net, probe, example=0)
    mean_edges = core_edges.edges(net, batch)
    for i, layer in enumerate(frame["layers"]):
        assert layer["l"] == i + 2
        close(layer["w"], net.weights[i])
        close(layer["b"], net.biases[i])
        close(layer["grad_w"], batch.grad_w[i])
        close(layer["grad_b"], batch.grad_b[i])
        for key in ("z", "delta", "sigma_prime"):
            close(layer[key], getattr(probe, key)[i][0])
            close(layer["mean"][key], getattr(batch, key)[i].mean(axis=0))
        close(layer["a"], probe.a[i + 1][0])
        close(layer["mean"]["a"], batch.a[i + 1].mean(axis=0))
        for name in ("forward", "backward", "gradient"):
            close(layer["edges"]["probe"][name], getattr(probe_edges[i], name))
            close(layer["edges"]["mean"][name], getattr(mean_edges[i], name))
        close(layer["norms"]["grad_b"], np.linalg.norm(batch.grad_b[i]))
        close(layer["norms"]["grad_w"], np.linalg.norm(batch.grad_w[i]))
    n = st.n_train
    close(frame["train"]["cost"], tr.evaluate(st.x[:n], st.y[:n]))
    close(frame["test"]["cost"], tr.evaluate(st.x[n:], st.y[n:]))
    out = st.net.weights  # noqa: F841 (the network is unchanged by building a frame)
    if st.kind != "regression":
        from app.core.network import output

        act = st.output_activation
        assert frame["train"]["accuracy"] == pytest.approx(
            accuracy(output(net, st.x[:n]), st.y[:n], st.kind, act), abs=1e-3
        )
        assert frame["test"]["accuracy"] == pytest.approx(
            accuracy(output(net, st.x[n:]), st.y[n:], st.kind, act), abs=1e-3
        )
    grid = frame["grid"]
    assert len(grid["x1"]) == len(grid["x2"]) == 64
    assert np.shape(grid["output"]) == (64, 64)
    n_hidden = sum(net.sizes[1:-1])
    assert np.shape(grid["neurons"]) == ((n_hidden, 16, 16) if n_hidden else (0,))


def test_bp2_holds_between_the_numbers_of_one_frame() -> None:
    """Σ_j backward contribution of edge k→j, times σ'(z_k), is δ_k (to rounding)."""
    run = Run("r", Experiment(**{"hidden": [8, 8]}), Settings())
    run.train(50)
    frame = orjson.loads(run.frame())
    layers = frame["layers"]
    for lower, upper in itertools.pairwise(layers):
        back = np.asarray(upper["edges"]["probe"]["backward"]).sum(axis=0)
        close(back * np.asarray(lower["sigma_prime"]), lower["delta"])


def test_grid_is_the_network_output_on_the_grid() -> None:
    run = Run("r", Experiment(), Settings())
    frame = orjson.loads(run.frame(grid=True))
    grid = frame["grid"]
    from app.core.datasets import features
    from app.core.network import output

    x1, x2 = np.asarray(grid["x1"]), np.asarray(grid["x2"])
    r, c = 7, 50
    a = output(run.state.net, features(np.array([[x1[c], x2[r]]]), ["x1", "x2"]))
    close(grid["output"][r][c], a[0, 0])
    ext = run.state.extent
    assert x1[0] == pytest.approx(ext[0][0], rel=1e-3)
    assert x2[-1] == pytest.approx(ext[1][1], rel=1e-3)


def test_multiclass_grid_is_the_argmax_class() -> None:
    run = Run("r", Experiment(dataset="blobs3"), Settings())
    grid = orjson.loads(run.frame(grid=True))["grid"]
    assert set(np.unique(grid["output"])) <= {0, 1, 2}


def test_rounding_to_four_significant_digits() -> None:
    x = np.array([0.123456, -98765.4, 1.23456e-7, 0.0, 3.333333e29, 0.99996, -0.00012345])
    assert rounded32(x).tolist() == pytest.approx(
        [0.1235, -98770.0, 1.235e-7, 0.0, 3.333e29, 1.0, -0.0001234], rel=1e-6
    )
    assert orjson.dumps(rounded32(x[:2]), option=orjson.OPT_SERIALIZE_NUMPY) == b"[0.1235,-98770.0]"
    buf = np.array([5e-300, 1e30])
    round_sig(buf, np.empty(2))
    assert buf.tolist() == pytest.approx([5e-300, 1e30])
    assert round4(float("nan")) is None and round4(2.0 / 3.0) == 0.6667


def test_a_frame_never_carries_nan_or_infinity() -> None:
    run = Run("r", Experiment(hidden=[4], hidden_activation="linear", dataset="plane"), Settings())
    tr = run.state.trainer
    tr.theta[:] = 1e200  # finite but absurd: every z overflows
    data = run.frame(grid=True)
    assert b"NaN" not in data and b"Infinity" not in data and b"null" in data
    frame = orjson.loads(data)
    assert frame["status"] == "diverged"
    assert frame["train"]["cost"] is None


def _frame_body(run: Run) -> dict[str, Any]:
    frame: dict[str, Any] = orjson.loads(run.frame(grid=True))
    del frame["t"]
    # the step predicted is the first trained after the previous frame: which one it was
    # depends on when frames were asked for, not on the state (tests/runs/test_run_layers.py)
    del frame["prediction"]
    return frame


def test_a_repeated_frame_is_reused_until_something_changes() -> None:
    """Frames (and the grid) of an unchanged run are reused; every change shows, and the
    frame after it is the one a fresh run brought to the same state sends."""
    config = Experiment(**{"hidden": [4, 3], "seed": 5})
    changes: list[Any] = [
        lambda r: r.train(3),
        lambda r: r.set_probe(7),
        lambda r: r.state.trainer.set_weight(3, 1, 2, -0.5),
        lambda r: r.update({"regulariser": "l2", "lmbda": 0.5}),
        lambda r: r.update({"lmbda": 0.25}),
        lambda r: r.update({"batch_size": 4}),
        lambda r: r.state.trainer.set_weight(2, 0, 1, 0.75),
        lambda r: r.train(1),
        lambda r: r.update({"regulariser": "none"}),
        lambda r: r.reset(),
    ]
    run = Run("r", config, Settings())
    before = _frame_body(run)
    st = run.state
    layers, metrics = st.builder(st.trainer.hyper.batch_size).layers, st.evaluator(st.cost, 0.0)
    assert _frame_body(run) == before
    assert st.builder(st.trainer.hyper.batch_size).layers is layers  # reused, not rebuilt
    assert st.evaluator(st.cost, 0.0) is metrics
    for i, change in enumerate(changes):
        change(run)
        after = _frame_body(run)
        assert after != before, f"change {i} did not show"
        fresh = Run("r", config, Settings())
        for earlier in changes[: i + 1]:
            earlier(fresh)
        assert after == _frame_body(fresh), f"change {i}: the frame differs from a fresh run's"
        assert _frame_body(run) == after
        before = after


def test_a_frame_without_fresh_metrics_repeats_the_last_measured_ones() -> None:
    """A playing stream measures train/test every few frames: the frames in between say
    when theirs were measured, and the loss history gets one point per measurement."""
    run = Run("r", Experiment(**{"hidden": [4], "seed": 3}), Settings())
    first = orjson.loads(run.frame(metrics=False))  # nothing measured yet: measures
    assert first["metrics_step"] == 0 == first["step"]
    run.train(50)
    between = orjson.loads(run.frame(metrics=False))
    assert between["step"] == 50 and between["metrics_step"] == 0
    assert between["train"] == first["train"] and between["test"] == first["test"]
    assert len(run.history) == 1
    fresh = orjson.loads(run.frame())
    assert fresh["metrics_step"] == 50 and fresh["train"] != first["train"]
    assert [p[0] for p in run.history] == [0, 50]
    run.reset()  # same seed, step 0 again: the old measurement does not survive
    again = orjson.loads(run.frame(metrics=False))
    assert again["metrics_step"] == 0 and again["train"] == first["train"]


def _engine_cases() -> list[dict[str, Any]]:
    """Every hidden activation (two layers of it), and every cost on each output it pairs
    with, each under every regulariser; plus a batch of one and an epoch's short batch."""
    hidden = sorted(n for n, a in ACTIVATIONS.items() if a.hidden_ok)
    nets = [{"hidden": [4, 3], "hidden_activation": h, "output_activation": "tanh"} for h in hidden]
    nets += [
        {"hidden": [4, 3], "output_activation": o, "cost": c}
        for c, cost in sorted(COSTS.items())
        for o in cost.outputs
    ]
    regs = [{"regulariser": r, "lmbda": 0.0 if r == "none" else 0.7} for r in ("none", "l1", "l2")]
    cases = [{**n, **r} for n in nets for r in regs]
    return [*cases, {"hidden": [5], "batch_size": 1}, {"hidden": [5], "batch_size": 7}]


@pytest.mark.parametrize("changes", _engine_cases(), ids=str)
def test_a_frames_numbers_before_rounding_are_the_readable_reference(
    changes: dict[str, Any],
) -> None:
    """The engine's recording that a frame sends, before the 4-digit rounding, is
    network.backprop's on the probe and on the next batch to 1e-12: every z, a, σ', δ (the
    probe's and the batch means), w, b, the gradients, and every edge."""
    run = Run("r", Experiment(**{"seed": 4, "momentum": 0.3, **changes}), Settings())
    run.train(23)  # mid-epoch (23 steps of 7 reach an epoch's short last batch), momentum built up
    run.set_probe(3)
    run.frame()
    st = run.state
    net, h = st.net, st.trainer.hyper
    bx, by = (v.copy() for v in st.trainer.next_batch())
    got = st.builder(len(bx)).unrounded()
    batch = backprop(net, st.cost_name, bx, by, h.regulariser, h.lmbda, st.n_train)
    probe = backprop(net, st.cost_name, st.x[3:4], st.y[3:4])
    probe_edges, mean_edges = core_edges.edges(net, probe, example=0), core_edges.edges(net, batch)

    def exact(g: Any, w: Any, what: str) -> None:
        w = np.asarray(w)
        assert np.shape(g) == w.shape, what
        scale = max(float(np.abs(w).max(initial=0.0)), 1.0)
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-14 * scale, err_msg=what)

    assert len(got) == len(net.weights)
    for i, layer in enumerate(got):
        exact(layer["w"], net.weights[i], "w")
        exact(layer["b"], net.biases[i], "b")
        exact(layer["grad_w"], batch.grad_w[i], "grad_w")
        exact(layer["grad_b"], batch.grad_b[i], "grad_b")
        for key in ("z", "delta", "sigma_prime"):
            exact(layer[key], getattr(probe, key)[i][0], key)
            exact(layer["mean"][key], getattr(batch, key)[i].mean(axis=0), "mean " + key)
        exact(layer["a"], probe.a[i + 1][0], "a")
        exact(layer["mean"]["a"], batch.a[i + 1].mean(axis=0), "mean a")
        for name in ("forward", "backward", "gradient"):
            exact(layer["edges"]["probe"][name], getattr(probe_edges[i], name), name)
            exact(layer["edges"]["mean"][name], getattr(mean_edges[i], name), "mean " + name)
