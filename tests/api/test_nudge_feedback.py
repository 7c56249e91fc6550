"""`POST /api/runs/{id}/nudge` answers what the inverse rule would have predicted and what
the run's own rule predicts, beside the measured slope and backprop's value."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import TestClient
from tests.api.test_nudge import nudge, strict
from tests.api.test_stream import the_run

# 2-5-3-1 on circle: w^3 is 3 × 5 and w^4 is 1 × 3, so neither has an inverse
CONFIG: dict[str, Any] = {"hidden": [5, 3], "seed": 4, "learning_rate": 0.1}
QUANTITIES = [
    {"of": "z", "l": 2, "j": 1},
    {"of": "z", "l": 3, "j": 2},
    {"of": "a", "l": 2, "j": 4},
    {"of": "a", "l": 3, "j": 0},
    {"of": "w", "l": 2, "j": 3, "k": 1},
    {"of": "w", "l": 3, "j": 1, "k": 2},
    {"of": "b", "l": 2, "j": 0},
    {"of": "b", "l": 3, "j": 1},
]


def _run(client: TestClient, **changes: Any) -> str:
    r = client.post("/api/runs", json={**CONFIG, **changes})
    assert r.status_code == 201
    rid: str = r.json()["id"]
    client.post(f"/api/runs/{rid}/step", json={"steps": 60})
    return rid


def test_measured_matches_backprop_and_not_the_inverse(client: TestClient) -> None:
    rid = _run(client)
    st = the_run(client, rid).state
    w3, w4 = st.net.weights[1], st.net.weights[2]
    assert w3.shape == (3, 5) and w4.shape == (1, 3)
    differ = 0
    for body in QUANTITIES:
        got = strict(nudge(client, rid, **body).content)
        assert got["measured"] == pytest.approx(got["backprop"], rel=1e-6, abs=1e-9)
        assert got["feedback"] == "transpose" and got["rule"] == got["backprop"]
        assert got["inverse"] is not None
        differ += abs(got["measured"] - got["inverse"]) > 1e-2 * max(abs(got["measured"]), 1e-6)
    assert differ >= len(QUANTITIES) - 1  # typically every one
    # the output layer: BP1 is every rule's, so the inverse predicts backprop's value
    for body in ({"of": "z", "l": 4, "j": 0}, {"of": "w", "l": 4, "j": 0, "k": 1}):
        got = nudge(client, rid, **body).json()
        assert got["inverse"] == got["backprop"]


def test_the_inverse_prediction_of_the_last_hidden_layer_by_hand(client: TestClient) -> None:
    """z^3_j under the inverse rule: δ̃^3 = (w^4)⁺ δ^4 ⊙ σ'(z^3), with w^4 a row, so
    (w^4)⁺ = (w^4)^T / ‖w^4‖²: backprop's δ^3_j divided by ‖w^4‖²."""
    rid = _run(client)
    w4 = the_run(client, rid).state.net.weights[2][0]
    norm2 = float(w4 @ w4)
    for j in range(3):
        got = nudge(client, rid, of="z", l=3, j=j).json()
        assert got["inverse"] == pytest.approx(got["backprop"] / norm2, rel=1e-12)


def test_a_rule_run_says_its_own_rules_prediction(client: TestClient) -> None:
    for name in ("random", "inverse"):
        rid = _run(client, feedback=name)
        got = nudge(client, rid, of="w", l=2, j=1, k=0).json()
        assert got["feedback"] == name
        assert got["measured"] == pytest.approx(got["backprop"], rel=1e-6, abs=1e-9)
        assert abs(got["rule"] - got["backprop"]) > 1e-3 * abs(got["backprop"])
        if name == "inverse":
            assert got["rule"] == got["inverse"]
        out = nudge(client, rid, of="z", l=4, j=0).json()
        assert out["rule"] == out["backprop"]


def test_a_blown_up_inverse_prediction_is_null_not_infinity(client: TestClient) -> None:
    """A nearly zero w has a huge pseudo-inverse: with 2-1-1-1 and w^3 = w^4 = 1e-300, the
    inverse rule sends δ back multiplied by 1e300 twice, which overflows float64; the answer
    says null, never Infinity, while the measurement and backprop stand."""
    rid = _run(client, hidden=[1, 1])
    for l_ in (3, 4):
        r = client.put(f"/api/runs/{rid}/weights/{l_}/0/0", json={"value": 1e-300})
        assert r.status_code == 200
    r = nudge(client, rid, of="z", l=2, j=0)
    assert r.status_code == 200
    got = strict(r.content)
    assert got["inverse"] is None
    assert got["measured"] == pytest.approx(got["backprop"], rel=1e-6, abs=1e-12)
