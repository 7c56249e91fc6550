"""POST /api/backprop: exact float64 against the core, and against a hand-worked example."""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pytest

from app.core.network import Network, backprop
from tests.api.conftest import TestClient

HAND = {
    "sizes": [2, 2, 1],
    "weights": [[[0.1, 0.2], [0.3, 0.4]], [[0.5, 0.6]]],
    "biases": [[0.1, 0.1], [0.2]],
    "activations": ["sigmoid", "sigmoid"],
    "cost": "quadratic",
    "x": [[1.0, 0.5]],
    "y": [[1.0]],
    "learning_rate": 0.5,
}


def sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def test_hand_worked_example(client: TestClient) -> None:
    """BP1-BP4 written out with scalars, as a student would on paper."""
    r = client.post("/api/backprop", json=HAND)
    assert r.status_code == 200
    body = r.json()
    z2 = [0.1 * 1.0 + 0.2 * 0.5 + 0.1, 0.3 * 1.0 + 0.4 * 0.5 + 0.1]  # 0.3, 0.6
    a2 = [sigmoid(z) for z in z2]
    z3 = 0.5 * a2[0] + 0.6 * a2[1] + 0.2
    a3 = sigmoid(z3)
    d3 = (a3 - 1.0) * a3 * (1.0 - a3)  # BP1: (a − y) σ'(z)
    d2 = [a2[k] * (1 - a2[k]) * [0.5, 0.6][k] * d3 for k in range(2)]  # BP2
    approx = lambda v: pytest.approx(v, rel=1e-12)  # noqa: E731
    assert body["cost"] == approx(0.5 * (1.0 - a3) ** 2)
    hidden, out = body["layers"]
    assert hidden["l"] == 2 and out["l"] == 3
    assert hidden["z"] == [approx(z2)] and hidden["a"] == [approx(a2)]
    assert out["a"] == [approx([a3])] and out["delta"] == [approx([d3])]
    assert hidden["delta"] == [approx(d2)]
    assert out["grad_w"] == [approx([d3 * a2[0], d3 * a2[1]])]  # BP4: a_k δ_j
    assert out["grad_b"] == approx([d3])  # BP3
    assert hidden["grad_w"] == [approx([d2[0] * 1.0, d2[0] * 0.5]), approx([d2[1], d2[1] * 0.5])]
    # backward contribution w_jk δ_j, and BP2 from it: Σ_j w_jk δ_j · σ'(z_k) = δ_k
    back = out["backward_contribution"][0]
    assert back == [approx([0.5 * d3, 0.6 * d3])]
    assert [back[0][k] * hidden["sigma_prime"][0][k] for k in range(2)] == approx(d2)
    new_w3 = body["updated"]["weights"][1]
    assert new_w3 == [approx([0.5 - 0.5 * d3 * a2[0], 0.6 - 0.5 * d3 * a2[1]])]


def _random_request(rng: np.random.Generator) -> dict[str, Any]:
    sizes = [int(rng.integers(1, 5)) for _ in range(int(rng.integers(2, 5)))]
    hidden = [str(rng.choice(["tanh", "sigmoid", "relu", "leaky_relu", "linear"]))] * (
        len(sizes) - 2
    )
    out, cost = [
        ("sigmoid", "cross_entropy"),
        ("tanh", "quadratic"),
        ("linear", "quadratic"),
        ("softmax", "log_likelihood"),
    ][int(rng.integers(4))]
    if out == "softmax":
        sizes[-1] = max(2, sizes[-1])
    m = int(rng.integers(1, 6))
    y = rng.uniform(0, 1, (m, sizes[-1]))
    if out == "softmax":
        y = np.eye(sizes[-1])[rng.integers(sizes[-1], size=m)]
    return {
        "sizes": sizes,
        "weights": [
            rng.normal(size=(n, k)).tolist() for n, k in zip(sizes[1:], sizes[:-1], strict=True)
        ],
        "biases": [rng.normal(size=n).tolist() for n in sizes[1:]],
        "activations": [*hidden, out],
        "cost": cost,
        "x": rng.normal(size=(m, sizes[0])).tolist(),
        "y": y.tolist(),
        "regulariser": str(rng.choice(["none", "l1", "l2"])),
        "lambda": float(rng.uniform(0, 2)),
        "n": int(rng.integers(m, 100)),
        "learning_rate": float(rng.uniform(0, 1)),
    }


@pytest.mark.parametrize("seed", range(20))
def test_exactly_the_core_on_random_networks(client: TestClient, seed: int) -> None:
    req = _random_request(np.random.default_rng(seed))
    body = client.post("/api/backprop", json=req).json()
    net = Network(req["sizes"], req["weights"], req["biases"], req["activations"])
    t = backprop(
        net,
        req["cost"],
        np.array(req["x"]),
        np.array(req["y"]),
        req["regulariser"],
        req["lambda"],
        req["n"],
    )
    assert body["cost"] == t.cost  # bit for bit: float64, shortest round-trip repr
    assert body["cost_x"] == t.cost_x.tolist()
    eta = req["learning_rate"]
    for i, layer in enumerate(body["layers"]):
        assert layer["z"] == t.z[i].tolist()
        assert layer["a"] == t.a[i + 1].tolist()
        assert layer["delta"] == t.delta[i].tolist()
        assert layer["sigma_prime"] == t.sigma_prime[i].tolist()
        assert layer["grad_w"] == t.grad_w[i].tolist()
        assert layer["grad_b"] == t.grad_b[i].tolist()
        want = (net.weights[i][None] * t.delta[i][:, :, None]).tolist()
        assert layer["backward_contribution"] == want
        assert body["updated"]["weights"][i] == (net.weights[i] - eta * t.grad_w[i]).tolist()
        assert body["updated"]["biases"][i] == (net.biases[i] - eta * t.grad_b[i]).tolist()


