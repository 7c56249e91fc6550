"""Issue 13 over REST: a step's predicted vs actual ΔC, the per-layer history, histograms.

What a script sees: the step response's `prediction` against the frame before it, the
history's per-layer series against the frames at the same steps, strict JSON throughout.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.api.frame_model import Frame
from app.api.models import History
from tests.api.conftest import DIVERGING
from tests.api.test_contracts import conforms

SIGMOID = {
    "hidden": [6, 6, 6],
    "hidden_activation": "sigmoid",
    "output_activation": "sigmoid",
    "cost": "quadratic",
    "learning_rate": 1e-5,
    "init": "xavier",
}


def _strict(text: str) -> Any:
    """JSON as a strict parser reads it: NaN or Infinity anywhere is an error."""

    def refuse(name: str) -> None:
        raise AssertionError(f"{name} in a response")

    return json.loads(text, parse_constant=refuse)


def _step(client: TestClient, rid: str, steps: int = 1) -> dict[str, Any]:
    r = client.post(f"/api/runs/{rid}/step?grid=false", json={"steps": steps})
    assert r.status_code == 200, r.text
    out: dict[str, Any] = _strict(r.text)
    return out


def test_a_step_answers_its_prediction_beside_the_change_it_made(client: TestClient) -> None:
    rid = client.post("/api/runs", json=SIGMOID).json()["id"]
    before = _strict(client.get(f"/api/runs/{rid}/frame").text)
    after = _step(client, rid)
    p = after["prediction"]
    assert p["step"] == after["step"] == before["step"] + 1
    # the cost before is the batch cost the previous frame showed (its next batch)
    assert np.isclose(p["cost_before"], before["batch_cost"], rtol=6e-4)
    assert p["actual"] == p["cost_after"] - p["cost_before"]
    # η = 1e-5: the step is tiny and the cost nearly linear along it
    assert p["predicted"] < 0 and abs(p["actual"] / p["predicted"] - 1) < 1e-3
    # η = 10: the tangent line says nothing about where the step lands
    assert client.patch(f"/api/runs/{rid}", json={"learning_rate": 10.0}).status_code == 200
    ratios = []
    for _ in range(5):
        q = _step(client, rid)["prediction"]
        if q["actual"] is not None and q["predicted"]:
            ratios.append(q["actual"] / q["predicted"])
    assert ratios and max(abs(r - 1) for r in ratios) > 0.5, ratios


def test_many_steps_predict_the_first_of_them(client: TestClient) -> None:
    rid = client.post("/api/runs", json={}).json()["id"]
    start = _strict(client.get(f"/api/runs/{rid}/frame").text)["step"]
    f = _step(client, rid, 40)
    assert f["step"] == start + 40 and f["prediction"]["step"] == start + 1


def test_history_carries_per_layer_series_at_the_costs_steps(client: TestClient) -> None:
    rid = client.post("/api/runs", json={"hidden": [5, 4, 3]}).json()["id"]
    frames = [_step(client, rid, k) for k in (1, 7, 2, 30)]
    h = _strict(client.get(f"/api/runs/{rid}/history").text)
    assert h["histograms"] is None
    steps = [f["step"] for f in frames]
    assert h["step"][-4:] == steps
    assert [layer["l"] for layer in h["layers"]] == [2, 3, 4, 5]
    for layer in h["layers"]:
        for name in ("probe_delta", "probe_grad_w", "grad_b", "grad_w", "saturated", "dead"):
            assert len(layer[name]) == len(h["step"])  # one value per cost point
    for t, f in zip(range(len(h["step"]) - 4, len(h["step"])), frames, strict=True):
        for i, layer in enumerate(f["layers"]):
            for name, value in layer["norms"].items():
                assert h["layers"][i][name][t] == value, (name, t)
        for counted in f["health"]["layers"]:
            assert h["layers"][counted["l"] - 2]["saturated"][t] == counted["saturated"]
    with_hist = _strict(client.get(f"/api/runs/{rid}/history?histograms=true").text)
    snaps = with_hist["histograms"]
    assert snaps["step"][-1] == steps[-1]
    assert snaps["layers"][0]["w"][-1] == frames[-1]["histograms"]["layers"][0]["w"]
    r = client.get(f"/api/runs/{rid}/history?histograms=perhaps")
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "histograms"]


def test_history_says_whose_probe_norms_each_point_holds(client: TestClient) -> None:
    """After the learner picks another probe, the probe's series is two examples' series:
    `probe` names the example of each point, and its norms are that example's frame's."""
    rid = client.post("/api/runs", json={"hidden": [5, 4]}).json()["id"]
    first = _step(client, rid, 3)
    p0 = first["probe"]["index"]
    p1 = (p0 + 9) % 50
    picked = _strict(client.post(f"/api/runs/{rid}/probe", json={"index": p1}).text)
    assert picked["probe"]["index"] == p1 and picked["step"] == first["step"]
    after = [_step(client, rid, k) for k in (2, 5)]
    text = client.get(f"/api/runs/{rid}/history").text
    h = _strict(text)
    at = {s: i for i, s in enumerate(h["step"])}
    # the point at the step of the change was measured on the old probe, and stays
    assert h["probe"][at[first["step"]]] == p0
    assert first["layers"][0]["norms"]["probe_delta"] != picked["layers"][0]["norms"]["probe_delta"]
    assert (
        h["layers"][0]["probe_delta"][at[first["step"]]]
        == first["layers"][0]["norms"]["probe_delta"]
    )
    for f in after:
        assert h["probe"][at[f["step"]]] == p1
        assert (
            h["layers"][0]["probe_delta"][at[f["step"]]] == f["layers"][0]["norms"]["probe_delta"]
        )
    inc = _strict(client.get(f"/api/runs/{rid}/history?since={first['step']}").text)
    assert inc["probe"] == [p1, p1] and inc["step"] == [f["step"] for f in after]
    assert conforms(History, text).probe == h["probe"]


def _merged(have: dict[str, Any], inc: dict[str, Any]) -> dict[str, Any]:
    """What a reader of increments holds: the columns and each layer's series joined (the
    layers and series these tests' runs have from their first point on)."""
    out = {k: have[k] + inc[k] for k in ("step", "epoch", "train_cost", "test_cost")}
    out["layers"] = [
        {k: v if k == "l" else (v or []) + (w[k] or []) for k, v in old.items()}
        for old, w in zip(have["layers"], inc["layers"], strict=True)
    ]
    return out


