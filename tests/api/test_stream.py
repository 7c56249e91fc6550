"""The WebSocket protocol of docs/api.md, through Starlette's TestClient."""

from __future__ import annotations

import time
from typing import Any

import pytest
from starlette.websockets import WebSocketDisconnect

from app.runs.run import Run
from tests.api.conftest import DIVERGING, TestClient, client_for

Msg = dict[str, Any]


def url(run_id: str) -> str:
    return f"/api/runs/{run_id}/stream"


def next_of(ws: Any, kind: str, limit: int = 50) -> Msg:
    for _ in range(limit):
        msg: Msg = ws.receive_json()
        if msg["type"] == kind:
            return msg
    raise AssertionError(f"no {kind} message in {limit}")


def the_run(client: TestClient, run_id: str) -> Run:
    run: Run = client.app.state.store.get(run_id)  # type: ignore[attr-defined]
    return run


def test_first_frame_then_play_and_pause(client: TestClient, run_id: str) -> None:
    with client.websocket_connect(url(run_id)) as ws:
        first = ws.receive_json()
        assert first["type"] == "frame" and first["status"] == "paused" and first["step"] == 0
        assert first["grid"] is not None and first["history"] is not None
        assert first["fps"] == 30.0
        ws.send_json({"type": "play"})
        steps = [next_of(ws, "frame")["step"] for _ in range(5)]
        assert steps == sorted(steps) and steps[0] >= 10 and all(s % 10 == 0 for s in steps)
        assert client.get(f"/api/runs/{run_id}").json()["status"] == "running"
        ws.send_json({"type": "pause"})
        paused = None
        while paused is None or paused["status"] != "paused":
            paused = next_of(ws, "frame")
        assert paused["grid"] is not None
        ws.send_json({"type": "grid"})
        again = next_of(ws, "frame")
        assert again["step"] == paused["step"] and again["grid"] is not None


def test_step_reset_speed_probe(client: TestClient, run_id: str) -> None:
    with client.websocket_connect(url(run_id)) as ws:
        ws.receive_json()
        ws.send_json({"type": "step", "steps": 7})
        f = next_of(ws, "frame")
        assert f["step"] == 7 and f["grid"] is not None
        ws.send_json({"type": "step", "epochs": 1})
        assert next_of(ws, "frame")["step"] == 7 + 25
        ws.send_json({"type": "step"})
        assert next_of(ws, "frame")["step"] == 33
        ws.send_json({"type": "reset"})
        f = next_of(ws, "frame")
        assert f["step"] == 0 and f["history"]["step"] == [0]
        ws.send_json({"type": "speed", "steps_per_frame": 3})
        assert next_of(ws, "frame")["steps_per_frame"] == 3
        ws.send_json({"type": "probe", "index": 42})
        assert next_of(ws, "frame")["probe"]["index"] == 42
        ws.send_json({"type": "play"})
        a, b = next_of(ws, "frame"), next_of(ws, "frame")
        assert b["step"] - a["step"] == 3 and a["probe"]["index"] == 42


