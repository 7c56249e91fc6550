"""Memory abuse against a real uvicorn with the default budgets: RSS stays under 512 MB.

1. Cycling ``batch_size`` on a large CSV run (reported: 183 sizes added 1.38 GB in 6 s).
2. Many clients filling the server with the largest runs the budgets allow: the runs the
   server's memory estimate admits really fit (resident memory grows by no more than the
   estimates), and the next one is refused with a 429 naming ``memory_mb``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx

from app.api.mapping import experiment_of
from app.api.models import RunConfig
from app.runs.budget import estimate
from app.settings import Settings
from tests.abuse.conftest import Server
from tests.runs.test_budget import F7, csv_text

RSS_LIMIT_MB = 512


def client(server: Server, address: str = "127.0.0.1") -> httpx.Client:
    """A script's client from ``address`` (any of 127.0.0.0/8: one client per address)."""
    transport = httpx.HTTPTransport(local_address=address)
    headers = {"content-type": "application/json"}  # as a script sends it, DELETE included
    return httpx.Client(base_url=server.base, timeout=15, transport=transport, headers=headers)


def test_cycling_the_batch_size_does_not_grow_memory(serve: Callable[..., Server]) -> None:
    # 16 MB a run: batch sizes 200-295 fit this run (12-15 MB estimated), 500 does not (19);
    # a batch is at most the training set, so it needs 500 training examples to be 500
    server = serve(BPV_RUN_MEMORY_MB="16")
    csv = csv_text(1000, 64, 10)  # 500 training examples of 64 inputs
    with client(server) as c:
        r = c.post(
            "/api/runs", json={"dataset": "csv", "csv": csv, "hidden": [8] * 6, "batch_size": 250}
        )
        assert r.status_code == 201, r.text
        rid = r.json()["id"]
        assert c.get(f"/api/runs/{rid}/frame").status_code == 200
        before = peak = server.rss_mb()
        t0 = time.monotonic()
        for bs in range(200, 296, 6):  # 16 sizes, each a ~4 MB frame builder
            assert c.patch(f"/api/runs/{rid}", json={"batch_size": bs}).status_code == 200
            assert c.get(f"/api/runs/{rid}/frame").status_code == 200  # builds one for bs
            peak = max(peak, server.rss_mb())
        assert peak < RSS_LIMIT_MB
        print(f"{time.monotonic() - t0:.1f} s for 16 sizes")
        assert peak - before < 40, f"{before:.0f} MB -> {peak:.0f} MB over 16 batch sizes"
        # a batch size whose buffers are over the per-run budget: refused, naming the field
        r = c.patch(f"/api/runs/{rid}", json={"batch_size": 500})
        assert r.status_code == 422
        issue = r.json()["detail"][0]
        assert issue["loc"] == ["body", "batch_size"] and "run_memory_mb" in issue["msg"]
        assert c.delete(f"/api/runs/{rid}").status_code == 204
        assert server.rss_mb() < RSS_LIMIT_MB


def test_filling_the_memory_budget_keeps_rss_under_512_mb(serve: Callable[..., Server]) -> None:
    server = serve()
    settings = Settings()
    csv_run = {"dataset": "csv", "csv": csv_text(600, 64, 10), "hidden": [8] * 6}
    csv_run["batch_size"] = 256
    big_2d = {"hidden": [8] * 6, "features": F7, "batch_size": 512}
    est_csv = estimate(experiment_of(RunConfig.model_validate(csv_run)), settings).total / 1e6
    est_2d = estimate(experiment_of(RunConfig.model_validate(big_2d)), settings).total / 1e6
    clients = [client(server, f"127.3.0.{k}") for k in range(1, 40)]
    made: list[tuple[httpx.Client, str]] = []
    try:
        base = server.rss_mb()
        # Calibration: resident memory per large CSV run, used (frames with grids).
        for c in clients[:1]:
            for _ in range(2):
                r = c.post("/api/runs", json=csv_run)
                assert r.status_code == 201, r.text
                made.append((c, r.json()["id"]))
        for c, rid in made:
            assert c.get(f"/api/runs/{rid}/frame", params={"grid": "true"}).status_code == 200
        per_run = (server.rss_mb() - base) / len(made)
        assert per_run <= est_csv, f"{per_run:.1f} MB per run, estimated {est_csv:.1f}"
        # Then the largest 2-D networks from more clients (four at a time), until the
        # server says no.
        refusals: list[httpx.Response] = []

        def fill(c: httpx.Client) -> None:
            for _ in range(5):
                if refusals:
                    return
                r = c.post("/api/runs", json=big_2d)
                if r.status_code != 201:
                    refusals.append(r)
                    return
                made.append((c, r.json()["id"]))  # built with its frame buffers and grid

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(fill, clients[1:]))
        assert refusals, "never refused"
        refused = refusals[0]
        assert refused.status_code == 429, refused.text
        assert "memory_mb" in refused.json()["detail"]
        assert int(refused.headers["retry-after"]) >= 1
        assert len(made) >= 2 + (settings.memory_mb - 2 * est_csv) // est_2d - 1
        rss = server.rss_mb()
        assert rss < RSS_LIMIT_MB, f"{rss:.0f} MB with {len(made)} runs"
        # A deleted run makes room again.
        c, rid = made.pop()
        assert c.delete(f"/api/runs/{rid}").status_code == 204
        assert clients[-1].post("/api/runs", json={}).status_code == 201
    finally:
        for c in clients:
            c.close()
