"""`POST /api/runs/{id}/nudge` and `/nudge_layer` (docs/api.md): the measured slope of the
probe's cost beside backprop's value, as a student would ask for it."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from app.api import nudge as api_nudge
from app.core.network import backprop
from tests.api.conftest import TestClient, client_for
from tests.api.test_stream import the_run


def strict(body: bytes) -> Any:
    """JSON as a browser's JSON.parse reads it: NaN and Infinity are not numbers."""

    def refuse(token: str) -> None:
        raise AssertionError(f"{token} left the server")

    return json.loads(body, parse_constant=refuse)


def nudge(client: TestClient, run_id: str, **body: Any) -> Any:
    return client.post(f"/api/runs/{run_id}/nudge", json=body)


def test_each_quantity_measured_beside_backprop(client: TestClient, run_id: str) -> None:
    """The default run (2-4-2-1, tanh, on circle) after a few steps: z, a, w and b of
    every layer; the slope measured agrees with backprop's value to 6 digits, and that is
    the value the explain panel shows for the same neuron or edge."""
    client.post(f"/api/runs/{run_id}/step", json={"steps": 20})
    run = the_run(client, run_id)
    st = run.state
    assert st.net.sizes == [2, 4, 2, 1]
    t = backprop(st.net, st.cost_name, st.x[[run.probe]], st.y[[run.probe]])
    cases = [
        ({"of": "z", "l": 2, "j": 1}, t.delta[0][0, 1]),
        ({"of": "z", "l": 4, "j": 0}, t.delta[2][0, 0]),
        ({"of": "a", "l": 3, "j": 1}, (t.delta[2] @ st.net.weights[2])[0, 1]),
        ({"of": "w", "l": 3, "j": 1, "k": 2}, t.grad_w[1][1, 2]),
        ({"of": "b", "l": 2, "j": 3}, t.grad_b[0][3]),
    ]
    for body, want in cases:
        r = nudge(client, run_id, **body)
        assert r.status_code == 200, r.text
        got = strict(r.content)
        assert got["backprop"] == want
        assert got["measured"] == pytest.approx(want, rel=1e-6, abs=1e-9)
        assert got["forward_passes"] == 2
        assert got["of"] == body["of"] and got["l"] == body["l"] and got["j"] == body["j"]
        assert got["k"] == body.get("k")
        assert got["probe"] == run.probe and got["step"] == 20
        assert got["cost"] == pytest.approx(t.cost_x[0], rel=1e-15)
        assert 6.0e-6 <= got["epsilon"] < 1e-4  # ∛u · max(1, |q|): |q| is small here
    # the same numbers as the explain panel's (float64 frame.explain)
    frame = client.get(f"/api/runs/{run_id}/frame?explain=2,1").json()
    z = nudge(client, run_id, of="z", l=2, j=1).json()
    assert z["backprop"] == pytest.approx(frame["explain"]["probe"]["delta"], rel=1e-12)
    frame = client.get(f"/api/runs/{run_id}/frame?explain=3,1,2").json()
    w = nudge(client, run_id, of="w", l=3, j=1, k=2).json()
    assert w["backprop"] == pytest.approx(frame["explain"]["probe"]["gradient"], rel=1e-12)
    assert frame["probe"]["cost"] == float(f"{w['cost']:.4g}")  # the frame's 4 digits


def test_a_chosen_epsilon_is_used(client: TestClient, run_id: str) -> None:
    small = nudge(client, run_id, of="w", l=2, j=0, k=1).json()
    big = nudge(client, run_id, of="w", l=2, j=0, k=1, epsilon=0.5).json()
    assert big["epsilon"] == pytest.approx(0.5, rel=1e-12)
    assert big["backprop"] == small["backprop"]
    # a step of 0.5 is not small on tanh's scale: the measurement moves off backprop's value
    assert big["measured"] != pytest.approx(small["measured"], rel=1e-6)


