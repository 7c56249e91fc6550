"""The gradient across layers in a frame: norms and histograms held to the reference.

Independent numbers: :func:`app.core.network.backprop` (the readable reference, not the
engine that builds frames) on the frame's own θ, probe and batch, and numpy.linalg.norm /
numpy.histogram on its tensors.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pytest

from app.core.network import Network, backprop
from app.runs import layer_stats
from app.runs.experiment import Experiment
from app.runs.run import Run
from app.settings import Settings

DEEP_SIGMOID = {
    "dataset": "circle",
    "hidden": [8] * 6,
    "hidden_activation": "sigmoid",
    "output_activation": "sigmoid",
    "cost": "quadratic",
    "batch_size": 10,
    "learning_rate": 0.03,
    "init": "xavier",
}


def _reference(run: Run) -> tuple[Any, Any, Any]:
    """(probe trace, batch trace, network copy) from the reference at the run's θ."""
    st = run.state
    tr = st.trainer
    net = Network(
        list(st.net.sizes),
        [w.copy() for w in st.net.weights],
        [b.copy() for b in st.net.biases],
        list(st.net.activations),
    )
    bx, by = tr.next_batch()
    h = tr.hyper
    p = run.probe
    probe = backprop(net, st.cost_name, st.x[p : p + 1], st.y[p : p + 1])
    batch = backprop(net, st.cost_name, bx.copy(), by.copy(), h.regulariser, h.lmbda, st.n_train)
    return probe, batch, net


def _close4(shown: float, exact: float) -> None:
    """``shown`` is ``exact`` to the 4 significant digits a frame carries, and is itself a
    decimal of at most 4 significant digits (what the JSON then writes)."""
    assert shown == pytest.approx(exact, rel=6e-4, abs=1e-300), (shown, exact)
    assert float(f"{shown:.4g}") == shown, shown


@pytest.mark.parametrize(
    "changes",
    [DEEP_SIGMOID, {"hidden": [4, 2], "regulariser": "l2", "lmbda": 0.3, "momentum": 0.5}],
    ids=["deep sigmoid", "default with L2"],
)
def test_the_frames_layer_norms_are_the_references(changes: dict[str, Any]) -> None:
    run = Run("r", Experiment(**changes), Settings())
    run.train(37)
    frame = orjson.loads(run.frame())
    probe, batch, _ = _reference(run)
    for i, layer in enumerate(frame["layers"]):
        n = layer["norms"]
        _close4(n["probe_delta"], float(np.linalg.norm(probe.delta[i][0])))
        _close4(
            n["probe_grad_w"], float(np.linalg.norm(np.outer(probe.delta[i][0], probe.a[i][0])))
        )
        _close4(n["grad_b"], float(np.linalg.norm(batch.grad_b[i])))
        _close4(n["grad_w"], float(np.linalg.norm(batch.grad_w[i])))  # Frobenius, L2 included


def test_a_deep_sigmoid_network_shows_the_vanishing_staircase() -> None:
    """Nielsen ch. 5: in a deep sigmoid network the early layers learn far more slowly.
    The norms, over a stretch of steps, grow from the first hidden layer to the last."""
    run = Run("r", Experiment(**DEEP_SIGMOID), Settings())
    grad_w = []
    for _ in range(20):
        run.train(5)
        grad_w.append([layer["norms"]["grad_w"] for layer in orjson.loads(run.frame())["layers"]])
    mean = np.mean(grad_w, axis=0)
    assert mean[-1] > 100 * mean[0]  # the output layer's ∂C/∂w against the first hidden layer's
    assert np.all(np.diff(mean[:-1]) > 0), mean  # and a staircase through the hidden layers


def test_histograms_are_numpys_of_the_references_w_a_and_delta() -> None:
    run = Run("r", Experiment(**{**DEEP_SIGMOID, "hidden": [8, 5, 3]}), Settings())
    run.train(11)
    run.frame()
    m = run.state.trainer.hyper.batch_size
    builder = run.state.builder(m)
    obj, _ = layer_stats.histograms(builder)
    obj = orjson.loads(orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY))  # as sent
    _, batch, net = _reference(run)
    assert obj["bins"] == 20 and obj["m"] == m
    for i, layer in enumerate(obj["layers"]):
        assert layer["l"] == i + 2
        for kind, values in (
            ("w", net.weights[i]),
            ("a", batch.a[i + 1]),  # a[0] is the input
            ("delta", batch.delta[i]),
        ):
            h = layer[kind]
            assert len(h["edges"]) == 21 and len(h["counts"]) == 20
            counts, _ = np.histogram(np.ravel(values), bins=np.array(h["edges"]))
            assert h["counts"] == counts.tolist(), (i, kind)
            assert sum(h["counts"]) == np.size(values)


def test_a_diverged_frame_sends_no_histogram_it_cannot_count() -> None:
    run = Run("r", Experiment(**{"hidden": [3], "learning_rate": 0.03}), Settings())
    builder = run.state.builder(run.state.trainer.hyper.batch_size)
    run.frame()
    run.state.trainer.theta[0] = np.nan  # w^2_00, a weight that is not finite
    run.frame()
    obj, h = layer_stats.histograms(builder)
    assert obj["layers"][0]["w"] is None and not h.ok[0]
    assert obj["layers"][1]["w"] is not None
    text = orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY)
    assert b"NaN" not in text and b"Infinity" not in text


def test_the_norms_are_those_of_the_frames_own_tensors() -> None:
    """What the strip shows, checked from the numbers a page has: the frame's δ and a."""
    run = Run("r", Experiment(**DEEP_SIGMOID), Settings())
    run.train(50)
    frame = orjson.loads(run.frame())
    a_prev = frame["input"]["a"]
    for layer in frame["layers"]:
        delta = np.array(layer["delta"])
        n = layer["norms"]
        # the tensors are rounded to 4 digits: their norms agree to about that
        assert n["probe_delta"] == pytest.approx(np.linalg.norm(delta), rel=2e-3)
        expected = np.linalg.norm(delta) * np.linalg.norm(a_prev)
        assert n["probe_grad_w"] == pytest.approx(expected, rel=2e-3)
        assert n["grad_w"] == pytest.approx(np.linalg.norm(layer["grad_w"]), rel=2e-3)
        assert n["grad_b"] == pytest.approx(np.linalg.norm(layer["grad_b"]), rel=2e-3)
        a_prev = layer["a"]


def test_a_repeated_frame_counts_its_histograms_once() -> None:
    run = Run("r", Experiment(**{"hidden": [4, 2]}), Settings())
    run.train(5)
    run.frame()
    builder = run.state.builder(run.state.trainer.hyper.batch_size)
    _, first = layer_stats.histograms(builder)
    run.frame()
    assert layer_stats.histograms(builder)[1] is first  # nothing changed: not counted again
    run.train(1)
    run.frame()
    assert layer_stats.histograms(builder)[1] is not first
