"""The runs resource: every route and status."""

from __future__ import annotations

import time

import numpy as np
import pytest

from app.api.models import RunConfig
from tests.api.conftest import DIVERGING, TestClient, client_for

PLAYGROUND = {
    "dataset": "circle",
    "noise": 0.0,
    "train_share": 0.5,
    "seed": 1,
    "csv": None,
    "features": ["x1", "x2"],
    "hidden": [4, 2],
    "hidden_activation": "tanh",
    "output_activation": None,
    "cost": None,
    "init": "playground",
    "learning_rate": 0.03,
    "batch_size": 10,
    "regulariser": "none",
    "lambda": 0.0,
    "momentum": 0.0,
    "feedback": "transpose",
    "probe": 0,
}


def params(client: TestClient, rid: str) -> dict:
    """The run's weights and biases, exactly (its export's ``parameters``)."""
    return client.get(f"/api/runs/{rid}/export").json()["parameters"]


def test_empty_body_is_the_playground_default(client: TestClient) -> None:
    for body in ({}, None):
        r = client.post("/api/runs", json=body)
        assert r.status_code == 201
        info = r.json()
        assert info["config"] == PLAYGROUND
        assert info["status"] == "paused" and info["step"] == 0 and info["epoch"] == 0
        assert info["sizes"] == [2, 4, 2, 1] and info["kind"] == "classification"
        assert (info["n_train"], info["n_test"], info["steps_per_frame"]) == (250, 250, 10)
    assert RunConfig().model_dump(by_alias=True) == PLAYGROUND


def test_every_config_field_reads_back_as_sent(client: TestClient) -> None:
    """The wire's names (``lambda``) and values, every field away from its default, come
    back from POST and GET in the same order as the defaults; a PATCH of ``lambda`` alone
    changes λ alone, and the frame's hyper says so."""
    sent = {
        "dataset": "xor",
        "noise": 0.25,
        "train_share": 0.7,
        "seed": 9,
        "csv": None,
        "features": ["x1", "x2", "x1x2"],
        "hidden": [3, 5, 2],
        "hidden_activation": "relu",
        "output_activation": "sigmoid",
        "cost": "cross_entropy",
        "init": "xavier",
        "learning_rate": 0.3,
        "batch_size": 7,
        "regulariser": "l1",
        "lambda": 0.004,
        "momentum": 0.5,
        "feedback": "random",
        "probe": 11,
    }
    assert all(sent[k] != v for k, v in PLAYGROUND.items() if k != "csv")
    created = client.post("/api/runs", json=sent)
    assert created.status_code == 201
    rid = created.json()["id"]
    for info in (created.json(), client.get(f"/api/runs/{rid}").json()):
        assert list(info["config"]) == list(PLAYGROUND)
        assert info["config"] == sent
    info = client.patch(f"/api/runs/{rid}", json={"lambda": 0.25}).json()
    assert info["config"] == {**sent, "lambda": 0.25}
    assert client.get(f"/api/runs/{rid}/frame").json()["hyper"] == {
        "learning_rate": 0.3,
        "batch_size": 7,
        "regulariser": "l1",
        "lambda": 0.25,
        "momentum": 0.5,
    }


def test_read_and_frame(client: TestClient, run_id: str) -> None:
    assert client.get(f"/api/runs/{run_id}").json()["id"] == run_id
    frame = client.get(f"/api/runs/{run_id}/frame").json()
    assert frame["type"] == "frame" and frame["run_id"] == run_id and frame["grid"] is None
    assert frame["hyper"] == {
        "learning_rate": 0.03,
        "batch_size": 10,
        "regulariser": "none",
        "lambda": 0.0,
        "momentum": 0.0,
    }
    assert frame["cost_name"] == "quadratic" and frame["activations"] == ["tanh"] * 3
    grid = client.get(f"/api/runs/{run_id}/frame", params={"grid": "true"}).json()["grid"]
    assert np.shape(grid["output"]) == (64, 64) and np.shape(grid["neurons"]) == (6, 16, 16)


def test_unknown_run_is_404_everywhere(client: TestClient) -> None:
    for method, path in [
        ("get", ""),
        ("patch", ""),
        ("delete", ""),
        ("post", "/step"),
        ("post", "/reset"),
        ("post", "/probe"),
        ("get", "/frame"),
        ("get", "/data"),
        ("get", "/history"),
    ]:
        body = {"index": 0} if path == "/probe" else {}
        kwargs = {"json": body} if method in ("post", "patch") else {}
        r = getattr(client, method)(f"/api/runs/nosuchrun{path}", **kwargs)
        assert r.status_code == 404, (method, path)
        assert r.json() == {"detail": "no such run (it may have been evicted)"}
    assert client.get("/api/runs/bad%20id!").status_code == 422


