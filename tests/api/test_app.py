"""The app factory, settings, /healthz, /api/options, presets and the OpenAPI document."""

from __future__ import annotations

import typing

import pytest

from app.api import models
from app.api.presets import PresetError, parse_preset
from app.core.activations import ACTIVATIONS
from app.core.costs import COSTS
from app.core.datasets import DATASETS, FEATURES
from app.core.init import INITS
from app.core.regularisers import REGULARISERS
from app.main import create_app
from app.settings import Settings, settings_from_env
from tests.api.conftest import TestClient, client_for


def test_healthz(client: TestClient) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


def test_options_list_every_choice_and_limit(client: TestClient) -> None:
    o = client.get("/api/options").json()
    assert set(o["activations"]["output"]) == set(ACTIVATIONS)
    assert "softmax" not in o["activations"]["hidden"]
    assert o["costs"] == {name: list(c.outputs) for name, c in COSTS.items()}
    assert o["inits"] == list(INITS) and o["regularisers"] == list(REGULARISERS)
    assert [d["name"] for d in o["datasets"]] == list(DATASETS)
    assert [f["name"] for f in o["features"]] == list(FEATURES)
    limits = o["limits"]
    assert (limits["max_layers"], limits["max_width"], limits["max_fps"]) == (6, 8, 30.0)
    assert limits["lambda"] == [0.0, 10.0] and limits["steps_per_frame"] == [1, 100_000]
    assert o["default_config"]["hidden"] == [4, 2]


def test_model_literals_match_the_core_tables() -> None:
    assert set(typing.get_args(models.ActivationName)) == set(ACTIVATIONS)
    assert set(typing.get_args(models.CostName)) == set(COSTS)
    assert set(typing.get_args(models.InitName)) == set(INITS)
    assert set(typing.get_args(models.RegulariserName)) == set(REGULARISERS)
    assert set(typing.get_args(models.DatasetName)) == {*DATASETS, "csv"}
    assert set(typing.get_args(models.FeatureName)) == set(FEATURES)


def test_settings_come_from_bpv_variables() -> None:
    s = settings_from_env({"BPV_MAX_RUNS": "7", "BPV_ALLOWED_ORIGINS": "http://a:1, http://b"})
    assert s.max_runs == 7 and s.allowed_origins == ("http://a:1", "http://b")
    with pytest.raises(ValueError, match="BPV_MAX_RUNS"):
        settings_from_env({"BPV_MAX_RUNS": "many"})


def test_limits_follow_the_settings() -> None:
    with client_for(max_width=5, max_layers=2, max_digits_width=7) as c:
        limits = c.get("/api/options").json()["limits"]
        assert (limits["max_width"], limits["max_layers"]) == (5, 2)
        assert limits["max_digits_width"] == 7
        schema = c.get("/openapi.json").json()["components"]["schemas"]
        hidden = next(v for k, v in schema.items() if k.startswith("RunConfig"))["properties"][
            "hidden"
        ]
        # the widest layer any data set allows: the digits' 7 (the 2-D sets' 5 at run time)
        assert hidden["maxItems"] == 2 and hidden["items"]["maximum"] == 7


def test_options_list_the_caps_a_script_runs_into() -> None:
    """docs/api.md said "the caps are in /api/options", but the per-client run cap, the
    memory caps and /api/backprop's answer size were not there; a script reads them and
    meets them where it reads."""
    caps = {
        "max_runs_per_client": 2,
        "run_memory_mb": 20.0,
        "client_memory_mb": 50.0,
        "memory_mb": 300.0,
        "max_response_values": 1_000,
    }
    with client_for(**caps) as c:
        limits = c.get("/api/options").json()["limits"]
        assert {k: limits[k] for k in caps} == caps
        for _ in range(limits["max_runs_per_client"]):
            assert c.post("/api/runs", json={}).status_code == 201
        assert c.post("/api/runs", json={}).status_code == 429
        body = {
            "sizes": [2, 1],
            "weights": [[[0.1, 0.2]]],
            "biases": [[0.0]],
            "activations": ["sigmoid"],
            "cost": "quadratic",
            "x": [[1.0, 0.5]] * 300,  # 300 × (1 cost + 4 z, a, δ, σ′ + 2 contributions)
            "y": [[1.0]] * 300,
        }
        r = c.post("/api/backprop", json=body)
        assert r.status_code == 422
        assert f"at most {limits['max_response_values']} (max_response_values)" in r.text


def test_a_preset_is_the_default_experiment() -> None:
    preset = "dataset=xor&hidden=4,4&learning_rate=0.1&lambda=0.01&regulariser=l2&hide=lr"
    with client_for(preset=preset) as c:
        default = c.get("/api/options").json()["default_config"]
        assert default["dataset"] == "xor" and default["hidden"] == [4, 4]
        assert default["learning_rate"] == 0.1 and default["lambda"] == 0.01
        info = c.post("/api/runs", json={"hidden": [3]}).json()
        assert info["config"]["dataset"] == "xor" and info["sizes"] == [2, 3, 1]