def test_set_keeps_weights_or_rebuilds_mid_stream(client: TestClient, run_id: str) -> None:
    with client.websocket_connect(url(run_id)) as ws:
        ws.receive_json()
        ws.send_json({"type": "play"})
        next_of(ws, "frame")
        ws.send_json({"type": "set", "learning_rate": 0.1, "batch_size": 5})
        f = next_of(ws, "frame")
        while f["hyper"]["learning_rate"] != 0.1:
            f = next_of(ws, "frame")
        assert f["hyper"]["batch_size"] == 5 and f["step"] > 0 and not f["data_changed"]
        ws.send_json({"type": "pause"})
        ws.send_json({"type": "set", "momentum": 0.5})
        f = next_of(ws, "frame")
        while f["hyper"]["momentum"] != 0.5:
            f = next_of(ws, "frame")
        w_before = f["layers"][0]["w"]
        ws.send_json({"type": "set", "regulariser": "l1", "lambda": 0.01})
        f = next_of(ws, "frame")
        assert f["layers"][0]["w"] == w_before  # hyperparameters keep the weights
        ws.send_json({"type": "set", "hidden": [3], "dataset": "xor"})
        rebuilt = next_of(ws, "rebuilt")
        assert rebuilt["run"]["sizes"] == [2, 3, 1] and rebuilt["run"]["step"] == 0
        assert rebuilt["run"]["config"]["dataset"] == "xor"
        f = next_of(ws, "frame")
        assert f["data_changed"] and f["step"] == 0 and f["grid"] is not None
        assert f["hyper"]["learning_rate"] == 0.1  # kept from before the rebuild
        ws.send_json({"type": "set", "hidden": [99]})
        err = next_of(ws, "error")
        assert "hidden.0" in err["detail"] and "max_width" in err["detail"]


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        ("not json", "JSON"),
        ('{"type": "speed", "steps_per_frame": NaN}', "JSON"),
        ('{"type": "fly"}', "fly"),
        ('{"type": "speed"}', "steps_per_frame"),
        ('{"type": "speed", "steps_per_frame": 0}', "steps_per_frame"),
        ('{"type": "speed", "steps_per_frame": 100001}', "steps_per_frame"),
        ('{"type": "speed", "steps_per_frame": true}', "steps_per_frame"),
        ('{"type": "probe", "index": 100000}', "index"),
        ('{"type": "play", "extra": 1}', "extra"),
        ('{"type": "set", "learning_rate": "fast"}', "learning_rate"),
        ('{"type": "step", "steps": 1, "epochs": 1}', "not both"),
        ('{"type": "step", "steps": 100001}', "max_steps_per_request"),
        ("[1, 2]", "object"),
        ("x" * 70_000, "max_ws_message_bytes"),
    ],
)
def test_bad_messages_get_an_error_and_the_stream_stays(
    client: TestClient, run_id: str, raw: str, needle: str
) -> None:
    with client.websocket_connect(url(run_id)) as ws:
        ws.receive_json()
        ws.send_text(raw)
        err = next_of(ws, "error")
        assert needle in err["detail"], err
        ws.send_json({"type": "step", "steps": 2})
        assert next_of(ws, "frame")["step"] == 2


def test_binary_messages_are_refused(client: TestClient, run_id: str) -> None:
    with client.websocket_connect(url(run_id)) as ws:
        ws.receive_json()
        ws.send_bytes(b'{"type": "play"}')
        assert "binary" in next_of(ws, "error")["detail"]


def test_message_flood_is_limited(client: TestClient, run_id: str) -> None:
    with client.websocket_connect(url(run_id)) as ws:
        ws.receive_json()
        for _ in range(80):
            ws.send_json({"type": "speed", "steps_per_frame": 2})
        assert "per second" in next_of(ws, "error", limit=100)["detail"]


def test_a_message_refused_by_the_rate_limit_gets_its_id(client: TestClient, run_id: str) -> None:
    """The "messages per second" error carried no ``id``: a script could not tell which of
    its messages were ignored."""
    with client.websocket_connect(url(run_id)) as ws:
        ws.receive_json()
        for i in range(100, 180):
            ws.send_json({"type": "speed", "steps_per_frame": 2, "id": i})
        time.sleep(1.1)  # the budget refills: the marker below is not rate-limited
        ws.send_json({"type": "probe", "index": -1, "id": 999})  # refused: ends the list
        refused: list[Msg] = []
        while (err := next_of(ws, "error", limit=500)).get("id") != 999:
            refused.append(err)
        assert len(refused) >= 20  # 80 messages, 50 a second
        assert all("per second" in e["detail"] for e in refused)
        ids = [e.get("id") for e in refused]
        assert all(isinstance(i, int) and 100 <= i < 180 for i in ids), ids
        assert ids == sorted(set(ids))  # one error per refused message, in the order sent
        ws.send_text('{"type": "speed", "steps_per_frame": 2, "id": 5')  # not JSON: no id
        assert "id" not in next_of(ws, "error")


def test_divergence_stops_and_reset_recovers(client: TestClient) -> None:
    rid = client.post("/api/runs", json=DIVERGING).json()["id"]
    with client.websocket_connect(url(rid)) as ws:
        ws.receive_json()
        ws.send_json({"type": "speed", "steps_per_frame": 50})
        ws.send_json({"type": "play"})
        f = next_of(ws, "frame")
        while f["status"] != "diverged":
            f = next_of(ws, "frame")
        assert f["grid"] is not None
        assert the_run(client, rid).playing is False
        ws.send_json({"type": "play"})
        assert "diverged" in next_of(ws, "error")["detail"]
        ws.send_json({"type": "reset"})
        f = next_of(ws, "frame")
        while f["step"] != 0:  # the frame that answered the refused play may come first
            f = next_of(ws, "frame")
        assert f["status"] == "paused"
        ws.send_json({"type": "set", "learning_rate": 0.001})
        ws.send_json({"type": "play"})
        f = next_of(ws, "frame")
        while f["status"] != "running":
            f = next_of(ws, "frame")


