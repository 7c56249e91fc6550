"""The registries (app/core/activations.py, costs.py, regularisers.py) as a client sees them:
the enums of the OpenAPI document, /api/options, and runs with swish and GELU that train and
stream frames whose σ' is the derivative of the activation."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import TestClient

Msg = dict[str, Any]

# Independent of the app: the textbook formulas (GELU through erfc, the app uses erf).
SIGMA = {
    "swish": lambda z: z / (1.0 + math.exp(-z)),
    "gelu": lambda z: z * 0.5 * math.erfc(-z / math.sqrt(2.0)),
}


def test_openapi_enums_offer_swish_and_gelu(client: TestClient) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    props = schemas["RunConfig"]["properties"]
    hidden = props["hidden_activation"]["enum"]
    assert {"swish", "gelu"} <= set(hidden) and "softmax" not in hidden
    output = next(s["enum"] for s in props["output_activation"]["anyOf"] if "enum" in s)
    assert {"swish", "gelu", "softmax"} <= set(output)
    assert set(props["regulariser"]["enum"]) == {"none", "l1", "l2"}


def test_options_say_what_each_choice_is_called(client: TestClient) -> None:
    o = client.get("/api/options").json()
    about = o["about"]
    assert set(about["activations"]) == set(o["activations"]["output"])
    assert set(o["activations"]["hidden"]) < set(about["activations"])
    labels = {name: a["label"] for name, a in about["activations"].items()}
    assert labels["relu"] == "ReLU" and labels["leaky_relu"] == "leaky ReLU"
    assert labels["gelu"] == "GELU" and labels["swish"] == "swish"
    # what the page's equations rest on
    assert about["activations"]["tanh"]["prime_from_a"] == ["1", "−", "a", "·", "a"]
    assert about["activations"]["sigmoid"]["bounds"] == [0.0, 1.0]
    assert about["activations"]["sigmoid"]["cut"] == 0.5
    assert not about["activations"]["softmax"]["elementwise"]
    assert about["costs"]["cross_entropy"]["label"] == "cross-entropy"
    assert about["costs"]["cross_entropy"]["cancels_on"] == "sigmoid"
    assert about["costs"]["quadratic"]["cancels_on"] is None
    assert {r["label"] for r in about["regularisers"].values()} == {"None", "L1", "L2"}
    # every output a kind offers is described
    for kind in o["kinds"].values():
        assert set(kind["outputs"]) <= set(about["activations"])


# The textbook costs C_x(a) and penalties r(w) (Nielsen ch. 2 and 3), written here apart from
# app/core: the formulas /api/options serves for their gradients must be their derivatives.
COST_OF_A = {
    "quadratic": lambda a, y: 0.5 * sum((yi - ai) ** 2 for ai, yi in zip(a, y, strict=True)),
    "cross_entropy": lambda a, y: (
        -sum(yi * math.log(ai) + (1 - yi) * math.log(1 - ai) for ai, yi in zip(a, y, strict=True))
    ),
    "log_likelihood": lambda a, y: -sum(yi * math.log(ai) for ai, yi in zip(a, y, strict=True)),
}
PENALTY = {"l2": lambda w: 0.5 * w * w, "l1": abs}
TOKENS = {"a", "y", "w", "1", "+", "−", "·", "/", "(", ")", "sgn"}


def evaluate(tokens: list[str], **values: float) -> float:
    """A served formula's value: its tokens read as Python arithmetic."""
    assert set(tokens) <= TOKENS, tokens
    py = {"−": "-", "·": "*"}
    text = " ".join(py.get(t, t) for t in tokens)
    sign = lambda v: float((v > 0) - (v < 0))  # noqa: E731
    return float(eval(text, {"__builtins__": {}}, {"sgn": sign, **values}))


