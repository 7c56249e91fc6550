"""Frames of runs trained under a feedback rule: the rule's numbers, the true ones beside
them, and the alignment, each against the readable reference (app/core/network.py)."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pytest

from app.core.network import backprop
from app.runs.experiment import Experiment
from app.runs.run import Run
from app.settings import Settings
from tests.runs.test_frames import close

TRUE_FIELDS = {"true_delta", "true_grad_w", "true_grad_b"}


def _frame_and_reference(changes: dict[str, Any]) -> tuple[dict[str, Any], Any, Any, Any]:
    run = Run("r", Experiment(**{"seed": 3, "hidden": [5, 3], **changes}), Settings())
    run.train(40)
    run.set_probe(4)
    frame = orjson.loads(run.frame())
    st = run.state
    h = st.trainer.hyper
    bx, by = st.trainer.next_batch()
    args = (st.net, st.cost_name)
    rule = backprop(*args, bx, by, h.regulariser, h.lmbda, st.n_train, feedback=st.feedback)
    true = backprop(*args, bx, by, h.regulariser, h.lmbda, st.n_train)
    probe = (
        backprop(*args, st.x[4:5], st.y[4:5], feedback=st.feedback),
        backprop(*args, st.x[4:5], st.y[4:5]),
    )
    return frame, rule, true, probe


def _cosine(u: np.ndarray, v: np.ndarray) -> float:
    u, v = u.ravel(), v.ravel()
    return float(u @ v / np.sqrt((u @ u) * (v @ v)))


@pytest.mark.parametrize(
    "changes",
    [
        {"feedback": "inverse"},
        {"feedback": "random"},
        {"feedback": "random", "regulariser": "l2", "lmbda": 0.5, "hidden_activation": "relu"},
        {"feedback": "inverse", "regulariser": "l1", "lmbda": 0.3, "batch_size": 7},
    ],
    ids=str,
)
def test_a_rule_frame_carries_the_rule_and_the_truth(changes: dict[str, Any]) -> None:
    frame, rule, true, (p_rule, p_true) = _frame_and_reference(changes)
    L = len(frame["layers"]) + 1
    for i, layer in enumerate(frame["layers"]):
        close(layer["delta"], p_rule.delta[i][0])  # the rule's: what training uses
        close(layer["grad_w"], rule.grad_w[i])
        close(layer["grad_b"], rule.grad_b[i])
        close(layer["true_delta"], p_true.delta[i][0])
        close(layer["true_grad_w"], true.grad_w[i])
        close(layer["true_grad_b"], true.grad_b[i])
        want = _cosine(rule.grad_w[i], true.grad_w[i])
        assert layer["alignment"] == pytest.approx(want, abs=1e-9)
        if layer["l"] == L:  # BP1 is every rule's: the output layer's step is the true one
            assert layer["alignment"] == pytest.approx(1.0, abs=1e-12)
    # below the output the rule's step is not the gradient's
    assert frame["layers"][0]["alignment"] < 1 - 1e-6


def test_a_transpose_frame_is_as_before_with_alignment_one() -> None:
    frame, rule, _, (p_rule, _) = _frame_and_reference({})
    for i, layer in enumerate(frame["layers"]):
        assert not TRUE_FIELDS & layer.keys()
        assert layer["alignment"] == 1.0
        close(layer["delta"], p_rule.delta[i][0])
        close(layer["grad_w"], rule.grad_w[i])


def test_frames_of_a_blown_up_inverse_run_stay_finite() -> None:
    """Training under the inverse rule at a large η overflows: the run says diverged, and
    its frame holds numbers only (no NaN or Infinity, which JSON cannot carry)."""
    config = Experiment(
        seed=3,
        dataset="plane",
        hidden=[8, 3],
        hidden_activation="relu",
        feedback="inverse",
        learning_rate=10.0,
    )
    run = Run("r", config, Settings())
    for _ in range(40):
        if run.status == "diverged":
            break
        run.train(100)
    text = run.frame().decode()
    frame = orjson.loads(text)
    assert frame["status"] == "diverged"
    assert "NaN" not in text and "Infinity" not in text
    for layer in frame["layers"]:
        a = layer["alignment"]
        assert a is None or -1.0 <= a <= 1.0