def test_step_steps_and_epochs(client: TestClient, run_id: str) -> None:
    r = client.post(f"/api/runs/{run_id}/step", json={"steps": 30})
    assert r.status_code == 200 and r.json()["step"] == 30 and r.json()["grid"] is not None
    f = client.post(f"/api/runs/{run_id}/step", json={"epochs": 2}, params={"grid": "false"}).json()
    assert f["step"] == 30 + 2 * 25 and f["grid"] is None
    r = client.post(f"/api/runs/{run_id}/step")
    assert r.json()["step"] == 81
    assert r.headers["x-steps-done"] == "1" and r.headers["x-stopped-by"] == "steps"
    r = client.post(f"/api/runs/{run_id}/step", json={"steps": 1, "epochs": 1})
    assert r.status_code == 422
    r = client.post(f"/api/runs/{run_id}/step", json={"steps": 100_001})
    assert r.status_code == 422 and "max_steps_per_request" in r.text
    assert client.get(f"/api/runs/{run_id}").json()["step"] == 81


def test_training_lowers_the_cost(client: TestClient, run_id: str) -> None:
    before = client.get(f"/api/runs/{run_id}/frame").json()["train"]["cost"]
    after = client.post(f"/api/runs/{run_id}/step", json={"epochs": 60}).json()
    assert after["train"]["cost"] < before / 2 and after["train"]["accuracy"] > 0.9


def test_reset_gives_the_same_initial_weights(client: TestClient, run_id: str) -> None:
    w0 = client.get(f"/api/runs/{run_id}/frame").json()["layers"][0]["w"]
    client.post(f"/api/runs/{run_id}/step", json={"steps": 50})
    f = client.post(f"/api/runs/{run_id}/reset").json()
    assert f["step"] == 0 and f["layers"][0]["w"] == w0 and f["grid"] is not None
    assert f["history"]["step"] == [0]


def test_patch_keeps_or_rebuilds(client: TestClient, run_id: str) -> None:
    client.post(f"/api/runs/{run_id}/step", json={"steps": 20})
    w = client.get(f"/api/runs/{run_id}/frame").json()["layers"][0]["w"]
    info = client.patch(
        f"/api/runs/{run_id}",
        json={"learning_rate": 0.1, "batch_size": 5, "regulariser": "l2", "lambda": 0.001},
    ).json()
    assert info["step"] == 20 and info["config"]["learning_rate"] == 0.1
    frame = client.get(f"/api/runs/{run_id}/frame").json()
    assert frame["layers"][0]["w"] == w and frame["hyper"]["batch_size"] == 5
    info = client.patch(f"/api/runs/{run_id}", json={"hidden": [3]}).json()
    assert info["step"] == 0 and info["sizes"] == [2, 3, 1]
    assert info["config"]["learning_rate"] == 0.1  # earlier changes are kept
    r = client.patch(f"/api/runs/{run_id}", json={"hidden": [9]})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "hidden", 0]
    assert "max_width" in r.json()["detail"][0]["msg"]
    assert client.get(f"/api/runs/{run_id}").json()["sizes"] == [2, 3, 1]  # unchanged


def test_probe(client: TestClient, run_id: str) -> None:
    data = client.get(f"/api/runs/{run_id}/data").json()
    f = client.post(f"/api/runs/{run_id}/probe", json={"index": 17}).json()
    assert f["probe"]["index"] == 17
    assert np.allclose(f["probe"]["point"], data["train"]["points"][17], rtol=1e-3)
    r = client.post(f"/api/runs/{run_id}/probe", json={"index": 250})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "index"]
    assert client.get(f"/api/runs/{run_id}/frame").json()["probe"]["index"] == 17
    assert client.get(f"/api/runs/{run_id}").json()["config"]["probe"] == 17  # the run says so