def test_history_since_a_step_answers_only_the_points_after_it(client: TestClient) -> None:
    rid = client.post("/api/runs", json={**SIGMOID, "learning_rate": 0.5}).json()["id"]
    first = [_step(client, rid, k)["step"] for k in (1, 4, 2)]
    have = _strict(client.get(f"/api/runs/{rid}/history").text)
    assert have["step"] == first
    later = [_step(client, rid, k)["step"] for k in (3, 10, 5)]
    inc = _strict(client.get(f"/api/runs/{rid}/history?since={first[-1]}").text)
    assert inc["step"] == later and inc["revision"] == have["revision"]
    assert all(len(layer["grad_w"]) == 3 for layer in inc["layers"])
    full = _strict(client.get(f"/api/runs/{rid}/history").text)
    cut = {k: full[k] for k in ("step", "epoch", "train_cost", "test_cost", "layers")}
    assert _merged(have, inc) == cut  # the increment and what was read before: all of it
    # a step between points, and one after the last: the points after it, or none
    mid = _strict(client.get(f"/api/runs/{rid}/history?since={later[0] + 1}").text)
    assert mid["step"] == later[1:]
    assert _strict(client.get(f"/api/runs/{rid}/history?since={later[-1]}").text)["step"] == []
    assert _strict(client.get(f"/api/runs/{rid}/history?since=0").text)["step"] == full["step"]
    # histograms: only the snapshots after `since`, and the steps of every snapshot kept
    hs = _strict(client.get(f"/api/runs/{rid}/history?histograms=true&since={first[-1]}").text)
    whole = _strict(client.get(f"/api/runs/{rid}/history?histograms=true").text)["histograms"]
    assert hs["histograms"]["kept"] == whole["step"]
    assert hs["histograms"]["step"] == [s for s in whole["step"] if s > first[-1]]
    n = len(hs["histograms"]["step"])
    assert hs["histograms"]["layers"][0]["w"] == whole["layers"][0]["w"][-n:]
    conforms(History, client.get(f"/api/runs/{rid}/history?histograms=true&since=3").content)
    # a rewind takes points back: the revision says so
    assert client.post(f"/api/runs/{rid}/rewind", json={"step": later[0]}).status_code == 200
    _step(client, rid, 2)
    after = _strict(client.get(f"/api/runs/{rid}/history?since={later[-1]}").text)
    assert after["revision"] != have["revision"] and after["step"] == []
    again = _strict(client.get(f"/api/runs/{rid}/history").text)
    assert again["step"] == [*first, later[0], later[0] + 2]
    assert client.post(f"/api/runs/{rid}/reset").status_code == 200
    assert _strict(client.get(f"/api/runs/{rid}/history").text)["revision"] != after["revision"]


