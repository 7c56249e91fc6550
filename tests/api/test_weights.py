"""Editing one weight w^l_jk: `PUT /api/runs/{id}/weights/{l}/{j}/{k}` and the stream's
`set_weight` message (docs/api.md). j and k are 0-based."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.api.conftest import TestClient
from tests.api.test_stream import next_of, the_run, url


def weights_of(client: TestClient, run_id: str) -> list[np.ndarray]:
    """The run's float64 weights (frames are rounded to 4 digits)."""
    return [w.copy() for w in the_run(client, run_id).state.net.weights]


def put(client: TestClient, run_id: str, l: int, j: int, k: int, body: Any) -> Any:  # noqa: E741
    return client.put(f"/api/runs/{run_id}/weights/{l}/{j}/{k}", json=body)


def test_sets_exactly_that_weight(client: TestClient, run_id: str) -> None:
    client.post(f"/api/runs/{run_id}/step", json={"steps": 5})
    run = the_run(client, run_id)
    before = weights_of(client, run_id)
    biases = [b.copy() for b in run.state.net.biases]
    r = put(client, run_id, 3, 1, 2, {"value": 0.5})  # sizes [2, 4, 2, 1]: w^3 is 2 x 4
    assert r.status_code == 200
    frame = r.json()
    assert frame["type"] == "frame" and frame["step"] == 5 and frame["grid"] is not None
    assert frame["layers"][1]["w"][1][2] == 0.5
    after = weights_of(client, run_id)
    expected = [w.copy() for w in before]
    expected[1][1, 2] = 0.5
    for a, e in zip(after, expected, strict=True):
        np.testing.assert_array_equal(a, e)
    for b, b0 in zip(run.state.net.biases, biases, strict=True):
        np.testing.assert_array_equal(b, b0)
    # The trainer trains the edited weight: net.weights are views into its parameters.
    assert run.state.trainer.theta[run.state.trainer.theta == 0.5].size == 1
    # Integers are numbers too; the output layer's weights and ?grid=false work.
    r = client.put(f"/api/runs/{run_id}/weights/4/0/1?grid=false", json={"value": -3})
    assert r.status_code == 200 and r.json()["grid"] is None
    assert r.json()["layers"][2]["w"][0][1] == -3.0
    assert client.get(f"/api/runs/{run_id}/frame").json()["layers"][2]["w"][0][1] == -3.0


def test_the_edited_weight_loses_its_momentum_only(client: TestClient, run_id: str) -> None:
    client.patch(f"/api/runs/{run_id}", json={"momentum": 0.9})
    client.post(f"/api/runs/{run_id}/step", json={"steps": 3})
    tr = the_run(client, run_id).state.trainer
    v = tr._velocity.copy()
    assert np.count_nonzero(v) > 1
    assert put(client, run_id, 2, 3, 1, {"value": 1.25}).status_code == 200
    v_w2 = tr._velocity[: 4 * 3].reshape(4, 3)  # w^2 with its bias column
    assert v_w2[3, 1] == 0.0
    v[3 * 3 + 1] = 0.0
    np.testing.assert_array_equal(tr._velocity, v)