def test_data_and_history(client: TestClient, run_id: str) -> None:
    data = client.get(f"/api/runs/{run_id}/data").json()
    assert data["kind"] == "classification" and data["n_classes"] == 2
    assert np.shape(data["train"]["points"]) == (250, 2) and len(data["test"]["labels"]) == 250
    assert set(data["train"]["labels"]) == {-1.0, 1.0}
    (x0, x1), (y0, y1) = data["extent"]
    assert x0 < -5 < 5 < x1 and y0 < -5 < 5 < y1
    for _ in range(3):
        client.post(f"/api/runs/{run_id}/step", json={"steps": 5})
    h = client.get(f"/api/runs/{run_id}/history").json()
    assert h["step"] == [5, 10, 15] and len(h["train_cost"]) == 3 and len(h["test_accuracy"]) == 3


def test_delete(client: TestClient, run_id: str) -> None:
    assert client.delete(f"/api/runs/{run_id}").status_code == 204
    assert client.get(f"/api/runs/{run_id}").status_code == 404
    assert client.delete(f"/api/runs/{run_id}").status_code == 404


def test_run_cap_is_429_with_retry_after() -> None:
    with client_for(max_runs=2, idle_timeout_s=120) as c:
        assert c.post("/api/runs", json={}).status_code == 201
        assert c.post("/api/runs", json={}).status_code == 201
        r = c.post("/api/runs", json={})
        assert r.status_code == 429
        assert 1 <= int(r.headers["retry-after"]) <= 120
        assert "full" in r.json()["detail"] and r.json()["reason"] == "server_full"


@pytest.mark.single_process(
    reason="with Redis an evicted run's checkpoint stays and it comes back on its next request"
)
def test_idle_runs_are_evicted() -> None:
    """Reading a run (GETs, however often) does not keep it alive; changing it does."""
    with client_for(idle_timeout_s=0.4) as c:
        rid = c.post("/api/runs", json={}).json()["id"]
        kept = c.post("/api/runs", json={}).json()["id"]
        t0 = time.monotonic()
        while c.get(f"/api/runs/{rid}").status_code == 200 and time.monotonic() < t0 + 5:
            for path in ("", "/frame", "/data", "/history"):
                c.get(f"/api/runs/{rid}{path}")
            assert c.post(f"/api/runs/{kept}/probe", json={"index": 1}).status_code == 200
            time.sleep(0.05)
        assert 0.4 <= time.monotonic() - t0 < 2.0
        assert c.get(f"/api/runs/{rid}").status_code == 404
        assert c.get(f"/api/runs/{kept}").status_code == 200
        assert len(c.app.state.store) == 1  # type: ignore[attr-defined]


def test_a_step_stops_at_the_time_cap_and_says_so() -> None:
    with client_for(max_request_s=0.3) as c:
        rid = c.post("/api/runs", json={"hidden": [8] * 6, "batch_size": 64}).json()["id"]
        t0 = time.monotonic()
        r = c.post(f"/api/runs/{rid}/step", json={"steps": 100_000})
        took = time.monotonic() - t0
        assert r.status_code == 200 and r.headers["x-stopped-by"] == "time_cap"
        done = int(r.headers["x-steps-done"])
        assert 0 < done < 100_000 and r.json()["step"] == done
        assert 0.3 <= took < 2.0


def test_runs_per_client_are_capped() -> None:
    with client_for(max_runs_per_client=2, idle_timeout_s=120) as c:
        first = c.post("/api/runs", json={}).json()["id"]
        assert c.post("/api/runs", json={}).status_code == 201
        r = c.post("/api/runs", json={})
        assert r.status_code == 429 and "max_runs_per_client = 2" in r.json()["detail"]
        assert r.json()["reason"] == "client_runs"  # the page's advice depends on which limit
        assert 1 <= int(r.headers["retry-after"]) <= 120
        assert c.delete(f"/api/runs/{first}").status_code == 204
        assert c.post("/api/runs", json={}).status_code == 201


def test_memory_budgets_refuse_with_the_field_and_the_limit() -> None:
    # A 6 x 8 network's estimate is about 6.9 MB (3.7 MB of it the decision-boundary grid's
    # pass, 1 MB the rewind snapshots' budget); 9.5 MB with batches of 512
    with client_for(run_memory_mb=8, memory_mb=24, max_runs_per_client=100) as c:
        r = c.post("/api/runs", json={"hidden": [8] * 6, "batch_size": 512})
        assert r.status_code == 422
        issue = r.json()["detail"][0]
        assert (
            issue["loc"] == ["body", "batch_size"]
            and "8 MB per run (run_memory_mb)" in issue["msg"]
        )
        rid = c.post("/api/runs", json={"hidden": [8] * 6}).json()["id"]
        r = c.patch(f"/api/runs/{rid}", json={"batch_size": 512})
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "batch_size"]
        while (r := c.post("/api/runs", json={"hidden": [8] * 6})).status_code == 201:
            pass
        assert r.status_code == 429 and "memory_mb" in r.json()["detail"]
        assert r.json()["reason"] == "server_memory"
        assert int(r.headers["retry-after"]) >= 1