def test_history_since_the_last_point_sends_empty_counts_not_null(client: TestClient) -> None:
    """No new point: each counted layer's ``saturated``/``dead`` is ``[]`` (they were
    ``null``, which says "a layer the health does not count"); the output under
    cross-entropy, which the health does not count (σ′ cancels), stays ``null``."""
    config = {**SIGMOID, "cost": "cross_entropy"}
    rid = client.post("/api/runs", json=config).json()["id"]
    last = _step(client, rid, 3)["step"]
    full = _strict(client.get(f"/api/runs/{rid}/history").text)
    counted = {x["l"] for x in full["layers"] if x["saturated"] is not None}
    assert counted == {2, 3, 4}  # the hidden layers; the output layer 5 is not counted
    inc = _strict(client.get(f"/api/runs/{rid}/history?since={last}").text)
    assert inc["step"] == []
    for layer in inc["layers"]:
        want = [] if layer["l"] in counted else None
        assert layer["saturated"] == want and layer["dead"] == want, layer
        assert layer["grad_w"] == []


@pytest.mark.parametrize(
    ("since", "says"),
    [
        ("-1", "greater than or equal to 0"),
        ("abc", "valid integer"),
        ("2.5", "valid integer"),
        (str(2**53 + 1), "less than or equal to 9007199254740992"),
        ("", "valid integer"),
    ],
)
def test_a_bad_since_is_a_422_naming_it(client: TestClient, since: str, says: str) -> None:
    rid = client.post("/api/runs", json={}).json()["id"]
    r = client.get(f"/api/runs/{rid}/history?since={since}")
    assert r.status_code == 422, r.text
    issue = r.json()["detail"][0]
    assert issue["loc"] == ["query", "since"] and says in issue["msg"], issue


def test_a_diverged_run_sends_no_nan_in_frames_history_or_histograms(client: TestClient) -> None:
    rid = client.post("/api/runs", json=DIVERGING).json()["id"]
    for _ in range(4):
        r = client.post(f"/api/runs/{rid}/step?grid=false", json={"steps": 25})
        if r.status_code == 409:
            break
        f = _strict(r.text)
    frame = _strict(client.get(f"/api/runs/{rid}/frame").text)
    assert frame["status"] == "diverged"
    assert f["prediction"] is not None
    _strict(client.get(f"/api/runs/{rid}/history?histograms=true").text)


CONFIGS = [
    {"hidden": [3], "init": "zeros"},  # every weight equal: the constant histogram's range
    {"hidden": [8, 8], "hidden_activation": "relu", "learning_rate": 3.0},  # dead ReLUs
    {"dataset": "spiral", "output_activation": "softmax", "cost": "log_likelihood"},
    {"hidden": [5, 4], "feedback": "random", "regulariser": "l1", "lambda": 0.5},
    {"hidden": [], "output_activation": "sigmoid", "cost": "cross_entropy", "momentum": 0.9},
]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: ",".join(map(str, c.values())))
def test_frames_and_history_match_their_models_for_any_network(
    client: TestClient, config: dict[str, Any]
) -> None:
    rid = client.post("/api/runs", json=config).json()["id"]
    for steps in (1, 13, 2):
        r = client.post(f"/api/runs/{rid}/step?grid=false", json={"steps": steps})
        if r.status_code == 409:  # diverged: its frames are still held to the model
            break
        frame = conforms(Frame, r.content)
        assert frame.histograms is not None and frame.prediction is not None
        for layer in frame.histograms.layers:
            for h in (layer.w, layer.a, layer.delta):
                assert h is None or (sum(h.counts) > 0 and len(h.edges) == 21)
    conforms(Frame, client.get(f"/api/runs/{rid}/frame").content)
    conforms(History, client.get(f"/api/runs/{rid}/history?histograms=true").content)


def test_a_stream_sends_histograms_and_predictions_where_the_page_reads_them(
    client: TestClient, run_id: str
) -> None:
    with client.websocket_connect(f"/api/runs/{run_id}/stream") as ws:
        first = ws.receive_json()
        assert first["histograms"] is not None and first["prediction"] is None
        assert first["history"]["layers"][0]["l"] == 2
        ws.send_json({"type": "step", "steps": 1})  # paused: the step is the one predicted
        f = ws.receive_json()
        assert f["prediction"]["step"] == f["step"] == 1 and f["histograms"] is not None
        ws.send_json({"type": "play"})
        seen = []
        while len(seen) < 25:
            f = ws.receive_json()
            if f["type"] == "frame" and f["status"] == "running":
                seen.append(f)
        ws.send_json({"type": "pause"})
    with_grid = [f for f in seen if f["grid"] is not None]
    assert with_grid, "a playing stream sends a grid every 10th frame"
    assert all(f["histograms"] is not None for f in with_grid)
    assert all(f["histograms"] is None for f in seen if f["grid"] is None)
    # each prediction is of the first step after a grid frame (or after the paused step)
    armed = {1} | {f["step"] for f in with_grid}
    assert all(f["prediction"]["step"] - 1 in armed for f in seen)