@pytest.mark.parametrize(
    ("preset", "message"),
    [
        ("hidden=4,40", "max_width"),
        ("learning_rate=fast", "learning_rate"),
        ("dataset=mnist", "dataset"),
        ("cost=cross_entropy&output_activation=tanh", "cost"),
        ("noise=NaN", "noise"),
    ],
)
def test_a_bad_preset_fails_at_startup(preset: str, message: str) -> None:
    with pytest.raises(PresetError, match=message):
        create_app(Settings(preset=preset))


def test_preset_parsing_details() -> None:
    s = Settings()
    assert parse_preset("", s).hidden == [4, 2]
    assert parse_preset("#hidden=", s).hidden == []
    assert parse_preset("cost=null&features=x1,x2,x1x2", s).features == ["x1", "x2", "x1x2"]


def test_openapi_declares_every_error_status(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    for path, item in doc["paths"].items():
        for method, op in item.items():
            codes = set(op["responses"])
            if "{run_id}" in path:
                assert {"404", "422"} <= codes, (method, path)
            if method in ("post", "patch") and path != "/api/runs/{run_id}/reset":
                assert {"413", "422"} <= codes, (method, path)
    assert "429" in doc["paths"]["/api/runs"]["post"]["responses"]
    assert "409" in doc["paths"]["/api/runs/{run_id}/step"]["post"]["responses"]
    assert "Frame" in doc["components"]["schemas"]


def test_stats_counts_runs_and_playing_streams(client: TestClient) -> None:
    before = client.get("/api/stats").json()
    assert before["playing"] == 0 and before["max_runs"] >= 1
    # Nobody playing: the cap, and a whole frame interval (of the CPU share) to train.
    assert before["fps"] == 30 and before["training_ms"] == pytest.approx(1e3 * 0.95 / 30, 0.01)
    run_id = client.post("/api/runs", json={}).json()["id"]
    after = client.get("/api/stats").json()
    assert after["runs"] == before["runs"] + 1
    client.delete(f"/api/runs/{run_id}")
    assert client.get("/api/stats").json()["runs"] == before["runs"]


def test_a_server_reached_on_a_network_address_answers_ip_hosts_only() -> None:
    """The Docker image: students type the teacher's IP address; a rebinding page's domain
    name is still refused (app/api/edge.py). The scope's server address is the socket's."""
    app = create_app(Settings())
    with TestClient(app, base_url="http://192.168.1.20:8000") as c:
        assert c.get("/healthz").status_code == 200  # Host: 192.168.1.20:8000
        assert c.get("/healthz", headers={"Host": "[fe80::1]:8000"}).status_code == 200
        assert c.get("/healthz", headers={"Host": "localhost:8000"}).status_code == 200
        r = c.get("/healthz", headers={"Host": "evil.example:8000"})
        assert r.status_code == 400 and "BPV_ALLOWED_HOSTS" in r.json()["detail"]
        assert c.get("/healthz", headers={"Host": "bad host"}).status_code == 400
    with TestClient(app, base_url="http://127.0.0.1:8000") as c:
        assert c.get("/healthz", headers={"Host": "192.168.1.20:8000"}).status_code == 400
    with TestClient(create_app(Settings(allowed_hosts=("*",))), base_url="http://127.0.0.1") as c:
        assert c.get("/healthz", headers={"Host": "anything.example"}).status_code == 200


def test_state_changing_requests_need_json_and_their_own_origin() -> None:
    with TestClient(create_app(Settings()), base_url="http://127.0.0.1:8000") as c:
        r = c.post("/api/runs")
        assert r.status_code == 415 and "application/json" in r.json()["detail"]
        r = c.post("/api/runs", content=b"{}", headers={"Content-Type": "text/plain"})
        assert r.status_code == 415
        r = c.post("/api/runs", json={}, headers={"Origin": "http://evil.example"})
        assert r.status_code == 403 and "Origin" in r.json()["detail"]
        r = c.post("/api/runs", json={}, headers={"Origin": "http://127.0.0.1:8001"})
        assert r.status_code == 403  # another port is another site
        r = c.post("/api/runs", json={}, headers={"Origin": "http://127.0.0.1:8000"})
        assert r.status_code == 201
        run_id = r.json()["id"]
        json_type = {"Content-Type": "application/json; charset=utf-8"}
        assert c.delete(f"/api/runs/{run_id}", headers=json_type).status_code == 204
        # A method the path does not take is 405 whatever the content type.
        r = c.put("/api/runs")
        assert r.status_code == 405 and "POST" in r.headers["Allow"]


def test_the_openapi_document_lists_the_edge_answers(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    post = doc["paths"]["/api/runs"]["post"]["responses"]
    assert {"400", "403", "415"} <= set(post)
    assert "415" not in doc["paths"]["/api/options"]["get"]["responses"]
