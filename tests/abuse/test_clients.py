"""One client, fair share, against a real uvicorn.

1. One address cannot take every slot: ``max_runs_per_client`` (default 5) runs, then a 429
   that names the setting; other addresses are still served.
2. A script that GETs every run in a loop no longer keeps them alive: they are evicted after
   the idle timeout, and the "server full" ``Retry-After`` comes true.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from app.settings import Settings
from tests.abuse.conftest import Server
from tests.abuse.test_memory import client


def test_one_address_gets_at_most_max_runs_per_client(serve: Callable[..., Server]) -> None:
    server = serve()
    cap = Settings().max_runs_per_client
    with client(server, "127.4.0.1") as greedy, client(server, "127.4.0.2") as other:
        for _ in range(cap):
            assert greedy.post("/api/runs", json={}).status_code == 201
        for _ in range(20):  # a loop that keeps asking is refused every time
            r = greedy.post("/api/runs", json={})
            assert r.status_code == 429
        assert f"max_runs_per_client = {cap}" in r.json()["detail"]
        assert 1 <= int(r.headers["retry-after"]) <= Settings().idle_timeout_s
        assert other.post("/api/runs", json={}).status_code == 201
        assert other.get("/healthz").status_code == 200


def test_reads_do_not_keep_runs_alive_and_retry_after_comes_true(
    serve: Callable[..., Server],
) -> None:
    server = serve(BPV_IDLE_TIMEOUT_S="2", BPV_MAX_RUNS="3")
    clients = [client(server, f"127.4.1.{k}") for k in range(1, 5)]
    try:
        ids = []
        for c in clients[:3]:
            r = c.post("/api/runs", json={})
            assert r.status_code == 201
            ids.append(r.json()["id"])
        late = clients[3]
        r = late.post("/api/runs", json={})
        assert r.status_code == 429 and "full" in r.json()["detail"]
        wait = int(r.headers["retry-after"])
        assert 1 <= wait <= 2
        retry_at = time.monotonic() + wait
        # The squatters read their runs as often as they like ...
        while time.monotonic() < retry_at:
            for c, rid in zip(clients, ids, strict=False):
                c.get(f"/api/runs/{rid}")
                c.get(f"/api/runs/{rid}/frame")
            time.sleep(0.05)
        # ... and when the countdown ends, the late student gets a run.
        r = late.post("/api/runs", json={})
        assert r.status_code == 201, r.text
        gone = [c.get(f"/api/runs/{rid}").status_code for c, rid in zip(clients, ids, strict=False)]
        assert 404 in gone
    finally:
        for c in clients:
            c.close()