def test_no_learning_rate_no_update(client: TestClient) -> None:
    req = {k: v for k, v in HAND.items() if k != "learning_rate"}
    assert client.post("/api/backprop", json=req).json()["updated"] is None


def _bad(client: TestClient, **changes: Any) -> dict[str, Any]:
    r = client.post("/api/backprop", json={**HAND, **changes})
    assert r.status_code == 422, r.text
    issue: dict[str, Any] = r.json()["detail"][0]
    return issue


def test_shape_errors_name_the_field(client: TestClient) -> None:
    assert _bad(client, weights=[[[0.1, 0.2]], [[0.5, 0.6]]])["loc"] == ["body", "weights", 0]
    assert _bad(client, weights=[[[0.1], [0.3]], [[0.5, 0.6]]])["loc"] == ["body", "weights", 0, 0]
    assert _bad(client, biases=[[0.1], [0.2]])["loc"] == ["body", "biases", 0]
    assert _bad(client, activations=["sigmoid"])["loc"] == ["body", "activations"]
    assert _bad(client, x=[[1.0]])["loc"] == ["body", "x", 0]
    assert _bad(client, y=[[1.0], [0.0]])["loc"] == ["body", "y"]
    assert _bad(client, activations=["softmax", "sigmoid"])["loc"] == ["body", "activations", 0]
    assert _bad(client, cost="log_likelihood")["loc"] == ["body", "cost"]


def test_caps(client: TestClient) -> None:
    issue = _bad(client, sizes=[2, 9, 1])
    assert issue["loc"] == ["body", "sizes", 1] and "max_width" in issue["msg"]
    assert "max_layers" in _bad(client, sizes=[2, 1, 1, 1, 1, 1, 1, 1, 1])["msg"]
    assert "max_batch" in _bad(client, x=[[1.0, 0.5]] * 513, y=[[1.0]] * 513)["msg"]


def _largest(m: int) -> dict[str, Any]:
    """The widest network the default caps allow (64 inputs, 6 x 8 hidden, 16 outputs)."""
    rng = np.random.default_rng(0)
    sizes = [64, 8, 8, 8, 8, 8, 8, 16]
    return {
        "sizes": sizes,
        "weights": [rng.normal(size=(b, a)).tolist() for a, b in itertools.pairwise(sizes)],
        "biases": [rng.normal(size=b).tolist() for b in sizes[1:]],
        "activations": ["sigmoid"] * 7,
        "cost": "quadratic",
        "x": rng.normal(size=(m, 64)).tolist(),
        "y": rng.uniform(size=(m, 16)).tolist(),
        "learning_rate": 0.1,
    }


def test_the_answer_is_capped_relative_to_max_response_values(client: TestClient) -> None:
    """Reported: a 155 KB request answered with 14 MB. Now every answer holds at most
    max_response_values numbers, each at most 26 bytes of JSON."""
    cap = 200_000
    sizes = _largest(1)["sizes"]
    weights = sum(a * b for a, b in itertools.pairwise(sizes))  # 960
    params = weights + sum(sizes[1:])  # gradients, and the parameters after the step
    per_example = weights + 4 * sum(sizes[1:]) + 1  # contributions, z, a, δ, σ', C_x
    fits = (cap - 2 * params) // per_example
    r = client.post("/api/backprop", json=_largest(fits))
    assert r.status_code == 200
    body = r.json()
    counted = sum(np.size(v) for v in (body["cost_x"],))
    for layer in body["layers"]:
        counted += sum(np.size(layer[k]) for k in layer if k != "l")
    counted += sum(np.size(w) for w in body["updated"]["weights"])
    counted += sum(np.size(b) for b in body["updated"]["biases"])
    assert counted <= cap
    assert len(r.content) <= 26 * cap
    r = client.post("/api/backprop", json=_largest(fits + 1))
    assert r.status_code == 422
    issue = r.json()["detail"][0]
    assert issue["loc"] == ["body", "x"]
    assert f"at most {cap} (max_response_values)" in issue["msg"]


def test_bad_json_and_bad_fields_are_422s_naming_the_field(client: TestClient) -> None:
    r = client.post("/api/backprop", content=b'{"sizes": [2, 2, 1], NaN}')
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body"]
    r = client.post("/api/backprop", json={**HAND, "sizes": [2, 0, 1]})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "sizes", 1]
    r = client.post("/api/backprop", json={**HAND, "surprise": 1})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "surprise"]


def test_overflow_is_a_422_not_nan(client: TestClient) -> None:
    issue = _bad(
        client,
        weights=[[[1e300, 1e300], [0.3, 0.4]], [[1e300, 0.6]]],
        activations=["linear", "linear"],
    )
    assert "not finite" in issue["msg"]
