"""The book's digits through the REST API, as a student's page would use them: a 64-30-10
run made from the digits link, stepped, read back; the parts of the API built for the 2-D
sets (grid, features) answering sensibly; save and open exact."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.api.presets import BOOK_DIGITS, parse_link
from app.runs.budget import MB, estimate
from app.runs.experiment import Experiment
from app.settings import Settings
from tests.api.conftest import client_for


def _book(c: TestClient) -> dict[str, Any]:
    """The config the digits link sets, as the server reads the link."""
    r = c.get("/api/preset", params={"hash": "#" + BOOK_DIGITS})
    assert r.status_code == 200
    link = r.json()["hash"]
    assert link["ignored"] == []
    config: dict[str, Any] = link["config"]
    return config


def _make(c: TestClient, **changes: Any) -> str:
    r = c.post("/api/runs", json={**_book(c), **changes})
    assert r.status_code == 201, r.text
    rid: str = r.json()["id"]
    return rid


def _step(c: TestClient, rid: str, steps: int) -> dict[str, Any]:
    r = c.post(f"/api/runs/{rid}/step", json={"steps": steps})
    assert r.status_code == 200, r.text
    assert r.headers["x-steps-done"] == str(steps)
    frame: dict[str, Any] = r.json()
    return frame


def test_options_list_the_digits_with_their_shape_and_link() -> None:
    with client_for() as c:
        options = c.get("/api/options").json()
        digits = next(d for d in options["datasets"] if d["name"] == "digits")
        assert digits["kind"] == "multiclass" and digits["n_classes"] == 10
        assert digits["n_points"] == 1797 and digits["n_inputs"] == 64
        assert digits["image"] == [8, 8] and digits["link"] == BOOK_DIGITS
        circle = next(d for d in options["datasets"] if d["name"] == "circle")
        assert circle["n_inputs"] == 2 and circle["image"] is None and circle["link"] is None
        assert options["limits"]["max_digits_width"] >= 30


def test_a_digits_run_is_64_30_10_with_360_held_out_and_no_grid() -> None:
    with client_for() as c:
        rid = _make(c)
        info = c.get(f"/api/runs/{rid}").json()
        assert info["sizes"] == [64, 30, 10] and info["kind"] == "multiclass"
        assert (info["n_train"], info["n_test"]) == (1437, 360)
        frame = _step(c, rid, 300)
        assert frame["grid"] is None  # asked for (POST /step sends one by default): none
        assert len(frame["input"]["a"]) == 64 and len(frame["probe"]["x"]) == 64
        out = frame["layers"][-1]
        assert out["activation"] == "softmax" and frame["cost_name"] == "log_likelihood"
        assert len(out["a"]) == 10 and len(frame["probe"]["y"]) == 10
        assert sum(frame["probe"]["y"]) == 1.0  # one-hot: the probe's digit
        assert len(frame["layers"][0]["w"]) == 30 and len(frame["layers"][0]["w"][0]) == 64
        # the probe is a real digit: its pixels are the file's counts / 16
        x = np.array(frame["probe"]["x"])
        assert np.all((x >= 0) & (x <= 1)) and np.allclose(x * 16, np.round(x * 16), atol=1e-3)
        assert abs(sum(out["a"]) - 1.0) < 1e-3  # softmax outputs: a distribution
        # test accuracy is measured on the 360 held-out digits: a multiple of 1/360
        acc = frame["test"]["accuracy"]
        assert acc is not None and 0.8 < acc <= 1.0
        data = c.get(f"/api/runs/{rid}/data").json()
        assert len(data["test"]["labels"]) == 360 and len(data["train"]["points"][0]) == 64
        assert np.bincount(np.array(data["test"]["labels"], dtype=int)).tolist() == [
            36, 37, 35, 37, 36, 36, 36, 36, 35, 36,
        ]  # fmt: skip
        history = c.get(f"/api/runs/{rid}/history").json()
        assert history["test_accuracy"][-1] == acc


def test_the_held_out_digits_do_not_move_with_the_seed() -> None:
    with client_for() as c:
        a, b = _make(c, seed=1), _make(c, seed=2)
        ta = c.get(f"/api/runs/{a}/data").json()["test"]
        tb = c.get(f"/api/runs/{b}/data").json()["test"]
        assert ta == tb
        wa = c.get(f"/api/runs/{a}/frame").json()["layers"][0]["w"]
        wb = c.get(f"/api/runs/{b}/frame").json()["layers"][0]["w"]
        assert wa != wb  # the seed still draws the weights


def test_sigmoid_outputs_and_the_quadratic_cost_as_in_chapter_1() -> None:
    with client_for() as c:
        rid = _make(
            c,
            output_activation="sigmoid",
            cost="quadratic",
            init="standard_normal",
            learning_rate=3.0,
        )
        frame = _step(c, rid, 400)
        assert frame["layers"][-1]["activation"] == "sigmoid" and len(frame["probe"]["y"]) == 10
        assert frame["test"]["accuracy"] is not None and frame["test"]["accuracy"] >= 0.8


@pytest.mark.parametrize(
    ("changes", "loc", "phrase"),
    [
        ({"hidden": [33]}, ["body", "hidden", 0], "max_digits_width"),
        ({"hidden": [4, 4, 4, 4, 4, 4, 4]}, ["body", "hidden"], "max_layers"),
        ({"noise": 0.6}, ["body", "noise"], "0.5"),
        ({"train_share": 0.95}, ["body", "train_share"], "0.9"),
        ({"output_activation": "softmax", "cost": "quadratic"}, ["body", "cost"], "softmax"),
        ({"output_activation": "sigmoid", "cost": "quadratic"}, None, None),  # the book's
    ],
)
def test_refused_with_the_field_named(
    changes: dict[str, Any], loc: list[Any] | None, phrase: str | None
) -> None:
    with client_for() as c:
        r = c.post("/api/runs", json={**_book(c), **changes})
        if loc is None:
            assert r.status_code == 201, r.text
            return
        assert r.status_code == 422, r.text
        issue = r.json()["detail"][0]
        assert issue["loc"] == loc and phrase in issue["msg"], issue


def test_width_beyond_max_width_stays_refused_on_the_2d_sets() -> None:
    with client_for() as c:
        r = c.post("/api/runs", json={"dataset": "circle", "hidden": [30]})
        assert r.status_code == 422
        issue = r.json()["detail"][0]
        assert issue["loc"] == ["body", "hidden", 0] and "(max_width)" in issue["msg"]


def test_a_server_with_fewer_inputs_allowed_refuses_the_digits_by_name() -> None:
    with client_for(max_inputs=10) as c:
        r = c.post("/api/runs", json={"dataset": "digits"})
        assert r.status_code == 422
        issue = r.json()["detail"][0]
        assert issue["loc"] == ["body", "dataset"] and "max_inputs" in issue["msg"]


def test_features_are_ignored_the_inputs_are_the_pixels() -> None:
    with client_for() as c:
        made = c.post("/api/runs", json={**_book(c), "features": ["x1", "sin_x2", "x1x2"]})
        assert made.status_code == 201
        info = made.json()
        assert info["sizes"][0] == 64  # not 3: the pixels are the inputs
        assert [i["field"] for i in info["ignored"]] == ["features"]
        assert "64" in info["ignored"][0]["reason"] and "pixels" in info["ignored"][0]["reason"]
        assert info["config"]["features"] == ["x1", "sin_x2", "x1x2"]  # kept for later
        # back on a 2-D set, the kept features are the inputs again and nothing is ignored
        back = c.patch(f"/api/runs/{info['id']}", json={"dataset": "circle", "hidden": [4]})
        assert back.status_code == 200, back.text
        assert back.json()["sizes"][0] == 3 and back.json()["ignored"] == []


def test_noise_moves_pixels_within_its_bound() -> None:
    with client_for() as c:
        clean = c.get(f"/api/runs/{_make(c)}/data").json()["train"]["points"]
        noisy = c.get(f"/api/runs/{_make(c, noise=0.25)}/data").json()["train"]["points"]
        a, b = np.array(clean), np.array(noisy)
        assert a.shape == b.shape == (1437, 64)
        moved = np.abs(a - b)
        assert moved.max() <= 0.25 + 1e-4 and moved.mean() > 0.05
        assert b.min() >= 0.0 and b.max() <= 1.0


def test_the_rest_of_the_api_copes_with_64_inputs_and_10_outputs() -> None:
    with client_for() as c:
        rid = _make(c)
        _step(c, rid, 50)
        r = c.get(f"/api/runs/{rid}/frame", params={"explain": "2,7"})
        assert r.status_code == 200 and r.json()["explain"]["equation"] == "BP2"
        terms = r.json()["explain"]["probe"]["terms"]
        assert len(terms) == 10  # δ^3 of the 10 outputs carried back to hidden neuron 7
        r = c.get(f"/api/runs/{rid}/frame", params={"explain": "2,3,63"})
        assert r.status_code == 200 and r.json()["explain"]["type"] == "edge"
        assert c.post(f"/api/runs/{rid}/probe", json={"index": 1436}).status_code == 200
        r = c.post(f"/api/runs/{rid}/probe", json={"index": 1437})
        assert r.status_code == 422 and "1436" in r.text
        r = c.post(f"/api/runs/{rid}/nudge", json={"of": "w", "l": 2, "j": 29, "k": 63})
        assert r.status_code == 200, r.text
        nudge = r.json()
        assert abs(nudge["measured"] - nudge["backprop"]) <= 1e-4 * max(1, abs(nudge["backprop"]))
        r = c.post(f"/api/runs/{rid}/nudge_layer", json={"l": 3})
        assert r.status_code == 200, r.text  # all 300 weights into the 10 outputs
        assert r.json()["count"] == 300 and r.json()["max_rel_diff"] < 1e-4
        r = c.put(f"/api/runs/{rid}/weights/2/0/63", json={"value": 0.5})
        assert r.status_code == 200 and r.json()["layers"][0]["w"][0][63] == 0.5
        r = c.get(f"/api/runs/{rid}/grid/2/0")
        assert r.status_code == 422 and "64 inputs" in r.text
        timeline = c.get(f"/api/runs/{rid}/timeline").json()
        assert timeline["steps"][0] == 0
        r = c.post(f"/api/runs/{rid}/rewind", json={"step": 0})
        assert r.status_code == 200 and r.json()["step"] == 0 and r.json()["grid"] is None
        r = c.patch(f"/api/runs/{rid}", json={"hidden": [16, 8]})
        assert r.status_code == 200 and r.json()["sizes"] == [64, 16, 8, 10]
        r = c.post(f"/api/runs/{rid}/reset")
        assert r.status_code == 200 and r.json()["grid"] is None


def _hex(doc: dict[str, Any]) -> list[str]:
    p = doc["parameters"]
    return [float(v).hex() for w in p["weights"] for row in w for v in row] + [
        float(v).hex() for b in p["biases"] for v in b
    ]


@pytest.mark.parametrize("changes", [{}, {"momentum": 0.9, "regulariser": "l2", "lambda": 1.0}])
def test_save_and_open_a_digits_run_goes_on_bit_for_bit(changes: dict[str, Any]) -> None:
    with client_for() as c:
        rid = _make(c, **changes)
        _step(c, rid, 77)  # mid-epoch: 1,437 digits in batches of 10
        doc = c.get(f"/api/runs/{rid}/export").json()
        assert "points" not in json.dumps(doc["settings"])  # the data comes from the file
        made = c.post("/api/runs", json={"import": json.loads(json.dumps(doc))})
        assert made.status_code == 201, made.text
        twin = made.json()["id"]
        assert made.json()["sizes"] == [64, 30, 10]
        _step(c, rid, 200)
        _step(c, twin, 200)
        a = c.get(f"/api/runs/{rid}/export").json()
        b = c.get(f"/api/runs/{twin}/export").json()
        assert a["step"] == b["step"] == 277
        assert _hex(a) == _hex(b) and _hex(a) != _hex(doc)


def test_a_digits_run_fits_the_default_memory_budget() -> None:
    s = Settings()
    book = Experiment(dataset="digits", hidden=(30,), batch_size=10, train_share=0.8)
    est = estimate(book, s)
    assert est.grid == 0  # no decision-boundary grid for 64 inputs
    assert est.total <= s.run_memory_mb * MB  # admitted alone ...
    assert 2 * est.total <= s.client_memory_mb * MB  # ... and a student can hold two
    assert 30 * est.mb <= s.memory_mb  # ... and a class of 30 fits the server's budget
    with client_for() as c:
        assert c.post("/api/runs", json=_book(c)).status_code == 201


def _next_frame(ws: Any, limit: int = 100) -> dict[str, Any]:
    for _ in range(limit):
        msg: dict[str, Any] = ws.receive_json()
        if msg["type"] == "frame":
            return msg
    raise AssertionError(f"no frame in {limit} messages")


def test_a_digits_stream_plays_without_a_grid_and_reports_test_accuracy() -> None:
    with client_for() as c:
        rid = _make(c)
        with c.websocket_connect(f"/api/runs/{rid}/stream") as ws:
            first = _next_frame(ws)
            assert first["grid"] is None and first["sizes"] == [64, 30, 10]
            ws.send_json({"type": "play"})
            frames = [_next_frame(ws) for _ in range(40)]  # past a grid frame (every 10th)
            assert all(f["grid"] is None for f in frames)
            assert frames[-1]["step"] > first["step"]
            measured = [f["test"]["accuracy"] for f in frames]
            assert all(a is not None and 0 <= a <= 1 for a in measured)
            ws.send_json({"type": "pause"})
            ws.send_json({"type": "grid"})
            last = _next_frame(ws)
            while last["status"] != "paused":
                last = _next_frame(ws)
            assert last["grid"] is None


def test_the_digits_link_works_in_any_order_and_as_a_teachers_preset() -> None:
    s = Settings()
    reordered = "&".join(reversed(BOOK_DIGITS.split("&")))  # hidden=30 before dataset=digits
    assert parse_link(reordered, s).ignored == []
    assert parse_link(reordered, s).config == parse_link(BOOK_DIGITS, s).config
    # without the digits, 30 neurons are over the 2-D sets' cap, and the link says so
    alone = parse_link("hidden=30", s).ignored
    assert [(i["key"], i["kind"]) for i in alone] == [("hidden", "invalid")]
    assert "max_width" in alone[0]["reason"]
    with client_for(preset=BOOK_DIGITS) as c:
        made = c.post("/api/runs", json={})
        assert made.status_code == 201
        assert made.json()["sizes"] == [64, 30, 10] and made.json()["n_test"] == 360
        assert c.get("/api/options").json()["default_config"]["dataset"] == "digits"
