"""One client's caps (``max_runs_per_client``, ``client_memory_mb``) hold across workers that
share a Redis, as they do in one process: a student does not get N times the runs or the
memory by having their requests land on N workers.

The tests share two servers on two loopback ports, A with one worker and B with two
(``backprop-viz --workers 2``: the kernel chooses which of B's workers answers), so that
each test chooses whether a request goes to A or B. Every request comes from 127.0.0.1: one
client (``app/api/deps.py``: the peer address). The reference for the memory cap is the
in-process store (no Redis) given the same requests.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from websockets.sync.client import connect

from app.main import create_app
from app.runs.lease import LEASE_S
from app.settings import Settings
from tests.store.procs import RedisServer, Server

SMALL = {"dataset": "xor", "hidden": [4]}  # ~2 MB each: five fit in client_memory_mb
MID = {"hidden": [8, 8, 8, 8, 8, 8]}  # ~7 MB: two fit, not three
BIG = {"dataset": "digits", "hidden": [32, 32]}  # ~15 MB: with a MID run, over the cap
MEMORY_MB = 20
ENV = {"BPV_CLIENT_MEMORY_MB": str(MEMORY_MB)}  # max_runs_per_client: the default, 5
JSON = {"content-type": "application/json"}


class Pair:
    """A (one worker) and B (two) on one Redis, started once for the module (a start takes
    seconds), and the runs the current test made (deleted when it ends)."""

    def __init__(self, redis: RedisServer) -> None:
        env = {"BPV_REDIS_URL": redis.url, **ENV}
        self.a = Server(env)
        self.b = Server(env, ("--workers", "2"))
        self.made: list[str] = []

    def wait_healthy(self) -> None:
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda s: s.wait_healthy(60), (self.a, self.b)))

    def create(self, server: Server, body: Any = None) -> httpx.Response:
        r = httpx.post(f"{server.base}/api/runs", json=SMALL if body is None else body, timeout=30)
        if r.status_code == 201:
            self.made.append(r.json()["id"])
        return r

    def clean(self) -> None:
        """Every run the test made deleted (through B: the kill test kills A)."""
        for rid in self.made:
            assert _delete(self.b, rid) in (204, 404)
        self.made.clear()

    def stop(self) -> None:
        self.a.stop()
        self.b.stop()


@pytest.fixture(scope="module")
def servers(redis_server: RedisServer) -> Iterator[Pair]:
    pair = Pair(redis_server)
    try:
        pair.wait_healthy()
        yield pair
    finally:
        pair.stop()


@pytest.fixture
def pair(servers: Pair) -> Iterator[Pair]:
    try:
        yield servers
    finally:
        servers.clean()


def _delete(server: Server, rid: str) -> int:
    return httpx.delete(f"{server.base}/api/runs/{rid}", headers=JSON, timeout=30).status_code


def _refused(r: httpx.Response, reason: str, setting: str) -> None:
    """A 429 that names the limit, with a Retry-After."""
    assert r.status_code == 429, r.text
    body = r.json()
    assert body["reason"] == reason, body
    assert setting in body["detail"], body
    assert int(r.headers["retry-after"]) >= 1


def test_one_client_gets_max_runs_per_client_runs_whichever_worker_answers(pair: Pair) -> None:
    """Five runs (the default cap) made through A and B in turn; the sixth is refused
    by both, with when the soonest would be evicted (in ~600 s: all were just made); a run
    deleted through one worker frees a slot on the other at once."""
    a, b = pair.a, pair.b
    for i in range(5):
        r = pair.create((a, b)[i % 2])
        assert r.status_code == 201, r.text
    for server in (a, b):
        r = pair.create(server)
        _refused(r, "client_runs", "max_runs_per_client = 5")
        assert r.json()["detail"].startswith("you have 5 live runs")
        assert 590 <= int(r.headers["retry-after"]) <= 600  # idle_timeout_s = 600
    assert _delete(a, pair.made[0]) == 204
    assert pair.create(b).status_code == 201
    _refused(pair.create(a), "client_runs", "max_runs_per_client = 5")
    for rid in pair.made[1:]:  # the five live runs, each readable through either worker
        assert httpx.get(f"{a.base}/api/runs/{rid}").status_code == 200


def test_concurrent_creates_through_two_workers_never_pass_the_cap(pair: Pair) -> None:
    """Twenty creates sent at once, ten to each worker: exactly five runs are made."""
    a, b = pair.a, pair.b

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=30) as client:
            return await asyncio.gather(
                *(client.post(f"{(a, b)[i % 2].base}/api/runs", json=SMALL) for i in range(20))
            )

    answers = asyncio.run(burst())
    made = [r.json()["id"] for r in answers if r.status_code == 201]
    pair.made += made
    assert Counter(r.status_code for r in answers) == {201: 5, 429: 15}
    for r in answers:
        if r.status_code == 429:
            _refused(r, "client_runs", "max_runs_per_client = 5")
    _refused(pair.create(a), "client_runs", "max_runs_per_client = 5")
    _refused(pair.create(b), "client_runs", "max_runs_per_client = 5")
    for rid in made:
        assert httpx.get(f"{b.base}/api/runs/{rid}").status_code == 200


def _reference() -> tuple[int, int, int]:
    """The in-process store's answers to the memory test's requests: how many MID runs
    one client gets; the status of growing the second to BIG with all of them live, and
    with only every second one (those the test makes on worker B)."""
    settings = Settings(client_memory_mb=MEMORY_MB)
    with TestClient(create_app(settings), headers=JSON) as one:
        ids = []
        while len(ids) < 5:
            r = one.post("/api/runs", json=MID)
            if r.status_code != 201:
                assert r.json()["reason"] == "client_memory", r.text
                break
            ids.append(r.json()["id"])
        full = one.patch(f"/api/runs/{ids[1]}", json=BIG).status_code
        for rid in ids[0::2]:
            assert one.delete(f"/api/runs/{rid}").status_code == 204
        halved = one.patch(f"/api/runs/{ids[1]}", json=BIG).status_code
    return len(ids), full, halved


def test_the_memory_cap_counts_the_runs_on_every_worker(pair: Pair) -> None:
    """A client gets exactly as many runs through A and B as from one process before
    ``client_memory_mb``; growing a run (a config change) on B is refused while the
    client's runs on A fill the cap (B's own runs would leave room), and allowed once
    those are deleted, as in one process."""
    n, full, halved = _reference()
    assert n >= 2 and full == 429 and halved == 200  # the sizes make the test meaningful
    a, b = pair.a, pair.b
    for i in range(n):
        r = pair.create((a, b)[i % 2], MID)
        assert r.status_code == 201, (i, r.text)
    setting = f"client_memory_mb = {MEMORY_MB}"
    _refused(pair.create(a, MID), "client_memory", setting)
    _refused(pair.create(b, MID), "client_memory", setting)

    grown = pair.made[1]  # on B
    r = httpx.patch(f"{b.base}/api/runs/{grown}", json=BIG, headers=JSON, timeout=30)
    _refused(r, "client_memory", setting)
    for rid in pair.made[0::2]:  # A's
        assert _delete(a, rid) == 204
    r = httpx.patch(f"{b.base}/api/runs/{grown}", json=BIG, headers=JSON, timeout=30)
    assert r.status_code == 200, r.text
    assert r.json()["config"]["hidden"] == BIG["hidden"]


def test_an_import_whose_build_fails_gives_its_slot_back_at_once(pair: Pair) -> None:
    """A document whose data does not match its settings is refused while it is built
    (a 422 naming ``data_sha256``), after its slot was reserved: the client, with four
    runs, can make a fifth on the other worker right away, and no sixth."""
    a, b = pair.a, pair.b
    for server in (a, b, a, b):
        assert pair.create(server).status_code == 201
    doc = httpx.get(f"{a.base}/api/runs/{pair.made[0]}/export", timeout=30).json()
    doc["data_sha256"] = "0" * 64
    r = pair.create(a, {"import": doc})
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"][-1] == "data_sha256", r.text
    assert pair.create(b).status_code == 201
    _refused(pair.create(b), "client_runs", "max_runs_per_client = 5")


def test_a_run_its_stream_moves_to_another_worker_counts_once(pair: Pair) -> None:
    """A stream opened on B for a run A holds takes the run over: the client still has
    five live runs (not six, not four), and a delete frees exactly one slot."""
    a, b = pair.a, pair.b
    for server in (a, a, a, b, b):
        assert pair.create(server).status_code == 201
    moved = pair.made[0]
    with connect(f"{b.ws_base}/api/runs/{moved}/stream", open_timeout=10) as ws:
        first = json.loads(ws.recv(timeout=10))
        assert first["type"] == "frame" and first["step"] == 0, first
        for server in (a, b):
            r = pair.create(server)
            _refused(r, "client_runs", "max_runs_per_client = 5")
            assert r.json()["detail"].startswith("you have 5 live runs")
        assert _delete(a, pair.made[1]) == 204
        assert pair.create(b).status_code == 201
        _refused(pair.create(a), "client_runs", "max_runs_per_client = 5")


def test_runs_evicted_idle_on_one_worker_stop_counting_on_the_others(
    pair: Pair, redis_server: RedisServer
) -> None:
    """A third server, C, evicts runs idle for 2 s. Five runs made on C fill the client's
    cap on B too, whose 429 says when the soonest is evicted (within 2 s); once C has
    evicted them (as one process does, where an evicted run is gone), B makes a run."""
    c = Server({"BPV_REDIS_URL": redis_server.url, **ENV, "BPV_IDLE_TIMEOUT_S": "2"})
    try:
        c.wait_healthy(40)
        for _ in range(5):
            made = httpx.post(f"{c.base}/api/runs", json=SMALL, timeout=30)
            assert made.status_code == 201, made.text
        last = time.monotonic()
        r = pair.create(pair.b)
        _refused(r, "client_runs", "max_runs_per_client = 5")
        assert int(r.headers["retry-after"]) <= 2
        while (r := pair.create(pair.b)).status_code != 201:
            _refused(r, "client_runs", "max_runs_per_client = 5")
            # idle 2 s, C's eviction pass every 0.5 s, its entries given back within 1 s
            assert time.monotonic() - last < 2 + 0.5 + LEASE_S, "evicted runs still count"
            time.sleep(0.1)
    finally:
        c.stop()


def test_a_killed_workers_runs_stop_counting_within_a_lease_and_count_once_back(
    pair: Pair,
) -> None:
    """As in one process, where a run lives only while its process does: ``kill -9`` of a
    worker holding three of the client's five runs frees their slots within a lease's time
    (3 s). One of them asked for again comes back on the other worker and counts once:
    with it, the client can make exactly one more run, and a second comes back only if
    there is room (a 429 naming the cap, not a sixth run). Last in the module: it kills
    worker A."""
    a, b = pair.a, pair.b
    for server in (a, a, a, b, b):
        assert pair.create(server).status_code == 201
    on_a = pair.made[:3]
    _refused(pair.create(b), "client_runs", "max_runs_per_client = 5")

    killed = time.monotonic()
    a.kill()
    while True:
        r = pair.create(b)
        if r.status_code == 201:
            break
        _refused(r, "client_runs", "max_runs_per_client = 5")
        assert time.monotonic() - killed < LEASE_S + 2, "the dead worker's slots stay taken"
        time.sleep(0.1)
    freed = time.monotonic() - killed
    assert freed <= LEASE_S + 1.0, f"slots freed {freed:.1f} s after the kill"

    # Live now: two on B and the new one. A's first run comes back on B: four.
    back = httpx.get(f"{b.base}/api/runs/{on_a[0]}", timeout=30)
    assert back.status_code == 200, back.text
    assert pair.create(b).status_code == 201  # five
    _refused(pair.create(b), "client_runs", "max_runs_per_client = 5")
    again = httpx.get(f"{b.base}/api/runs/{on_a[1]}", timeout=30)
    _refused(again, "client_runs", "max_runs_per_client = 5")


def _post(base: str) -> httpx.Response:
    return httpx.post(f"{base}/api/runs", json=SMALL, timeout=30)


def test_with_redis_gone_the_caps_are_counted_in_the_worker_as_in_one_process() -> None:
    """Redis stops: creates are still answered, never a 500, the caps counted in this
    worker (as other Redis failures fall back to what the process holds; the runs are
    kept in Redis when it is back): ``max_runs_per_client = 2`` gives a second run and
    then a 429 naming it."""
    own = RedisServer()
    server = Server({"BPV_REDIS_URL": own.url, "BPV_MAX_RUNS_PER_CLIENT": "2"})
    try:
        server.wait_healthy(40)
        assert _post(server.base).status_code == 201
        own.stop()
        t0 = time.monotonic()
        r = _post(server.base)
        assert r.status_code == 201, r.text
        rid = r.json()["id"]
        for _ in range(2):
            _refused(_post(server.base), "client_runs", "max_runs_per_client = 2")
        assert httpx.get(f"{server.base}/api/runs/{rid}").status_code == 200  # still here
        assert time.monotonic() - t0 < 5
    finally:
        server.stop()
        own.stop()
