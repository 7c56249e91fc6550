"""Runs trained under a feedback rule, through the REST API: a fair comparison (same
seed and settings: same initial weights, same batches), the rules listed with what they
are, the transpose unchanged, and a rule that blows up reported as diverged."""

from __future__ import annotations

from typing import Any

import numpy as np

from app.core import feedback
from tests.api.conftest import TestClient

BASE: dict[str, Any] = {"seed": 7, "hidden": [5, 3], "batch_size": 9, "probe": 3}


def _create(client: TestClient, **changes: Any) -> str:
    r = client.post("/api/runs", json={**BASE, **changes})
    assert r.status_code == 201, r.text
    rid: str = r.json()["id"]
    return rid


def _frame(client: TestClient, rid: str) -> dict[str, Any]:
    r = client.get(f"/api/runs/{rid}/frame")
    assert r.status_code == 200
    out: dict[str, Any] = r.json()
    return out


def test_options_list_the_rules_with_what_they_are(client: TestClient) -> None:
    opts = client.get("/api/options").json()
    assert opts["feedback"] == ["transpose", "inverse", "random"]
    about = opts["about"]["feedback"]
    assert set(about) == set(opts["feedback"])
    assert [n for n in about if about[n]["exact"]] == ["transpose"]
    assert "pseudo-inverse" in about["inverse"]["about"] and "seed" in about["random"]["about"]
    assert opts["default_config"]["feedback"] == "transpose"


def test_same_seed_and_settings_start_alike_and_see_the_same_batches(
    client: TestClient,
) -> None:
    ids = {name: _create(client, feedback=name) for name in ("transpose", "inverse", "random")}
    data = {n: client.get(f"/api/runs/{rid}/data").json() for n, rid in ids.items()}
    first = {n: _frame(client, rid) for n, rid in ids.items()}
    for name in ("inverse", "random"):
        assert data[name] == data["transpose"]
        for got, want in zip(first[name]["layers"], first["transpose"]["layers"], strict=True):
            assert got["w"] == want["w"] and got["b"] == want["b"]
        # the next batch: its mean input, and the probe (not input.backward: the rule's δ²)
        for key in ("a", "mean_a"):
            assert first[name]["input"][key] == first["transpose"]["input"][key]
        assert first[name]["probe"] == first["transpose"]["probe"]
    # 40 steps later (a short last batch and a reshuffle on the way): the same batches
    for rid in ids.values():
        r = client.post(f"/api/runs/{rid}/step", json={"steps": 40})
        assert r.headers["X-Steps-Done"] == "40"
    later = {n: _frame(client, rid) for n, rid in ids.items()}
    for name in ("inverse", "random"):
        assert later[name]["input"]["mean_a"] == later["transpose"]["input"]["mean_a"]
        assert later[name]["epoch"] == later["transpose"]["epoch"]
        # and the rule mattered: the first layer's weights went elsewhere
        w, w_t = (np.array(later[n]["layers"][0]["w"]) for n in (name, "transpose"))
        assert np.max(np.abs(w - w_t)) > 1e-3


def test_the_transpose_said_aloud_is_the_ordinary_run(client: TestClient) -> None:
    plain, said = _create(client), _create(client, feedback="transpose")
    frames = []
    for rid in (plain, said):
        client.post(f"/api/runs/{rid}/step", json={"steps": 30})
        f = _frame(client, rid)
        del f["run_id"], f["t"]
        frames.append(f)
    assert frames[0] == frames[1]
    for layer in frames[0]["layers"]:
        assert layer["alignment"] == 1.0 and "true_grad_w" not in layer


def test_a_rule_frame_carries_the_true_gradient_and_alignment(client: TestClient) -> None:
    rid = _create(client, feedback="random")
    client.post(f"/api/runs/{rid}/step", json={"steps": 20})
    layers = _frame(client, rid)["layers"]
    for layer in layers:
        assert np.shape(layer["true_grad_w"]) == np.shape(layer["grad_w"])
        assert len(layer["true_delta"]) == len(layer["delta"])
        assert -1.0 <= layer["alignment"] <= 1.0
    assert layers[-1]["true_grad_w"] == layers[-1]["grad_w"]  # BP1 is every rule's
    assert layers[0]["true_grad_w"] != layers[0]["grad_w"]


def test_changing_the_rule_restarts_from_the_same_weights(client: TestClient) -> None:
    rid = _create(client)
    w0 = _frame(client, rid)["layers"][0]["w"]
    client.post(f"/api/runs/{rid}/step", json={"steps": 25})
    info = client.patch(f"/api/runs/{rid}", json={"feedback": "inverse"}).json()
    assert info["config"]["feedback"] == "inverse" and info["step"] == 0
    assert _frame(client, rid)["layers"][0]["w"] == w0
    assert client.get(f"/api/runs/{rid}").json()["config"]["feedback"] == "inverse"


def test_an_unknown_rule_is_refused_naming_the_field(client: TestClient) -> None:
    r = client.post("/api/runs", json={"feedback": "pinv"})
    assert r.status_code == 422
    issue = r.json()["detail"][0]
    assert issue["loc"][-1] == "feedback"
    assert all(name in issue["msg"] for name in feedback.NAMES)
    rid = _create(client)
    r = client.patch(f"/api/runs/{rid}", json={"feedback": None})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "feedback"


def test_a_blown_up_inverse_run_says_diverged_with_numbers_only(client: TestClient) -> None:
    rid = _create(
        client,
        dataset="plane",
        hidden=[8, 3],
        hidden_activation="relu",
        feedback="inverse",
        learning_rate=10.0,
    )
    r = client.post(f"/api/runs/{rid}/step", json={"steps": 3000})
    assert r.headers["X-Stopped-By"] == "diverged"
    for text in (r.text, client.get(f"/api/runs/{rid}/frame").text):
        assert "NaN" not in text and "Infinity" not in text
    assert r.json()["status"] == "diverged"
    r = client.post(f"/api/runs/{rid}/step", json={"steps": 1})
    assert r.status_code == 409  # as any diverged run: reset it or lower η
