"""POST /api/backprop with a feedback rule: BP2 through the rule's matrix, worked by hand,
with backprop's numbers and the alignment beside it; bad rule fields are 422s naming them."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from tests.api.conftest import TestClient, client_for
from tests.api.test_backprop import HAND, sigmoid

approx = lambda v: pytest.approx(v, rel=1e-12, abs=1e-15)  # noqa: E731


def _hand_forward() -> tuple[list[float], list[float], float, float]:
    """HAND's forward pass and BP1 (w^3 = [0.5, 0.6] is 1 × 2: no inverse)."""
    z2 = [0.1 * 1.0 + 0.2 * 0.5 + 0.1, 0.3 * 1.0 + 0.4 * 0.5 + 0.1]
    a2 = [sigmoid(z) for z in z2]
    a3 = sigmoid(0.5 * a2[0] + 0.6 * a2[1] + 0.2)
    d3 = (a3 - 1.0) * a3 * (1.0 - a3)
    return z2, a2, a3, d3


def test_the_inverse_of_a_row_is_its_pseudo_inverse_worked_by_hand(client: TestClient) -> None:
    """w^3 = [0.5 0.6] has no inverse; its pseudo-inverse is w^T / ‖w‖² (the column that
    w maps back to 1), so BP2 sends δ^3 back as [0.5, 0.6] / 0.61 · δ^3."""
    body = client.post("/api/backprop", json={**HAND, "feedback": "inverse"}).json()
    _, a2, _, d3 = _hand_forward()
    back = [0.5 / 0.61, 0.6 / 0.61]
    d2 = [a2[k] * (1 - a2[k]) * back[k] * d3 for k in range(2)]
    true_d2 = [a2[k] * (1 - a2[k]) * [0.5, 0.6][k] * d3 for k in range(2)]
    hidden, out = body["layers"]
    assert body["feedback_matrices"] == [[approx([back[0]]), approx([back[1]])]]
    assert hidden["delta"] == [approx(d2)] and hidden["true_delta"] == [approx(true_d2)]
    assert out["delta"] == out["true_delta"] == [approx([d3])]  # BP1 is every rule's
    assert hidden["grad_w"] == [approx([d2[0], d2[0] * 0.5]), approx([d2[1], d2[1] * 0.5])]
    assert hidden["true_grad_b"] == approx(true_d2)
    # here B is w^T scaled by 1/0.61: the same direction, alignment 1
    assert hidden["alignment"] == pytest.approx(1.0, abs=1e-12)
    assert out["alignment"] == pytest.approx(1.0, abs=1e-12)
    eta = HAND["learning_rate"]
    assert body["updated"]["weights"][0][0] == approx([0.1 - eta * d2[0], 0.2 - eta * d2[0] * 0.5])


def _square(feedback: str, **more: Any) -> dict[str, Any]:
    return {
        "sizes": [2, 2, 2],
        "weights": [[[0.3, -0.2], [0.1, 0.4]], [[0.9, 0.2], [-0.3, 0.7]]],
        "biases": [[0.0, 0.1], [0.05, -0.1]],
        "activations": ["tanh", "linear"],
        "cost": "quadratic",
        "x": [[0.5, -1.0], [1.0, 2.0]],
        "y": [[1.0, 0.0], [0.0, 1.0]],
        "feedback": feedback,
        **more,
    }


