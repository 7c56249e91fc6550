"""A run's frames and history carry the gradient across layers, its histograms, and the
predicted versus actual change of a step: held to plain NumPy and to the frames themselves."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pytest

from app.runs.experiment import Experiment
from app.runs.run import Run
from app.settings import Settings

# The default network: tanh hidden layers, tanh output, quadratic cost; with L2 and momentum.
CONFIG = {"hidden": [4, 2], "regulariser": "l2", "lmbda": 0.1, "momentum": 0.6}


def _cost(run: Run, theta: np.ndarray, x: np.ndarray, y: np.ndarray) -> float:
    """The batch cost written out in NumPy: mean ½‖a^L − y‖² plus λ/(2n)·Σw²."""
    st = run.state
    sizes, n = st.net.sizes, st.n_train
    a, o, penalty = x, 0, 0.0
    for n_l, k in zip(sizes[1:], sizes[:-1], strict=True):
        block = theta[o : o + n_l * (k + 1)].reshape(n_l, k + 1)
        o += n_l * (k + 1)
        w, b = block[:, :k], block[:, k]
        a = np.tanh(a @ w.T + b)
        penalty += 0.1 / (2 * n) * float(np.sum(w * w))
    return float(0.5 * np.sum((a - y) ** 2) / len(x)) + penalty


def test_a_frames_prediction_is_the_first_step_after_the_previous_frame() -> None:
    run = Run("r", Experiment(**CONFIG), Settings())
    run.train(30)
    first = orjson.loads(run.frame())
    tr = run.state.trainer
    theta0 = tr.theta.copy()
    bx, by = (v.copy() for v in tr.next_batch())  # the batch the frame shows
    run.train(7)  # the first of these is the predicted one
    frame = orjson.loads(run.frame())
    p = frame["prediction"]
    assert p["step"] == first["step"] + 1 and frame["step"] == first["step"] + 7
    # replay that one step from θ0 on a copy (the run's θ has moved on 6 more steps)
    twin = Run("t", Experiment(**CONFIG), Settings())
    twin.train(30)
    assert twin.state.trainer.theta.tobytes() == theta0.tobytes()
    twin.state.trainer.train(1)
    theta1 = twin.state.trainer.theta.copy()
    g = np.empty_like(theta0)
    for i in range(len(theta0)):  # central differences of the NumPy cost
        e = np.zeros_like(theta0)
        e[i] = 1e-6
        g[i] = (_cost(run, theta0 + e, bx, by) - _cost(run, theta0 - e, bx, by)) / 2e-6
    c0, c1 = _cost(run, theta0, bx, by), _cost(run, theta1, bx, by)
    assert p["predicted"] == pytest.approx(float(g @ (theta1 - theta0)), rel=1e-6)
    assert p["actual"] == pytest.approx(c1 - c0, rel=1e-6, abs=1e-12)
    assert p["cost_before"] == pytest.approx(c0, rel=1e-12)
    assert p["cost_after"] == pytest.approx(c1, rel=1e-12)
    assert first["batch_cost"] == pytest.approx(c0, rel=6e-4)  # the frame showed that cost


def test_predictions_change_no_bit_of_training() -> None:
    a, b = Run("a", Experiment(**CONFIG), Settings()), Run("b", Experiment(**CONFIG), Settings())
    for _ in range(10):
        a.train(9)
        a.frame()  # every frame makes the next step a predicted one
    b.train(90)
    assert a.state.trainer.theta.tobytes() == b.state.trainer.theta.tobytes()


def _history(run: Run, histograms: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = orjson.loads(
        orjson.dumps(run.history_dict(histograms), option=orjson.OPT_SERIALIZE_NUMPY)
    )
    return out


def test_history_carries_each_measured_frames_norms_and_health_per_layer() -> None:
    run = Run(
        "r", Experiment(**{**CONFIG, "hidden": [6, 5, 3], "hidden_activation": "relu"}), Settings()
    )
    frames = []
    for k in (0, 3, 10, 1, 25):
        run.train(k)
        frames.append(orjson.loads(run.frame()))  # REST frames measure the metrics
    run.train(4)
    orjson.loads(run.frame(metrics=False))  # not measured: no point, no histograms
    h = _history(run)
    assert h["step"] == [f["step"] for f in frames]
    assert [s["l"] for s in h["layers"]] == [2, 3, 4, 5]
    for t, f in enumerate(frames):
        for i, layer in enumerate(f["layers"]):
            series = h["layers"][i]
            for name in ("probe_delta", "probe_grad_w", "grad_b", "grad_w"):
                assert series[name][t] == layer["norms"][name]
        for counted in f["health"]["layers"]:
            series = h["layers"][counted["l"] - 2]
            assert series["saturated"][t] == counted["saturated"]
            assert series["dead"][t] == counted["dead"]
    assert h["histograms"] is None
    snaps = _history(run, histograms=True)["histograms"]
    assert snaps["step"] == h["step"]  # few points: every measurement is a snapshot
    assert snaps["layers"][1]["delta"][-1] == frames[-1]["histograms"]["layers"][1]["delta"]


def test_frames_between_measurements_carry_no_histograms() -> None:
    run = Run("r", Experiment(**CONFIG), Settings())
    run.train(3)
    assert orjson.loads(run.frame())["histograms"] is not None
    run.train(3)
    assert orjson.loads(run.frame(metrics=False))["histograms"] is None


def test_a_playing_stream_sends_histograms_with_the_grid_only() -> None:
    run = Run("r", Experiment(**CONFIG), Settings())
    run.playing = True
    run.train(3)
    measured = orjson.loads(run.frame(metrics=True))
    assert measured["metrics_step"] == measured["step"] and measured["histograms"] is None
    run.train(3)
    grid_frame = orjson.loads(run.frame(grid=True))
    assert grid_frame["histograms"] is not None
    # the history still has a point at each measurement
    assert _history(run)["step"] == [3, 6]
    # and the step predicted is the first after a grid frame
    run.train(4)
    f = orjson.loads(run.frame(metrics=False))
    assert f["prediction"]["step"] == grid_frame["step"] + 1 == 7
    run.train(4)
    assert orjson.loads(run.frame(metrics=False))["prediction"]["step"] == 7


def test_a_reset_forgets_the_layer_series_and_the_prediction() -> None:
    run = Run("r", Experiment(**CONFIG), Settings())
    run.train(5)
    run.frame()
    run.train(5)
    assert orjson.loads(run.frame())["prediction"] is not None
    run.reset()
    f = orjson.loads(run.frame(history=True))
    assert f["prediction"] is None
    assert f["history"]["step"] == [0] and len(f["history"]["layers"][0]["grad_w"]) == 1