def test_origin_is_checked() -> None:
    with client_for(allowed_origins=("http://school.example:8000",)) as c:
        rid = c.post("/api/runs", json={}).json()["id"]
        for origin in ("http://evil.example", "null", "http://testserver.evil", "file://"):
            with (
                pytest.raises(WebSocketDisconnect) as e,
                c.websocket_connect(url(rid), headers={"origin": origin}),
            ):
                pass
            assert e.value.code == 1008
        for origin in ("http://testserver", "http://school.example:8000"):
            with c.websocket_connect(url(rid), headers={"origin": origin}) as ws:
                assert ws.receive_json()["type"] == "frame"


def test_unknown_run_closes_with_4404(client: TestClient) -> None:
    with client.websocket_connect(url("nosuchrun")) as ws:
        assert "no such run" in ws.receive_json()["detail"]
        with pytest.raises(WebSocketDisconnect) as e:
            ws.receive_json()
        assert e.value.code == 4404


def test_a_newer_stream_takes_over_the_run(client: TestClient, run_id: str) -> None:
    with client.websocket_connect(url(run_id)) as old:
        old.receive_json()
        with client.websocket_connect(url(run_id)) as new:
            new.receive_json()
            with pytest.raises(WebSocketDisconnect) as e:
                next_of(old, "never")
            assert e.value.code == 4000
            new.send_json({"type": "step", "steps": 1})
            assert next_of(new, "frame")["step"] == 1


def test_deleting_the_run_closes_its_stream(client: TestClient, run_id: str) -> None:
    with client.websocket_connect(url(run_id)) as ws:
        ws.receive_json()
        assert client.delete(f"/api/runs/{run_id}").status_code == 204
        with pytest.raises(WebSocketDisconnect) as e:
            next_of(ws, "never")
        assert e.value.code == 4000


def test_disconnect_stops_training_within_a_second(client: TestClient, run_id: str) -> None:
    run = the_run(client, run_id)
    with client.websocket_connect(url(run_id)) as ws:
        ws.receive_json()
        ws.send_json({"type": "speed", "steps_per_frame": 1000})
        ws.send_json({"type": "play"})
        next_of(ws, "frame")
        next_of(ws, "frame")
        assert run.playing
    t0 = time.monotonic()
    while run.session is not None and time.monotonic() - t0 < 1.0:
        time.sleep(0.01)
    assert run.session is None and not run.playing
    step = run.step
    time.sleep(0.2)
    assert run.step == step
    assert client.get(f"/api/runs/{run_id}").json()["status"] == "paused"


def _play_one_second(steps_per_frame: int) -> tuple[Msg, list[Msg]]:
    """The first frame after `play` at 10 frames/s at most, and the frames of the next second."""
    with client_for(max_fps=10.0) as c:
        rid = c.post("/api/runs", json={}).json()["id"]
        with c.websocket_connect(url(rid)) as ws:
            ws.receive_json()
            ws.send_json({"type": "speed", "steps_per_frame": steps_per_frame})
            ws.send_json({"type": "play"})
            first = next_of(ws, "frame")
            t0, frames = time.monotonic(), []
            while time.monotonic() - t0 < 1.0:
                frames.append(next_of(ws, "frame"))
            return first, frames


@pytest.mark.timed  # counts frames in a second: make test's serial pass
def test_frame_rate_is_capped() -> None:
    _, frames = _play_one_second(1)
    assert 3 <= len(frames) <= 12  # the cap; fewer only if the machine is very busy