def _by_hand(req: dict[str, Any], back: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """δ^2 and ∂C/∂w^2 for BP2 through ``back`` ((n_2, n_3)), tanh then linear, quadratic."""
    w2, w3 = (np.array(w) for w in req["weights"])
    b2, b3 = (np.array(b) for b in req["biases"])
    x, y = np.array(req["x"]), np.array(req["y"])
    a2 = np.tanh(x @ w2.T + b2)
    d3 = a2 @ w3.T + b3 - y
    d2 = (d3 @ back.T) * (1 - a2**2)
    return d2, d2.T @ x / len(x)


def test_a_square_invertible_w_is_inverted(client: TestClient) -> None:
    req = _square("inverse")
    body = client.post("/api/backprop", json=req).json()
    w3 = np.array(req["weights"][1])
    d2, g2 = _by_hand(req, np.linalg.inv(w3))
    np.testing.assert_allclose(body["layers"][0]["delta"], d2, rtol=1e-12)
    np.testing.assert_allclose(body["layers"][0]["grad_w"], g2, rtol=1e-12)
    true_d2, true_g2 = _by_hand(req, w3.T)
    np.testing.assert_allclose(body["layers"][0]["true_delta"], true_d2, rtol=1e-12)
    np.testing.assert_allclose(body["layers"][0]["true_grad_w"], true_g2, rtol=1e-12)
    cos = float(np.sum(g2 * true_g2) / math.sqrt(np.sum(g2**2) * np.sum(true_g2**2)))
    assert body["layers"][0]["alignment"] == pytest.approx(cos, rel=1e-12)
    assert cos < 0.999  # the inverse is not the transpose here


def test_random_matrices_given_or_drawn_from_the_seed(client: TestClient) -> None:
    b = [[0.7, -1.1], [0.2, 0.5]]
    body = client.post("/api/backprop", json=_square("random", feedback_matrices=[b])).json()
    d2, _ = _by_hand(_square("random"), np.array(b))
    np.testing.assert_allclose(body["layers"][0]["delta"], d2, rtol=1e-12)
    assert body["feedback_matrices"] == [b]
    # drawn: N(0, 1/n_l) from child 3 of the seed's SeedSequence (docs/api.md)
    child = np.random.SeedSequence(7).spawn(4)[3]
    want = np.random.default_rng(child).standard_normal((2, 2)) / np.sqrt(2)
    seven = client.post("/api/backprop", json=_square("random", seed=7)).json()
    np.testing.assert_array_equal(seven["feedback_matrices"][0], want)
    again = client.post("/api/backprop", json=_square("random", seed=7)).json()
    assert again == seven
    default = client.post("/api/backprop", json=_square("random")).json()
    one = client.post("/api/backprop", json=_square("random", seed=1)).json()
    assert default == one != seven


def test_the_transpose_answer_is_unchanged(client: TestClient) -> None:
    plain = client.post("/api/backprop", json=HAND).json()
    said = client.post("/api/backprop", json={**HAND, "feedback": "transpose"}).json()
    assert plain == said
    assert "feedback_matrices" not in plain
    assert all("true_delta" not in layer for layer in plain["layers"])


def _issue(client: TestClient, **changes: Any) -> dict[str, Any]:
    r = client.post("/api/backprop", json={**_square("random"), **changes})
    assert r.status_code == 422, r.text
    issue: dict[str, Any] = r.json()["detail"][0]
    return issue


def test_bad_rule_fields_name_themselves(client: TestClient) -> None:
    issue = _issue(client, feedback="inverse", feedback_matrices=[[[1.0, 0.0], [0.0, 1.0]]])
    assert issue["loc"] == ["body", "feedback_matrices"] and "random" in issue["msg"]
    assert _issue(client, feedback="transpose", seed=3)["loc"] == ["body", "seed"]
    assert _issue(client, feedback_matrices=[])["loc"] == ["body", "feedback_matrices"]
    issue = _issue(client, feedback_matrices=[[[1.0, 0.0]]])
    assert issue["loc"] == ["body", "feedback_matrices", 0] and "2 rows" in issue["msg"]
    issue = _issue(client, feedback_matrices=[[[1.0], [0.0]]])
    assert issue["loc"] == ["body", "feedback_matrices", 0, 0] and "2 entries" in issue["msg"]
    issue = _issue(client, feedback_matrices=[[[1.0, 0.0], [0.0, 1.0]]], seed=2)
    assert issue["loc"] == ["body", "seed"]
    assert _issue(client, feedback="pinv")["loc"] == ["body", "feedback"]
    assert _issue(client, seed=-1)["loc"] == ["body", "seed"]


def _numbers(v: Any) -> int:
    if isinstance(v, dict):
        return sum(_numbers(x) for k, x in v.items() if k not in ("l", "cost"))
    if isinstance(v, list):
        return sum(_numbers(x) for x in v)
    return 1 if isinstance(v, float | int) and not isinstance(v, bool) else 0


def test_a_rule_answer_counts_against_max_response_values() -> None:
    """The cap counts what a rule adds (true δ and gradients, alignments, matrices)."""
    req = _square("inverse", learning_rate=0.1)
    with client_for() as c:
        body = c.post("/api/backprop", json=req).json()
    sent = _numbers(body)
    with client_for(max_response_values=sent) as c:
        assert c.post("/api/backprop", json=req).status_code == 200
    with client_for(max_response_values=sent - 1) as c:
        r = c.post("/api/backprop", json=req)
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "x"]
        assert c.post("/api/backprop", json={**req, "feedback": "transpose"}).status_code == 200
