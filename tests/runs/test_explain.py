"""The frame's ``explain`` and ``health`` objects through the API: the selection by query and by
stream message, the exact next Δw, and saturation / divergence advice that works when followed."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.api.conftest import DIVERGING, TestClient, client_for


@pytest.fixture
def client():  # type: ignore[no-untyped-def]
    with client_for() as c:
        yield c


def create(client: TestClient, **config: Any) -> str:
    r = client.post("/api/runs", json=config)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


@pytest.mark.parametrize(
    "hyper",
    [
        {"momentum": 0.9},
        {"momentum": 0.9, "regulariser": "l2", "lambda": 3.0},
        {"momentum": 0.5, "regulariser": "l1", "lambda": 1.0},
        {},
    ],
)
def test_shown_delta_w_is_the_change_the_next_step_makes(client: TestClient, hyper) -> None:  # type: ignore[no-untyped-def]
    rid = create(client, hidden=[4, 3], learning_rate=0.1, **hyper)
    client.post(f"/api/runs/{rid}/step", json={"steps": 20})
    for l, j, k in [(2, 1, 0), (3, 2, 3), (4, 0, 1)]:  # noqa: E741
        sel = f"{l},{j},{k}"
        before = client.get(f"/api/runs/{rid}/frame?explain={sel}").json()["explain"]
        assert (before["l"], before["j"], before["k"]) == (l, j, k)
        u = before["update"]
        after = client.post(f"/api/runs/{rid}/step?explain={sel}&grid=false").json()["explain"]
        change = after["w"] - before["w"]
        assert abs(change - u["delta_w"]) <= 1e-12 * (abs(before["w"]) + abs(u["delta_w"]))
        if hyper.get("momentum"):  # the velocity is this change: the next step starts from it
            assert after["update"]["velocity"] == pytest.approx(change, rel=1e-9, abs=1e-15)


def test_bad_selection_is_a_422_naming_the_field(client: TestClient) -> None:
    rid = create(client, hidden=[4])
    for q, word in [
        ("9,0", "layer l must be 1..3"),
        ("2,7", "j must be 0..3"),
        ("3,0,9", "k must"),
    ]:
        r = client.get(f"/api/runs/{rid}/frame?explain={q}")
        assert r.status_code == 422, q
        (issue,) = r.json()["detail"]
        assert issue["loc"] == ["query", "explain"] and word in issue["msg"]
    assert client.get(f"/api/runs/{rid}/frame?explain=x").status_code == 422
    assert client.get(f"/api/runs/{rid}/frame").json()["explain"] is None


def test_select_message_puts_explain_in_every_frame(client: TestClient) -> None:
    rid = create(client, hidden=[3])
    with client.websocket_connect(f"/api/runs/{rid}/stream") as ws:
        assert ws.receive_json()["explain"] is None
        ws.send_json({"type": "select", "l": 2, "j": 1})
        f = ws.receive_json()
        assert f["explain"]["type"] == "neuron" and f["explain"]["equation"] == "BP2"
        ws.send_json({"type": "select", "l": 5, "j": 0})
        err = ws.receive_json()
        assert err["type"] == "error" and "l: layer l must be 1..3" in err["detail"]
        ws.send_json({"type": "step", "steps": 1})
        f = ws.receive_json()
        assert f["explain"]["j"] == 1  # the bad selection left the old one
        ws.send_json({"type": "select"})
        assert ws.receive_json()["explain"] is None


def health_after(client: TestClient, config: dict[str, Any], steps: int) -> dict[str, Any]:
    """The run's health after ``steps`` steps; when advice is being tried (in a background
    thread), the frames that follow until it arrives."""
    rid = create(client, **config)
    f = client.post(f"/api/runs/{rid}/step?grid=false", json={"steps": steps}).json()
    deadline = time.monotonic() + 30
    while f["health"]["advice_pending"] and time.monotonic() < deadline:
        time.sleep(0.05)
        f = client.get(f"/api/runs/{rid}/frame").json()
    assert not f["health"]["advice_pending"]
    return {"status": f["status"], **f["health"]}


TANH_HOT = {"hidden": [4, 4], "hidden_activation": "tanh", "learning_rate": 10.0, "seed": 1}


def test_tanh_at_eta_10_saturates_and_the_advice_does_not(client: TestClient) -> None:
    h = health_after(client, TANH_HOT, 1000)
    assert h["alarm"] and h["saturated_share"] > 0.5
    advice = h["advice"]
    assert advice["reason"] == "saturated" and advice["tried"]
    eta = advice["learning_rate"]
    assert eta is not None and eta < 10.0
    # Followed for as long as the advice says it was tried (from step 0, the same seed):
    steps = advice["tried"][-1]["steps"]
    assert advice["tried"][-1]["learning_rate"] == eta and steps >= 1000
    followed = health_after(client, {**TANH_HOT, "learning_rate": eta}, steps)
    assert followed["status"] != "diverged" and not followed["alarm"]
    assert followed["saturated_share"] + followed["dead_share"] <= 0.5


def test_divergence_advice_never_kills_relus(client: TestClient) -> None:
    for config in [
        {"hidden": [8, 8], "hidden_activation": "relu", "learning_rate": 10.0, "seed": 3},
        DIVERGING,
    ]:
        h = health_after(client, config, 2000)
        assert h["status"] == "diverged" or h["alarm"], config
        eta = h["advice"]["learning_rate"]
        assert eta is not None and eta < config["learning_rate"]
        steps = h["advice"]["tried"][-1]["steps"]
        followed = health_after(client, {**config, "learning_rate": eta}, steps)
        assert followed["status"] != "diverged" and not followed["alarm"], (config, eta)


def test_neuron_grid_for_hover(client: TestClient) -> None:
    rid = create(client, hidden=[3])
    g = client.get(f"/api/runs/{rid}/grid/2/1").json()
    assert len(g["values"]) == 64 and len(g["values"][0]) == 64 and len(g["x1"]) == 64
    thumbs = client.get(f"/api/runs/{rid}/frame?grid=true").json()["grid"]
    # The 16 x 16 thumbnail's corners are the full grid's corners (same extent, same neuron).
    t = thumbs["neurons"][1]
    for (r, c), (R, C) in [((0, 0), (0, 0)), ((15, 15), (63, 63)), ((0, 15), (0, 63))]:
        assert g["values"][R][C] == pytest.approx(t[r][c], rel=2e-3, abs=1e-6)
    x1 = client.get(f"/api/runs/{rid}/grid/1/0").json()
    assert x1["values"][5][7] == pytest.approx(x1["x1"][7], rel=1e-3)  # input 1 is x1
    r = client.get(f"/api/runs/{rid}/grid/2/3")
    assert r.status_code == 422 and "j must be 0..2" in r.json()["detail"][0]["msg"]


def test_explain_of_an_overflowing_network_is_null_not_nan(client: TestClient) -> None:
    rid = create(client, hidden=[3], hidden_activation="linear", learning_rate=0.03)
    run = client.app.state.store.get(rid)  # type: ignore[attr-defined]
    run.state.net.weights[0][:] = 1e308  # z = 1e308·(x1 + x2) overflows to ±inf
    r = client.get(f"/api/runs/{rid}/frame?explain=2,1")
    assert r.status_code == 200
    assert "NaN" not in r.text and "Infinity" not in r.text
    assert r.json()["explain"] is None