def test_a_streams_bytes_a_second_are_capped() -> None:
    """max_stream_kb_per_s holds a stream's frames, on average, to that many kB a second (a
    class shares the school's network): the frames come slower, not smaller, and say so."""
    cap_kb = 40.0
    with client_for(max_stream_kb_per_s=cap_kb) as c:
        rid = c.post("/api/runs", json={"dataset": "digits", "hidden": [30]}).json()["id"]
        with c.websocket_connect(url(rid)) as ws:
            ws.receive_json()
            ws.send_json({"type": "play"})
            next_of(ws, "frame")
            sizes: list[int] = []
            t0 = time.monotonic()
            while time.monotonic() - t0 < 2.0:
                text = ws.receive_text()
                if '"type":"frame"' in text[:40]:
                    sizes.append(len(text))
            seconds = time.monotonic() - t0
    mean = sum(sizes) / len(sizes)
    assert mean > 100_000  # the digits' 64-30-10 frames (~150 kB): the cap binds
    # At most the cap (after the first frame's interval: one more frame may arrive early).
    assert (sum(sizes) - max(sizes)) / seconds <= cap_kb * 1000 * 1.1
    assert 1 <= len(sizes) <= 3


def test_disconnect_cancels_a_long_step_request(client: TestClient) -> None:
    rid = client.post("/api/runs", json={"hidden": [8, 8, 8, 8, 8, 8]}).json()["id"]
    run = the_run(client, rid)
    with client.websocket_connect(url(rid)) as ws:
        ws.receive_json()
        ws.send_json({"type": "step", "steps": 100_000})  # several seconds of training
        t0 = time.monotonic()
        while run.step == 0 and time.monotonic() - t0 < 2:
            time.sleep(0.01)
        assert 0 < run.step < 100_000
    t0 = time.monotonic()
    while run.session is not None and time.monotonic() - t0 < 1.0:
        time.sleep(0.01)
    assert run.session is None
    step = run.step
    time.sleep(0.3)
    assert run.step == step < 100_000


def test_runs_and_sessions_are_freed_after_delete(client: TestClient) -> None:
    """Nothing keeps a deleted run (or its stream) alive: its memory is returned."""
    import gc
    import weakref

    refs = []
    for _ in range(3):
        rid = client.post("/api/runs", json={}).json()["id"]
        run = the_run(client, rid)
        with client.websocket_connect(url(rid)) as ws:
            ws.receive_json()
            ws.send_json({"type": "play"})
            next_of(ws, "frame")
            refs.append(weakref.ref(run))
            refs.append(weakref.ref(run.session))  # type: ignore[arg-type]
        client.delete(f"/api/runs/{rid}")
        del run
    t0 = time.monotonic()
    while any(r() is not None for r in refs) and time.monotonic() - t0 < 2:
        gc.collect()
        time.sleep(0.05)
    assert all(r() is None for r in refs)
    assert client.app.state.pacer.playing == 0  # type: ignore[attr-defined]


def test_a_rebuild_through_rest_reaches_the_stream(client: TestClient, run_id: str) -> None:
    with client.websocket_connect(url(run_id)) as ws:
        ws.receive_json()
        assert client.patch(f"/api/runs/{run_id}", json={"hidden": [5]}).status_code == 200
        ws.send_json({"type": "grid"})
        assert next_of(ws, "rebuilt")["run"]["sizes"] == [2, 5, 1]
        f = next_of(ws, "frame")
        assert f["data_changed"] and f["sizes"] == [2, 5, 1] and f["history"] is not None