def test_options_give_each_costs_gradient_as_a_formula(client: TestClient) -> None:
    """BP1's ∂C/∂a on the page is written from costs[*].grad_a: at sample outputs it is the
    central difference of the textbook C_x in a_j (the other outputs held)."""
    costs = client.get("/api/options").json()["about"]["costs"]
    assert set(costs) == set(COST_OF_A)
    a = [0.2, 0.55, 0.9]
    for y in ([0.0, 1.0, 0.0], [1.0, 0.0, 1.0], [0.3, 0.6, 0.1]):
        for name, c in costs.items():
            assert c["grad_a"] is not None, name
            for j in range(3):
                h = 1e-6
                up, down = list(a), list(a)
                up[j] += h
                down[j] -= h
                slope = (COST_OF_A[name](up, y) - COST_OF_A[name](down, y)) / (2 * h)
                got = evaluate(c["grad_a"], a=a[j], y=y[j])
                assert got == pytest.approx(slope, rel=1e-6, abs=1e-8), (name, y, j)


def test_options_give_each_regularisers_gradient_as_a_formula(client: TestClient) -> None:
    """The update's λ/n·r'(w) is written from regularisers[*].grad_w: the derivative of the
    textbook penalty (away from L1's kink); no regulariser, no formula."""
    regs = client.get("/api/options").json()["about"]["regularisers"]
    assert regs["none"]["grad_w"] is None
    assert set(regs) - {"none"} == set(PENALTY)
    for name, fn in PENALTY.items():
        for w in (-1.7, -0.02, 0.3, 4.0):
            h = 1e-6
            slope = (fn(w + h) - fn(w - h)) / (2 * h)
            assert evaluate(regs[name]["grad_w"], w=w) == pytest.approx(slope, rel=1e-6), name


def next_frame(ws: Any, limit: int = 50) -> Msg:
    for _ in range(limit):
        msg: Msg = ws.receive_json()
        if msg["type"] == "frame":
            return msg
    raise AssertionError(f"no frame in {limit} messages")


def central_difference(name: str, z: float, eps: float = 1e-6) -> float:
    f = SIGMA[name]
    return (f(z + eps) - f(z - eps)) / (2 * eps)


@pytest.mark.parametrize("name", ["swish", "gelu"])
def test_a_run_with_swish_or_gelu_trains_and_streams_true_sigma_prime(
    client: TestClient, name: str
) -> None:
    config = {"hidden_activation": name, "hidden": [4, 3], "learning_rate": 0.1, "seed": 3}
    r = client.post("/api/runs", json=config)
    assert r.status_code == 201, r.text
    run_id = r.json()["id"]
    with client.websocket_connect(f"/api/runs/{run_id}/stream") as ws:
        first = next_frame(ws)
        assert first["activations"] == [name, name, "tanh"]
        ws.send_json({"type": "step", "steps": 400})
        later = next_frame(ws)
        while later["step"] < 400:
            later = next_frame(ws)
        assert later["train"]["cost"] < 0.8 * first["train"]["cost"]  # it learns
        # Every hidden neuron's σ', unrounded (explain) and as drawn (4 digits), against
        # central differences of the textbook σ at the same z.
        for l, n in ((2, 4), (3, 3)):  # noqa: E741
            for j in range(n):
                ws.send_json({"type": "select", "l": l, "j": j})
                f = next_frame(ws)
                while not (f["explain"] and (f["explain"]["l"], f["explain"]["j"]) == (l, j)):
                    f = next_frame(ws)
                probe = f["explain"]["probe"]
                assert probe["a"] == pytest.approx(SIGMA[name](probe["z"]), rel=1e-13, abs=1e-15)
                want = central_difference(name, probe["z"])
                assert probe["sigma_prime"] == pytest.approx(want, rel=1e-7, abs=1e-9)
                for row in f["explain"]["batch"]["rows"]:
                    want = central_difference(name, row["z"])
                    assert row["sigma_prime"] == pytest.approx(want, rel=1e-7, abs=1e-9)
                drawn = f["layers"][l - 2]["sigma_prime"][j]
                assert float(f"{drawn:.4g}") == drawn  # 4 significant digits on the wire
                assert drawn == pytest.approx(probe["sigma_prime"], rel=5e-4, abs=1e-12)


def test_the_js_tests_copy_of_about_is_the_servers(client: TestClient) -> None:
    """tests/js/*.test.mjs learn the choices from this file, as the page does from the server;
    regenerate it with ``python -c "import json; from app.api.options import about;
    print(json.dumps(about(), ensure_ascii=False, indent=1))" > tests/js/about.json``."""
    copy = json.loads((Path(__file__).resolve().parents[1] / "js" / "about.json").read_text())
    assert copy == client.get("/api/options").json()["about"]