def test_diverging_run_reports_diverged_and_reset_recovers(client: TestClient) -> None:
    rid = client.post("/api/runs", json=DIVERGING).json()["id"]
    r = client.post(f"/api/runs/{rid}/step", json={"steps": 200})
    assert r.status_code == 200
    assert b"NaN" not in r.content and b"Infinity" not in r.content
    f = r.json()
    assert f["status"] == "diverged"
    assert client.get(f"/api/runs/{rid}").json()["status"] == "diverged"
    r = client.post(f"/api/runs/{rid}/step", json={"steps": 1})
    assert r.status_code == 409 and "diverged" in r.json()["detail"]
    assert client.post(f"/api/runs/{rid}/reset").json()["status"] == "paused"
    client.post(f"/api/runs/{rid}/step", json={"steps": 200})
    info = client.patch(f"/api/runs/{rid}", json={"learning_rate": 0.001}).json()
    assert info["status"] == "paused"
    assert client.post(f"/api/runs/{rid}/step", json={"steps": 5}).status_code == 200


def test_a_diverged_run_shows_the_weights_of_the_step_it_names(client: TestClient) -> None:
    """A reviewer played linear layers at η 3: the page said "step 5" and train cost 0.5312,
    step 0's, while step 1's cost was 5.576 and step 2's 1.8e12 (the fast path rolled the
    weights back to its last check but counted the steps after it). Now a run asked for 20
    steps stops at the last step S whose weights are finite, and has the weights, costs and
    history of a twin asked for exactly S steps (which trains them without a rollback);
    the twin's next step is the one that overflows."""
    config = {
        "hidden": [8, 8, 8],
        "hidden_activation": "linear",
        "output_activation": "linear",
        "learning_rate": 3,
    }
    rid = client.post("/api/runs", json=config).json()["id"]
    f = client.post(f"/api/runs/{rid}/step", json={"steps": 20}).json()
    assert f["status"] == "diverged" and 0 < f["step"] < 20, f["step"]
    twin = client.post("/api/runs", json=config).json()["id"]
    at_0 = params(client, twin)
    g = client.post(f"/api/runs/{twin}/step", json={"steps": f["step"]}).json()
    assert g["step"] == f["step"]
    weights = params(client, rid)
    assert weights != at_0  # not step 0's, as the reviewer saw
    assert weights == params(client, twin)
    assert (f["train"], f["test"], f["batch_cost"]) == (g["train"], g["test"], g["batch_cost"])
    history = client.get(f"/api/runs/{rid}/history").json()
    assert history["step"][-1] == f["step"] and history["train_cost"][-1] == f["train"]["cost"]
    if g["status"] != "diverged":  # its numbers were still finite: one more step overflows
        last = client.post(f"/api/runs/{twin}/step", json={"steps": 1}).json()
        assert last["status"] == "diverged" and last["step"] == f["step"]
        assert last["prediction"]["step"] == f["step"] + 1
        assert last["prediction"]["actual"] is None


