"""REST training against a real uvicorn: 100,000 steps on the largest network (100-180 s of
CPU before) stop within 1 s of the client leaving or the run being deleted, and at the
request time cap (``BPV_MAX_REQUEST_S``), saying how many steps were done."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable

import httpx
import orjson

from tests.abuse.conftest import Server
from tests.runs.test_budget import F7

LARGEST = {"hidden": [8] * 6, "features": F7, "batch_size": 256}


def client(server: Server) -> httpx.Client:
    return httpx.Client(
        base_url=server.base, timeout=15, headers={"content-type": "application/json"}
    )


def start_step(server: Server, run_id: str, steps: int) -> socket.socket:
    """``POST /api/runs/{id}/step`` sent over a raw socket whose answer is never read."""
    body = orjson.dumps({"steps": steps})
    head = (
        f"POST /api/runs/{run_id}/step HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    sock.sendall(head.encode() + body)
    return sock


def step_of(c: httpx.Client, run_id: str) -> int:
    r = c.get(f"/api/runs/{run_id}")
    assert r.status_code == 200, r.text
    step: int = r.json()["step"]
    return step


def wait_until_training(c: httpx.Client, run_id: str) -> None:
    deadline = time.monotonic() + 10
    while step_of(c, run_id) == 0:
        assert time.monotonic() < deadline, "training never started"
        time.sleep(0.05)


def test_training_stops_within_a_second_of_the_client_leaving(
    serve: Callable[..., Server],
) -> None:
    server = serve()
    with client(server) as c:
        rid = c.post("/api/runs", json=LARGEST).json()["id"]
        sock = start_step(server, rid, 100_000)
        wait_until_training(c, rid)
        time.sleep(0.3)
        assert step_of(c, rid) < 100_000
        sock.close()  # the student closed the tab / pressed Ctrl-C
        left = time.monotonic()
        time.sleep(1.0)
        stopped_at = step_of(c, rid)
        time.sleep(0.5)
        assert step_of(c, rid) == stopped_at, "still training 1 s after the client left"
        assert stopped_at < 100_000
        # and the run is free at once
        t0 = time.monotonic()
        r = c.patch(f"/api/runs/{rid}", json={"learning_rate": 0.1})
        assert r.status_code == 200 and time.monotonic() - t0 < 1.0
        assert time.monotonic() - left < 5


def test_training_stops_within_a_second_of_the_run_being_deleted(
    serve: Callable[..., Server],
) -> None:
    server = serve()
    answers: list[tuple[httpx.Response, float]] = []
    with client(server) as c:
        rid = c.post("/api/runs", json=LARGEST).json()["id"]

        def long_step() -> None:
            with client(server) as own:
                r = own.post(f"/api/runs/{rid}/step", json={"steps": 100_000})
                answers.append((r, time.monotonic()))

        worker = threading.Thread(target=long_step)
        worker.start()
        try:
            wait_until_training(c, rid)
            t0 = time.monotonic()
            assert c.delete(f"/api/runs/{rid}").status_code == 204
            assert time.monotonic() - t0 < 1.0
        finally:
            worker.join(timeout=15)
    assert answers, "the step never answered"
    r, at = answers[0]
    assert at - t0 < 1.0
    assert r.status_code == 404 and "deleted while training" in r.json()["detail"]


def test_a_long_step_stops_at_the_time_cap_and_says_so(serve: Callable[..., Server]) -> None:
    server = serve(BPV_MAX_REQUEST_S="1.5")
    with client(server) as c:
        rid = c.post("/api/runs", json=LARGEST).json()["id"]
        t0 = time.monotonic()
        r = c.post(f"/api/runs/{rid}/step", json={"steps": 100_000})
        took = time.monotonic() - t0
        assert r.status_code == 200
        assert r.headers["x-stopped-by"] == "time_cap"
        done = int(r.headers["x-steps-done"])
        assert 0 < done < 100_000 and r.json()["step"] == done
        assert 1.5 <= took < 2.5
