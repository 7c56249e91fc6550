"""Two replicas behind the deployed HAProxy config, on loopback: REST and streams.

With the in-process store a run exists on one replica only, so every request about it must
reach that replica: one 404 would be a student's run vanishing mid-lesson. The runs are
created through HAProxy (it picks the replica), then stepped through HAProxy many times,
interleaved, and streamed over a WebSocket through it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from websockets.sync.client import connect

from tests.deploy.procs import App, HAProxy, Proc, free_port, get, post, wait_until

RUNS = 8
ROUNDS = 6  # steps per run, interleaved across the runs: 48 requests that must not stray


def frames(ws, until: float, enough: int | None = None) -> list[dict]:  # type: ignore[no-untyped-def]
    """The frames received until ``until`` (or until ``enough`` of them: under load the
    server lowers the frame rate, to 2 a second at the least)."""
    got: list[dict] = []
    while time.monotonic() < until and (enough is None or len(got) < enough):
        try:
            msg = json.loads(ws.recv(timeout=max(0.05, until - time.monotonic())))
        except TimeoutError:
            break
        if msg.get("type") == "frame":
            got.append(msg)
    return got


def test_in_process_runs_stay_on_their_replica(tmp_path: Path) -> None:
    ports = [free_port(), free_port()]
    a, b = App(ports[0]), App(ports[1])
    with a, b:
        a.launch(), b.launch()  # started together: each takes seconds to import on a busy machine
        a.ready(), b.ready()
        with HAProxy(ports, tmp_path / "haproxy.cfg").start() as lb:
            ids = []
            for _ in range(RUNS):
                status, body = post(f"{lb.url}/api/runs")
                assert status == 201, body
                ids.append(json.loads(body)["id"])
            # Which replica has each run, asked of the replicas themselves.
            home = {}
            for run in ids:
                on = [app.port for app in (a, b) if get(f"{app.url}/api/runs/{run}")[0] == 200]
                assert len(on) == 1, (run, on)
                home[run] = on[0]
            # New runs are spread (least connections): both replicas hold some.
            assert set(home.values()) == set(ports), home
            # Every request about a run reaches its replica: no 404 in 48 interleaved steps,
            # and each run counts exactly its own steps.
            for _ in range(ROUNDS):
                for run in ids:
                    status, body = post(f"{lb.url}/api/runs/{run}/step", b'{"steps": 1}')
                    assert status == 200, (run, status, body[:200])
            for run in ids:
                status, body = get(f"{lb.url}/api/runs/{run}")
                assert status == 200
                assert json.loads(body)["step"] == ROUNDS
                _, direct = get(f"http://127.0.0.1:{home[run]}/api/runs/{run}")
                assert json.loads(direct)["step"] == ROUNDS

            # A stream through HAProxy: the first frame is the run as it is, then play moves it.
            run = ids[0]
            ws_url = f"ws://127.0.0.1:{lb.port}/api/runs/{run}/stream"
            with connect(ws_url, open_timeout=5, max_size=2**24) as ws:
                first = json.loads(ws.recv(timeout=5))
                assert first["type"] == "frame" and first["step"] == ROUNDS
                ws.send(json.dumps({"type": "play"}))
                got = frames(ws, time.monotonic() + 5, enough=5)
                steps = [f["step"] for f in got]
                assert len(steps) >= 5, steps  # streaming, not one frame
                assert steps == sorted(steps) and steps[-1] > ROUNDS
                ws.send(json.dumps({"type": "pause"}))
                last = frames(ws, time.monotonic() + 0.5)
                at_pause = (last or got)[-1]["step"]
            # The stream trained the run on its own replica: REST through HAProxy agrees.
            wait_until(
                lambda: json.loads(get(f"{lb.url}/api/runs/{run}")[1])["step"] >= at_pause,
                3,
                "the run's step read back through HAProxy",
            )
            _, direct = get(f"http://127.0.0.1:{home[run]}/api/runs/{run}")
            assert json.loads(direct)["step"] >= at_pause


def test_with_redis_a_killed_replica_s_run_comes_back_through_the_other(tmp_path: Path) -> None:
    redis_port = free_port()
    redis = Proc(
        ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(tmp_path)]
    )  # fmt: skip
    env = {"BPV_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0"}
    ports = [free_port(), free_port()]
    a, b = App(ports[0], env), App(ports[1], env)
    with redis, a, b:
        redis.start()
        a.launch(), b.launch()
        a.ready(), b.ready()
        with HAProxy(ports, tmp_path / "haproxy.cfg").start() as lb:
            status, body = post(f"{lb.url}/api/runs")
            assert status == 201, body
            run = json.loads(body)["id"]
            for _ in range(5):
                assert post(f"{lb.url}/api/runs/{run}/step", b'{"steps": 1}')[0] == 200
            ws_url = f"ws://127.0.0.1:{lb.port}/api/runs/{run}/stream"
            seen: list[tuple[float, int]] = []
            with connect(ws_url, open_timeout=5, max_size=2**24) as ws:
                assert json.loads(ws.recv(timeout=5))["step"] == 5
                ws.send(json.dumps({"type": "play"}))
                # The replica that trains it: the one whose stats count a playing stream.
                wait_until(
                    lambda: (
                        sum(json.loads(get(f"{x.url}/api/stats")[1])["playing"] for x in (a, b))
                        == 1
                    ),
                    5,
                    "one replica streams the run",
                )
                owner, other = (
                    (a, b) if json.loads(get(f"{a.url}/api/stats")[1])["playing"] == 1 else (b, a)
                )
                until = time.monotonic() + 4
                while time.monotonic() < until:  # each frame's step and when it came (±0.1 s)
                    batch = frames(ws, min(until, time.monotonic() + 0.1))
                    seen += [(time.monotonic(), f["step"]) for f in batch]
                killed = time.monotonic()
                owner.kill()  # SIGKILL: no goodbye, no last checkpoint
                with pytest.raises(Exception):  # noqa: B017 - the stream breaks, however it says so
                    while True:
                        ws.recv(timeout=5)
            # The run answers through HAProxy (now the other replica) within 5 s, from a
            # checkpoint no older than 2 s before the kill.
            back: dict = {}

            def answered() -> bool:
                try:
                    status, body = get(f"{lb.url}/api/runs/{run}", timeout=2)
                except OSError:  # a timeout: not back yet
                    return False
                if status == 200:
                    back.update(json.loads(body))
                return status == 200

            wait_until(answered, 5, "the run answers again through HAProxy")
            assert time.monotonic() - killed < 5
            two_s_before = max(s for t, s in seen if t <= killed - 2.0)
            assert back["step"] >= two_s_before, (back["step"], two_s_before, seen[-1])
            assert back["step"] <= seen[-1][1]
            # Its stream, through HAProxy, is the same run, and it plays on from there.
            with connect(ws_url, open_timeout=5, max_size=2**24) as ws:
                first = json.loads(ws.recv(timeout=5))
                assert first["type"] == "frame" and first["step"] == back["step"]
                ws.send(json.dumps({"type": "play"}))
                steps = [f["step"] for f in frames(ws, time.monotonic() + 5, enough=3)]
                assert steps and steps[-1] > back["step"]
            assert json.loads(get(f"{other.url}/api/stats")[1])["runs"] >= 1