def test_nudging_does_not_change_the_run(client: TestClient, run_id: str) -> None:
    client.post(f"/api/runs/{run_id}/step", json={"steps": 3})
    run = the_run(client, run_id)
    before = run.state.trainer.theta.copy()
    frame = client.get(f"/api/runs/{run_id}/frame").json()
    for body in (
        {"of": "z", "l": 3, "j": 0},
        {"of": "a", "l": 4, "j": 0},
        {"of": "w", "l": 4, "j": 0, "k": 1, "epsilon": 1.0},
        {"of": "b", "l": 2, "j": 2},
    ):
        assert nudge(client, run_id, **body).status_code == 200
    assert client.post(f"/api/runs/{run_id}/nudge_layer", json={"l": 2}).status_code == 200
    assert np.array_equal(run.state.trainer.theta, before)
    after = client.get(f"/api/runs/{run_id}/frame").json()
    assert after["step"] == frame["step"] == 3
    assert after["layers"] == frame["layers"] and after["probe"] == frame["probe"]
    assert client.get(f"/api/runs/{run_id}").json()["step"] == 3


@pytest.mark.parametrize(
    ("body", "loc", "says"),
    [
        ({"of": "z", "l": 1, "j": 0}, "l", "2..4"),
        ({"of": "a", "l": 1, "j": 0}, "l", "input"),
        ({"of": "z", "l": 5, "j": 0}, "l", "L = 4"),
        ({"of": "z", "l": 3, "j": 2}, "j", "0..1"),
        ({"of": "w", "l": 3, "j": 0}, "k", "needs k"),
        ({"of": "w", "l": 2, "j": 0, "k": 2}, "k", "0..1"),
        ({"of": "b", "l": 2, "j": 0, "k": 0}, "k", "weight w only"),
        ({"of": "q", "l": 2, "j": 0}, "of", "'z'"),
        ({"of": "z", "l": 2, "j": 0, "epsilon": 0}, "epsilon", "between 1e-15 and 1 "),
        ({"of": "z", "l": 2, "j": 0, "epsilon": 2}, "epsilon", "between 1e-15 and 1 "),
        ({"of": "z", "l": 2, "j": -1}, "j", "0"),
        ({"of": "z", "l": 2, "j": 0, "x": 1}, "x", "xtra"),
        ({"l": 2, "j": 0}, "of", "required"),
    ],
)
def test_bad_requests_name_the_field_and_limit(
    client: TestClient, run_id: str, body: dict[str, Any], loc: str, says: str
) -> None:
    r = nudge(client, run_id, **body)
    assert r.status_code == 422, r.text
    issues = strict(r.content)["detail"]
    assert any(i["loc"] == ["body", loc] and says in i["msg"] for i in issues), issues


def test_nan_and_garbage_are_422(client: TestClient, run_id: str) -> None:
    for raw in (
        b'{"of": "z", "l": 2, "j": 0, "epsilon": NaN}',
        b'{"of": "z", "l": 2, "j": 0, "epsilon": Infinity}',
        b'{"of": "z", "l": 2.5, "j": 0}',
        b'{"of": "z", "l": "2", "j": 0}',
        b"[1, 2]",
        b"{",
    ):
        r = client.post(f"/api/runs/{run_id}/nudge", content=raw)
        assert r.status_code == 422, (raw, r.text)
        strict(r.content)
    assert client.post("/api/runs/nope/nudge", json={"of": "z", "l": 2, "j": 0}).status_code == 404


