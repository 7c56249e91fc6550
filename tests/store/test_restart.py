"""A server restarted (``kill -9``, no graceful shutdown) with ``BPV_REDIS_URL`` loses no
run: every run is back under its id with its settings and edited weights, a training run at
most 2 s of training behind, and each goes on exactly as its saved document says.

Real parts: a redis-server (Debian's, no persistence) and ``python -m app.cli`` on free
loopback ports, driven over HTTP and the stream's WebSocket as the page drives them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from websockets.sync.client import connect

from app.main import create_app
from app.settings import Settings
from tests.store.procs import ROOT, RedisServer, Server, call, free_port

Serve = Callable[..., Server]


def _new_run(base: str, config: dict[str, Any]) -> str:
    status, run = call(base, "POST", "/api/runs", config)
    assert status == 201, run
    return str(run["id"])


def _export(base: str, run_id: str) -> dict[str, Any]:
    status, doc = call(base, "GET", f"/api/runs/{run_id}/export")
    assert status == 200, doc
    return dict(doc)


def test_every_change_a_learner_made_survives_kill_9(serve: Serve) -> None:
    """Three runs changed through the REST API as a learner would (new settings, a trained
    stretch, an edited weight, a probe, a rewind); the server is killed right after the last
    answer; the new server has every run exactly as the last answer left it."""
    server = serve()
    base = server.base
    a = _new_run(base, {"dataset": "xor", "hidden": [4, 4], "seed": 3})
    b = _new_run(base, {"dataset": "circle", "hidden": [3], "learning_rate": 0.3})
    c = _new_run(base, {})
    assert call(base, "POST", f"/api/runs/{a}/step", {"steps": 40})[0] == 200
    assert call(base, "PATCH", f"/api/runs/{a}", {"learning_rate": 0.05, "momentum": 0.5})[0] == 200
    assert call(base, "PUT", f"/api/runs/{a}/weights/2/1/0", {"value": 0.75})[0] == 200
    assert call(base, "POST", f"/api/runs/{b}/step", {"steps": 25})[0] == 200
    assert call(base, "POST", f"/api/runs/{b}/probe", {"index": 7})[0] == 200
    assert call(base, "POST", f"/api/runs/{c}/step", {"steps": 30})[0] == 200
    assert call(base, "POST", f"/api/runs/{c}/rewind", {"step": 0})[0] == 200
    assert call(base, "PUT", f"/api/runs/{c}/weights/3/0/2", {"value": -1.25})[0] == 200
    before = {rid: _export(base, rid) for rid in (a, b, c)}
    server.kill()

    again = serve()
    for rid, doc in before.items():
        after = _export(again.base, rid)
        assert after == doc, f"run {rid} came back different"
    # What a learner sees: the edited weight and the new learning rate, as they left them.
    assert before[a]["parameters"]["weights"][0][1][0] == 0.75
    assert before[a]["settings"]["learning_rate"] == 0.05
    assert before[c]["step"] == 0 and before[c]["parameters"]["weights"][1][0][2] == -1.25
    status, info = call(again.base, "GET", f"/api/runs/{b}")
    assert status == 200 and info["config"]["probe"] == 7 and info["step"] == 25


def test_a_deleted_run_stays_deleted_and_checkpoints_expire(
    serve: Serve, redis_server: RedisServer
) -> None:
    server = serve()
    keep = _new_run(server.base, {})
    gone = _new_run(server.base, {})
    assert call(server.base, "DELETE", f"/api/runs/{gone}")[0] == 204
    redis = redis_server.client()
    try:
        ttl_ms = redis.pttl(f"bpv:run:{keep}")
        # A day after its last change an abandoned run's checkpoint goes (RUN_TTL_S).
        assert 86_000_000 < ttl_ms <= 86_400_000
        assert redis.exists(f"bpv:run:{gone}") == 0
    finally:
        redis.close()
    server.kill()
    again = serve()
    assert call(again.base, "GET", f"/api/runs/{gone}")[0] == 404
    assert call(again.base, "GET", f"/api/runs/{keep}")[0] == 200
    assert call(again.base, "GET", "/api/runs/neverexisted")[0] == 404


class _Stream:
    """A stream playing a run (in a thread); remembers (monotonic time, step) of every
    frame until the server goes away or :meth:`close`."""

    def __init__(self, ws_base: str, run_id: str) -> None:
        self.url = f"{ws_base}/api/runs/{run_id}/stream"
        self.seen: list[tuple[float, int]] = []
        self.stop = threading.Event()
        self.open = threading.Event()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        assert self.open.wait(10), "the stream did not open"

    def _read(self) -> None:
        try:
            with connect(self.url, open_timeout=5) as ws:
                ws.send(json.dumps({"type": "speed", "steps_per_frame": 5}))
                ws.send(json.dumps({"type": "play"}))
                self.open.set()
                while not self.stop.is_set():
                    try:
                        msg = json.loads(ws.recv(timeout=0.5))
                    except TimeoutError:
                        continue
                    if msg.get("type") == "frame":
                        self.seen.append((time.monotonic(), int(msg["step"])))
        except Exception:  # the server was killed: the stream ends
            self.open.set()

    def step_at(self, t: float) -> int:
        return max((s for when, s in self.seen if when <= t), default=0)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)


def test_a_streaming_run_is_back_at_most_2_s_of_training_behind(serve: Serve) -> None:
    server = serve()
    rid = _new_run(server.base, {"dataset": "spiral", "hidden": [6, 6]})
    stream = _Stream(server.ws_base, rid)
    try:
        time.sleep(4.5)  # several checkpoints' worth of training
        killed_at = time.monotonic()
        last_seen = stream.step_at(killed_at)
        server.kill()
    finally:
        stream.close()
    assert last_seen > 100, "the stream did not train"
    floor = stream.step_at(killed_at - 2.0)  # where the run was 2 s before the kill

    again = serve()
    status, info = call(again.base, "GET", f"/api/runs/{rid}")
    assert status == 200
    assert floor <= info["step"], f"back at {info['step']}, more than 2 s behind ({floor})"
    assert info["step"] <= last_seen + 5 * 30  # no further than the frames in flight
    assert info["steps_per_frame"] == 5
    # The loss chart came back too (a short history is written with the weights), up to
    # the restored step at most.
    status, history = call(again.base, "GET", f"/api/runs/{rid}/history")
    assert status == 200 and len(history["step"]) > 3
    assert history["step"][-1] <= info["step"]


def test_a_restored_run_trains_on_exactly_as_its_document_says(serve: Serve) -> None:
    """After the restart the run's next steps are bit for bit those of a run imported from
    the same document and never interrupted (on a server without Redis at all)."""
    server = serve()
    rid = _new_run(server.base, {"dataset": "xor", "hidden": [5, 3], "batch_size": 7})
    assert call(server.base, "POST", f"/api/runs/{rid}/step", {"steps": 33})[0] == 200
    saved = _export(server.base, rid)
    server.kill()

    again = serve()
    assert _export(again.base, rid) == saved
    assert call(again.base, "POST", f"/api/runs/{rid}/step", {"steps": 17})[0] == 200
    restored = _export(again.base, rid)

    with TestClient(create_app(Settings())) as plain:  # the in-process store, no Redis
        made = plain.post("/api/runs", json={"import": saved})
        assert made.status_code == 201, made.text
        copy = made.json()["id"]
        assert plain.post(f"/api/runs/{copy}/step", json={"steps": 17}).status_code == 200
        reference = plain.get(f"/api/runs/{copy}/export").json()
    assert restored["step"] == reference["step"] == 50
    assert restored["parameters"] == reference["parameters"]  # floats compared exactly
    assert restored["velocity"] == reference["velocity"]
    assert restored["batches"] == reference["batches"]


def _start_fails(env: dict[str, str]) -> tuple[int, str]:
    proc = subprocess.run(
        [sys.executable, "-m", "app.cli", "--port", str(free_port())],
        cwd=ROOT,
        env={**_env(), **env},
        capture_output=True,
        timeout=30,
    )
    return proc.returncode, proc.stderr.decode()


def _env() -> dict[str, str]:
    return dict(os.environ)


def test_a_bad_or_unreachable_redis_stops_the_server_with_one_line() -> None:
    code, err = _start_fails({"BPV_REDIS_URL": "http://127.0.0.1:6379"})
    assert code == 2
    assert err.strip() == (
        "backprop-viz: BPV_REDIS_URL=http://127.0.0.1:6379 : must be empty, or a redis:// URL"
    )
    port = free_port()  # nothing listens there
    code, err = _start_fails({"BPV_REDIS_URL": f"redis://:secret@127.0.0.1:{port}/0"})
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"backprop-viz: BPV_REDIS_URL=redis://:***@127.0.0.1:{port}/0 :")
    assert "Redis does not answer" in lines[0] and "secret" not in lines[0]