@pytest.mark.parametrize(
    ("path", "body", "loc", "needle"),
    [
        ("1/0/0", {"value": 1.0}, ["path", "l"], "greater than or equal to 2"),
        ("5/0/0", {"value": 1.0}, ["path", "l"], "2..4"),
        ("3/2/0", {"value": 1.0}, ["path", "j"], "0..1"),
        ("3/-1/0", {"value": 1.0}, ["path", "j"], "greater than or equal to 0"),
        ("3/0/4", {"value": 1.0}, ["path", "k"], "0..3"),
        ("x/0/0", {"value": 1.0}, ["path", "l"], "integer"),
        ("3/0/0", {"value": 100.5}, ["body", "value"], "100"),
        ("3/0/0", {"value": -101}, ["body", "value"], "-100"),
        ("3/0/0", {"value": "1"}, ["body", "value"], "number"),
        ("3/0/0", {"value": True}, ["body", "value"], "number"),
        ("3/0/0", {}, ["body", "value"], "required"),
        ("3/0/0", {"value": 1, "extra": 2}, ["body", "extra"], "not permitted"),
    ],
)
def test_bad_input_is_a_422_naming_the_field(
    client: TestClient, run_id: str, path: str, body: Any, loc: list[str], needle: str
) -> None:
    before = weights_of(client, run_id)
    r = client.put(f"/api/runs/{run_id}/weights/{path}", json=body)
    assert r.status_code == 422
    (issue,) = [d for d in r.json()["detail"] if d["loc"] == loc]
    assert needle in issue["msg"], issue
    for a, b in zip(weights_of(client, run_id), before, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("raw", [b'{"value": NaN}', b'{"value": Infinity}', b'{"value": 1e400}'])
def test_non_finite_values_are_refused(client: TestClient, run_id: str, raw: bytes) -> None:
    r = client.put(
        f"/api/runs/{run_id}/weights/2/0/0",
        content=raw,
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "value"]


def test_unknown_run_is_404(client: TestClient) -> None:
    r = client.put("/api/runs/nosuchrun/weights/2/0/0", json={"value": 0.5})
    assert r.status_code == 404
    assert r.json() == {"detail": "no such run (it may have been evicted)"}


def test_a_diverged_run_accepts_an_edit_and_stays_diverged(client: TestClient, run_id: str) -> None:
    run = the_run(client, run_id)
    run.state.trainer.status = "diverged"
    r = put(client, run_id, 2, 0, 0, {"value": 0.25})
    assert r.status_code == 200
    assert r.json()["status"] == "diverged" and r.json()["layers"][0]["w"][0][0] == 0.25
    assert client.post(f"/api/runs/{run_id}/step").status_code == 409
    client.patch(f"/api/runs/{run_id}", json={"learning_rate": 0.01})
    assert client.get(f"/api/runs/{run_id}").json()["status"] == "paused"
    assert weights_of(client, run_id)[0][0, 0] == 0.25  # the edit survives the recovery


def test_openapi_declares_the_route(client: TestClient) -> None:
    op = client.get("/openapi.json").json()["paths"]["/api/runs/{run_id}/weights/{l}/{j}/{k}"]
    assert {"200", "404", "413", "422"} <= set(op["put"]["responses"])
    params = {p["name"]: p["schema"] for p in op["put"]["parameters"]}
    assert params["l"]["minimum"] == 2 and params["j"]["minimum"] == 0


# -- the stream -----------------------------------------------------------------------------


def test_set_weight_message_answers_a_frame_with_grid(client: TestClient, run_id: str) -> None:
    with client.websocket_connect(url(run_id)) as ws:
        ws.receive_json()
        before = weights_of(client, run_id)
        ws.send_json({"type": "set_weight", "l": 3, "j": 0, "k": 1, "value": 0.5})
        f = next_of(ws, "frame")
        assert f["grid"] is not None and f["layers"][1]["w"][0][1] == 0.5
        after = weights_of(client, run_id)
        before[1][0, 1] = 0.5
        for a, b in zip(after, before, strict=True):
            np.testing.assert_array_equal(a, b)
        # While playing too: the edit lands between training frames.
        ws.send_json({"type": "play"})
        next_of(ws, "frame")
        ws.send_json({"type": "set_weight", "l": 4, "j": 0, "k": 0, "value": -7.5})
        ws.send_json({"type": "pause"})
        f = next_of(ws, "frame")
        while f["status"] != "paused":
            f = next_of(ws, "frame")
        assert abs(f["layers"][2]["w"][0][0] + 7.5) < 0.5  # set, then trained a little


@pytest.mark.parametrize(
    ("msg", "needle"),
    [
        ({"type": "set_weight", "l": 9, "j": 0, "k": 0, "value": 1.0}, "l: layer l must be 2..4"),
        ({"type": "set_weight", "l": 1, "j": 0, "k": 0, "value": 1.0}, "set_weight.l"),
        ({"type": "set_weight", "l": 2, "j": 4, "k": 0, "value": 1.0}, "j: layer 2 has 4"),
        ({"type": "set_weight", "l": 2, "j": 0, "k": 2, "value": 1.0}, "k: layer 1 has 2"),
        ({"type": "set_weight", "l": 2, "j": 0, "k": 0, "value": 250.0}, "value"),
        ({"type": "set_weight", "l": 2, "j": 0, "k": 0}, "value"),
        ({"type": "set_weight", "l": 2, "j": 0, "k": 0, "value": "1"}, "value"),
        ({"type": "set_weight", "l": 2, "k": 0, "value": 1.0}, "set_weight.j"),
    ],
)
def test_bad_set_weight_gets_an_error_and_the_stream_stays(
    client: TestClient, run_id: str, msg: dict[str, Any], needle: str
) -> None:
    with client.websocket_connect(url(run_id)) as ws:
        ws.receive_json()
        before = weights_of(client, run_id)
        ws.send_json(msg)
        err = next_of(ws, "error")
        assert needle in err["detail"], err
        for a, b in zip(weights_of(client, run_id), before, strict=True):
            np.testing.assert_array_equal(a, b)
        ws.send_json({"type": "set_weight", "l": 2, "j": 0, "k": 0, "value": 0.125})
        assert next_of(ws, "frame")["layers"][0]["w"][0][0] == 0.125


def test_set_weight_nan_is_not_json(client: TestClient, run_id: str) -> None:
    with client.websocket_connect(url(run_id)) as ws:
        ws.receive_json()
        ws.send_text('{"type": "set_weight", "l": 2, "j": 0, "k": 0, "value": NaN}')
        assert "JSON" in next_of(ws, "error")["detail"]
        ws.send_json({"type": "step", "steps": 2})
        assert next_of(ws, "frame")["step"] == 2