def test_a_saturated_output_under_a_logarithm_is_409_not_nan() -> None:
    """A sigmoid output pushed to exactly 1.0 (every weight into it 100, matching the signs
    of the probe's a^2): cross-entropy's ln(1 − a) has no finite slope in a^L there."""
    with client_for() as client:
        config = {"hidden": [8], "output_activation": "sigmoid", "cost": "cross_entropy"}
        run_id = client.post("/api/runs", json=config).json()["id"]
        a_hidden = client.get(f"/api/runs/{run_id}/frame").json()["layers"][0]["a"]
        for k, a in enumerate(a_hidden):
            value = 100.0 if a >= 0 else -100.0
            client.put(f"/api/runs/{run_id}/weights/3/0/{k}?grid=false", json={"value": value})
        frame = client.get(f"/api/runs/{run_id}/frame?explain=3,0").json()
        assert frame["explain"]["probe"]["a"] == 1.0
        r = nudge(client, run_id, of="a", l=3, j=0)
        assert r.status_code == 409
        assert "no finite slope" in strict(r.content)["detail"]
        # its z still has a slope: δ^L = a − y
        r = nudge(client, run_id, of="z", l=3, j=0)
        assert r.status_code == 200
        got = strict(r.content)
        assert got["measured"] == pytest.approx(got["backprop"], rel=1e-6, abs=1e-12)