@pytest.mark.timed  # counts frames in a second: make test's serial pass
def test_max_speed_trains_for_the_frame_interval_and_keeps_the_frame_rate() -> None:
    """Asking for more steps per frame than fit: training stops at the frame's time budget,
    so frames keep coming at the cap while every frame trains many steps."""
    first, frames = _play_one_second(100_000)
    steps = [b["step"] - a["step"] for a, b in zip([first, *frames[:-1]], frames, strict=True)]
    assert 5 <= len(frames) <= 12  # the cap, not one frame per 100,000 steps
    assert max(steps) < 100_000 and sorted(steps)[len(steps) // 2] > 100


def test_errors_carry_the_id_of_the_message_they_answer(client: TestClient, run_id: str) -> None:
    """Each refused message's ``error`` echoes its ``id``; accepted ones get no error, and
    an error for a message without a (usable) id has none."""
    with client.websocket_connect(url(run_id)) as ws:
        ws.receive_json()
        sent: list[Msg] = [
            {"type": "probe", "index": 3, "id": 1},  # accepted
            {"type": "probe", "index": -1, "id": 2},  # refused by the message's bounds
            {"type": "set_weight", "l": 9, "j": 0, "k": 0, "value": 0.5, "id": 3},  # no layer 9
            {"type": "speed", "steps_per_frame": 2, "id": 4},  # accepted
            {"type": "step", "steps": 100_001, "id": 2**53 - 1},  # over max_steps_per_request
            {"type": "probe", "index": 9999},  # refused, no id
            {"type": "play", "id": -5},  # the id itself is refused
        ]
        for msg in sent:
            ws.send_json(msg)
        errors = [next_of(ws, "error") for _ in range(5)]
        assert [e.get("id") for e in errors] == [2, 3, 2**53 - 1, None, None]
        assert "index" in errors[0]["detail"]
        assert errors[1]["detail"].startswith("l:") and "L = 4" in errors[1]["detail"]
        assert "max_steps_per_request" in errors[2]["detail"]
        assert "id" not in errors[3] and "250 examples" in errors[3]["detail"]
        assert "id" not in errors[4] and errors[4]["detail"].startswith("play.id:")
        ws.send_json({"type": "grid", "id": 5})
        f = next_of(ws, "frame")
        while f["steps_per_frame"] != 2:
            f = next_of(ws, "frame")
        assert f["probe"]["index"] == 3  # the accepted messages took effect


def test_a_command_is_refused_alike_by_rest_and_the_stream(client: TestClient, run_id: str) -> None:
    """probe, set_weight and step are the same commands both ways: the same limits, said
    in the same words."""
    base = f"/api/runs/{run_id}"
    rest = [
        client.post(f"{base}/probe", json={"index": 250}),
        client.put(f"{base}/weights/3/2/0", json={"value": 1.0}),
        client.post(f"{base}/step", json={"epochs": 5000}),
    ]
    assert [r.status_code for r in rest] == [422, 422, 422]
    rest_msgs = [r.json()["detail"][0]["msg"] for r in rest]
    with client.websocket_connect(url(run_id)) as ws:
        ws.receive_json()
        ws.send_json({"type": "probe", "index": 250, "id": 1})
        ws.send_json({"type": "set_weight", "l": 3, "j": 2, "k": 0, "value": 1.0, "id": 2})
        ws.send_json({"type": "step", "epochs": 5000, "id": 3})
        stream = [next_of(ws, "error") for _ in range(3)]
    assert [e["id"] for e in stream] == [1, 2, 3]
    for msg, err in zip(rest_msgs, stream, strict=True):
        assert err["detail"].endswith(f": {msg}"), (msg, err)
    assert "0..249" in rest_msgs[0] and "j must be 0..1" in rest_msgs[1]
    assert "125000 steps" in rest_msgs[2] and "max_steps_per_request" in rest_msgs[2]


def test_far_past_any_network_an_index_is_refused_with_the_networks_own_limit(
    client: TestClient, run_id: str
) -> None:
    """j = 5000 into a layer of 2 neurons (past any width a server allows) is told "j must be
    0..1" by REST and by the stream alike, as j = 2 is: not a schema's 4095 that would only
    lead to a second refusal. Likewise l = 99 and 10^30, and the nudge's and grid's indices."""
    base = f"/api/runs/{run_id}"
    far = [
        (client.put(f"{base}/weights/3/5000/0", json={"value": 1.0}), "j must be 0..1"),
        (client.put(f"{base}/weights/{10**30}/0/0", json={"value": 1.0}), "L = 4"),
        (client.put(f"{base}/weights/3/0/5000", json={"value": 1.0}), "k must be 0..3"),
        (client.get(f"{base}/grid/2/5000"), "j must be 0..3"),
        (client.get(f"{base}/grid/99/0"), "L = 4"),
        (client.post(f"{base}/nudge", json={"of": "z", "l": 3, "j": 10**12}), "j must be 0..1"),
        (client.post(f"{base}/nudge_layer", json={"l": 99}), "L = 4"),
    ]
    for r, says in far:
        assert r.status_code == 422, r.text
        assert says in r.json()["detail"][0]["msg"], r.text
    with client.websocket_connect(url(run_id)) as ws:
        ws.receive_json()
        ws.send_json({"type": "set_weight", "l": 3, "j": 5000, "k": 0, "value": 1.0, "id": 1})
        ws.send_json({"type": "select", "l": 99, "j": 0, "id": 2})
        errors = [next_of(ws, "error") for _ in range(2)]
    assert [e["id"] for e in errors] == [1, 2]
    assert "j must be 0..1" in errors[0]["detail"], errors[0]
    assert "L = 4" in errors[1]["detail"], errors[1]