def test_an_exploding_run_rewound_before_it_diverged_trains_on(client: TestClient) -> None:
    """A reviewer (plane at η 10): the run stopped diverged at step 132, and rewound to step
    50, with a smaller η, it still said diverged (cost null) and refused to step, although
    its weights (1e56) and its cost (1e113, in float64, training's dtype) were finite: the
    float32 metrics had overflowed. Where the weights' cost is a number, the run is not
    diverged: it shows the cost (the textbook formula, here in float64 over the data) and
    trains on."""
    rid = client.post("/api/runs", json={"dataset": "plane", "learning_rate": 10}).json()["id"]
    f = client.post(f"/api/runs/{rid}/step?grid=false", json={"steps": 2000}).json()
    assert f["status"] == "diverged" and 50 < f["step"] < 2000, f["step"]
    g = client.post(f"/api/runs/{rid}/rewind", json={"step": 20}).json()
    assert g["status"] == "paused" and g["step"] == 20
    doc = client.get(f"/api/runs/{rid}/export").json()
    data = client.get(f"/api/runs/{rid}/data").json()
    a = np.asarray(data["train"]["points"], dtype=float)
    for w, b, act in zip(
        doc["parameters"]["weights"], doc["parameters"]["biases"], g["activations"], strict=True
    ):
        z = a @ np.asarray(w).T + np.asarray(b)
        a = np.tanh(z) if act == "tanh" else z
    y = np.asarray(data["train"]["labels"], dtype=float)[:, None]
    want = float(np.mean(0.5 * ((a - y) ** 2).sum(axis=1)))
    assert 3.4e38 < want < 1e300  # beyond float32, a number in float64
    assert g["train"]["cost"] == float(f"{want:.4g}"), (g["train"], want)
    assert client.patch(f"/api/runs/{rid}", json={"learning_rate": 1e-5}).status_code == 200
    r = client.post(f"/api/runs/{rid}/step?grid=false", json={"steps": 1})
    assert r.status_code == 200 and r.json()["step"] == 21, r.text[:300]


def test_other_datasets_and_csv(client: TestClient) -> None:
    for name, sizes in [("blobs3", [2, 4, 2, 3]), ("plane", [2, 4, 2, 1])]:
        info = client.post("/api/runs", json={"dataset": name}).json()
        assert info["sizes"] == sizes
    csv = "a,b,c,label\n" + "\n".join(f"{i},{i % 3},{i % 5},{i % 2}" for i in range(40))
    r = client.post("/api/runs", json={"dataset": "csv", "csv": csv, "hidden": [3]})
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    assert r.json()["sizes"] == [3, 3, 1]
    f = client.post(f"/api/runs/{rid}/step", json={"steps": 3}).json()
    assert f["grid"] is None and len(f["probe"]["point"]) == 3
    r = client.post("/api/runs", json={"dataset": "csv"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "csv"]
    r = client.post("/api/runs", json={"dataset": "csv", "csv": "1,2\n3,x\n"})
    assert r.status_code == 422 and "line 2" in r.json()["detail"][0]["msg"]


def test_output_and_cost_defaults_pair_up(client: TestClient) -> None:
    ok = [
        ({"cost": "cross_entropy"}, "sigmoid", "cross_entropy"),
        ({"output_activation": "softmax"}, "softmax", "log_likelihood"),
        ({"dataset": "blobs3", "cost": "quadratic"}, "sigmoid", "quadratic"),
    ]
    for changes, act, cost in ok:
        rid = client.post("/api/runs", json=changes).json()["id"]
        f = client.get(f"/api/runs/{rid}/frame").json()
        assert (f["activations"][-1], f["cost_name"]) == (act, cost)
    r = client.post("/api/runs", json={"output_activation": "tanh", "cost": "log_likelihood"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "cost"]
    r = client.post("/api/runs", json={"dataset": "plane", "output_activation": "softmax"})
    assert r.status_code == 422


def test_parameter_cap() -> None:
    with client_for(max_params=30) as c:  # the default experiment (25 parameters) fits
        r = c.post("/api/runs", json={"hidden": [8, 8]})  # 105 parameters
        assert r.status_code == 422 and "max_params" in r.json()["detail"][0]["msg"]


def test_a_stream_change_over_a_budget_is_an_error_message_and_the_stream_goes_on() -> None:
    with client_for(client_memory_mb=4, max_runs_per_client=100) as c:
        rid = c.post("/api/runs", json={}).json()["id"]
        with c.websocket_connect(f"/api/runs/{rid}/stream") as ws:
            assert ws.receive_json()["type"] == "frame"
            ws.send_json({"type": "set", "hidden": [8] * 6, "batch_size": 400})
            msg = ws.receive_json()
            while msg["type"] != "error":
                msg = ws.receive_json()
            assert "client_memory_mb = 4" in msg["detail"]
            ws.send_json({"type": "set", "hidden": [3]})  # within the budget: rebuilt
            msg = ws.receive_json()
            while msg["type"] != "rebuilt":
                msg = ws.receive_json()
            assert msg["run"]["config"]["hidden"] == [3]
            ws.send_json({"type": "reset"})
            msg = ws.receive_json()
            while msg["type"] != "frame" or msg["history"] is None:
                msg = ws.receive_json()
            assert msg["step"] == 0 and msg["sizes"][1:-1] == [3]