def worker_calls(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the functions the app's worker thread is given from now on."""
    calls: list[str] = []
    workers = client.app.state.workers  # type: ignore[attr-defined]
    real_run = workers.run

    async def counted(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(fn.__name__)
        return await real_run(fn, *args, **kwargs)

    monkeypatch.setattr(workers, "run", counted)
    return calls


def test_every_weight_of_a_layer(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """8-8 hidden layers: w^3 has 64 weights, 128 forward passes (run in a worker)."""
    run_id = client.post("/api/runs", json={"hidden": [8, 8]}).json()["id"]
    client.post(f"/api/runs/{run_id}/step", json={"steps": 10})
    calls = worker_calls(client, monkeypatch)
    r = client.post(f"/api/runs/{run_id}/nudge_layer", json={"l": 3})
    assert calls == ["nudge_layer"]
    assert r.status_code == 200, r.text
    got = strict(r.content)
    assert got["l"] == 3 and got["count"] == 64 and got["forward_passes"] == 128
    assert got["backprop"]["forward_passes"] == 1 and got["backprop"]["backward_passes"] == 1
    assert got["seconds"] > 0 and got["backprop"]["seconds"] > 0
    assert got["max_rel_diff"] < 1e-6
    assert got["step"] == 10
    worst = got["worst"]
    one = nudge(client, run_id, of="w", l=3, j=worst["j"], k=worst["k"]).json()
    assert one["measured"] == worst["measured"] and one["backprop"] == worst["backprop"]
    # the output layer's weights: 8 of them, nudged on the event loop
    small = strict(client.post(f"/api/runs/{run_id}/nudge_layer", json={"l": 4}).content)
    assert small["count"] == 8 and small["forward_passes"] == 16
    assert calls == ["nudge_layer"]  # 16 passes: on the event loop


@pytest.mark.parametrize(
    ("body", "loc", "says"),
    [
        ({"l": 1}, "l", "2..3"),
        ({"l": 4}, "l", "L = 3"),
        ({"l": 2, "epsilon": -1}, "epsilon", "between"),
    ],
)
def test_layer_bad_requests(
    client: TestClient, run_id: str, body: dict[str, Any], loc: str, says: str
) -> None:
    client.patch(f"/api/runs/{run_id}", json={"hidden": [3]})
    r = client.post(f"/api/runs/{run_id}/nudge_layer", json=body)
    assert r.status_code == 422, r.text
    issues = strict(r.content)["detail"]
    assert any(i["loc"] == ["body", loc] and says in i["msg"] for i in issues), issues


def test_a_layer_too_big_to_nudge_whole_is_refused() -> None:
    with client_for(max_width=80) as client:
        run_id = client.post("/api/runs", json={"hidden": [70, 70]}).json()["id"]
        r = client.post(f"/api/runs/{run_id}/nudge_layer", json={"l": 3})
        assert r.status_code == 422
        (issue,) = strict(r.content)["detail"]
        assert issue["loc"] == ["body", "l"] and "4900" in issue["msg"] and "4096" in issue["msg"]
        # a single weight of it is fine
        assert nudge(client, run_id, of="w", l=3, j=69, k=69).status_code == 200


def test_a_step_that_does_not_move_the_weight_is_422(client: TestClient, run_id: str) -> None:
    """w = 40: 40 ± 1e-15 rounds to 40, there is no slope to measure (one weight or all)."""
    client.put(f"/api/runs/{run_id}/weights/2/0/0?grid=false", json={"value": 40})
    r = nudge(client, run_id, of="w", l=2, j=0, k=0, epsilon=1e-15)
    assert r.status_code == 422
    (issue,) = strict(r.content)["detail"]
    assert issue["loc"] == ["body", "epsilon"] and "spacing" in issue["msg"]
    r = client.post(f"/api/runs/{run_id}/nudge_layer", json={"l": 2, "epsilon": 1e-15})
    assert r.status_code == 422
    (issue,) = strict(r.content)["detail"]
    assert issue["loc"] == ["body", "epsilon"] and "spacing" in issue["msg"]


def test_a_big_network_is_nudged_in_a_worker(
    client: TestClient, run_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Networks over INLINE_PARAMS parameters (only an operator's raised caps allow them)
    are nudged on a copy in the worker thread: here the threshold is lowered to 0 so that
    the default network takes that path, and answers as the reference does."""
    monkeypatch.setattr(api_nudge, "INLINE_PARAMS", 0)
    run = the_run(client, run_id)
    st = run.state
    before = st.trainer.theta.copy()
    calls = worker_calls(client, monkeypatch)
    r = nudge(client, run_id, of="w", l=3, j=1, k=3)
    assert r.status_code == 200, r.text
    assert calls == ["nudge"]
    got = strict(r.content)
    t = backprop(st.net, st.cost_name, st.x[[run.probe]], st.y[[run.probe]])
    assert got["backprop"] == t.grad_w[1][1, 3]
    assert got["measured"] == pytest.approx(got["backprop"], rel=1e-6, abs=1e-12)
    assert np.array_equal(st.trainer.theta, before)


def test_a_student_trying_everything_gets_no_500(client: TestClient, run_id: str) -> None:
    """120 seeded pairs of requests mixing fitting and unfitting values: every answer is
    200, 409 or 422, in strict JSON, and the run is unchanged."""
    rng = np.random.default_rng(12)
    theta = the_run(client, run_id).state.trainer.theta.copy()
    bad: list[Any] = [-1, 5, 4095, 4096, 10**12, 1.5, "1", None, True, [], {}]

    def pick(good: list[Any], wrong: list[Any]) -> Any:
        pool = good if rng.random() < 0.7 else wrong
        return pool[rng.integers(len(pool))]

    seen = set()
    for _ in range(120):
        body = {
            "of": pick(["z", "a", "w", "b"], ["Z", "", 3, None]),
            "l": pick([2, 3, 4], [0, 1, *bad]),
            "j": pick([0, 1], [2, 3, *bad]),
            "k": pick([None, 0, 1], [2, 3, *bad]),
            "epsilon": pick([None, 1e-8, 0.3], [1e-300, 1e-15, 1.0000001, -0.0, "0.1", 1e308]),
        }
        body = {key: v for key, v in body.items() if rng.random() < 0.9 or key in ("of", "l")}
        r = nudge(client, run_id, **body)
        assert r.status_code in (200, 409, 422), (body, r.text)
        strict(r.content)
        seen.add(r.status_code)
        layer = {"l": body["l"], "epsilon": body.get("epsilon")}
        r = client.post(f"/api/runs/{run_id}/nudge_layer", json=layer)
        assert r.status_code in (200, 409, 422), (layer, r.text)
        strict(r.content)
    assert {200, 422} <= seen
    assert np.array_equal(the_run(client, run_id).state.trainer.theta, theta)
