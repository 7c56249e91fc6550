"""A script in a loop (issue 10, "floods"): one address hammering ``GET /api/runs/{id}`` over
8 keep-alive connections used to take about half of the class's frame rate. Its requests
are now paced at ``BPV_CLIENT_RPS`` (app/api/request_rate.py): it is served, at that rate,
and the ten honest students beside it keep their frame rate; the server's own machine
(127.0.0.1) is not paced."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable

import httpx

from tests.abuse.conftest import Server
from tests.abuse.students import Interleaved, interleaved, streaming

RPS, BURST = 10, 20  # under what this test's client can send, so the pacing shows
WINDOW_S = 1.2  # the class's frames counted with the flood and without, in turn
SETTLE_S = 0.4
FLOODER = "127.3.0.1"


def _client(server: Server, address: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=server.base,
        transport=httpx.AsyncHTTPTransport(local_address=address),
        headers={"content-type": "application/json"},
        timeout=10,
    )


async def _flood(
    server: Server, stop: asyncio.Event, statuses: Counter[int], started: list[float]
) -> None:
    """8 connections GETting one run as fast as they are answered, until ``stop``; the time
    the GETs began is appended to ``started``."""
    async with _client(server, FLOODER) as http:
        run_id = (await http.post("/api/runs", json={})).json()["id"]
        started.append(time.monotonic())

        async def one() -> None:
            while not stop.is_set():
                statuses[(await http.get(f"/api/runs/{run_id}")).status_code] += 1

        await asyncio.gather(*(one() for _ in range(8)))
        await http.delete(f"/api/runs/{run_id}")


class _Floods:
    """The flood on and off in turn: each time on, a new flood; the first one's answers and
    how long it lasted are kept apart (the pacing is checked on it: a full burst, then RPS)."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.first: Counter[int] = Counter()
        self.later: Counter[int] = Counter()
        self.first_s = 0.0
        self.other_s: list[float] = []  # another address's answer, under each flood
        self._running: tuple[asyncio.Task[None], asyncio.Event, list[float]] | None = None
        self._floods = 0

    async def __call__(self, on: bool) -> None:
        if on:
            stop = asyncio.Event()
            statuses = self.first if self._floods == 0 else self.later
            self._floods += 1
            started: list[float] = []
            task = asyncio.create_task(_flood(self.server, stop, statuses, started))
            self._running = (task, stop, started)
            return
        assert self._running is not None
        task, stop, started = self._running
        # Another address, meanwhile, is answered at once.
        async with _client(self.server, "127.4.0.1") as other:
            t = time.monotonic()
            assert (await other.get("/api/options")).status_code == 200
            self.other_s.append(time.monotonic() - t)
        stop.set()  # the requests in flight are answered, no new one is sent
        if not self.first_s and started:
            self.first_s = time.monotonic() - started[0]
        await task
        self._running = None


def test_a_request_flood_is_served_at_the_clients_rate_and_the_class_keeps_its_frames(
    serve: Callable[..., Server],
) -> None:
    server = serve(BPV_CLIENT_RPS=str(RPS), BPV_CLIENT_BURST=str(BURST))
    floods = _Floods(server)

    async def scenario() -> Interleaved:
        async with streaming(server.ws_base, 10) as students:
            await asyncio.sleep(1.0)  # the first frames carry grids and history
            return await interleaved(students, floods, 2, WINDOW_S, SETTLE_S, SETTLE_S)

    rates = asyncio.run(scenario())
    print(f"\n{rates}\nfirst flood {floods.first} in {floods.first_s:.1f} s, then {floods.later}")
    answered = sum(floods.first.values())
    # Paced: its burst, then RPS a second (8 requests in flight at the end), and all answered.
    assert floods.first[200] == answered and floods.later[200] == sum(floods.later.values())
    assert answered <= BURST + RPS * floods.first_s + 8, answered
    assert answered >= 0.8 * (BURST + RPS * floods.first_s), answered
    assert max(floods.other_s) < 0.5, floods.other_s
    assert not rates.failures, rates.failures
    assert rates.median_ratio(lambda r: r.median) >= 0.8, rates


def test_too_many_at_once_are_refused_with_retry_after(serve: Callable[..., Server]) -> None:
    server = serve(BPV_CLIENT_RPS="5", BPV_CLIENT_BURST="5")

    async def scenario() -> list[httpx.Response]:
        async with _client(server, FLOODER) as http:
            return list(await asyncio.gather(*(http.get("/api/options") for _ in range(30))))

    answers = asyncio.run(scenario())
    codes = Counter(r.status_code for r in answers)
    # 5 at once, 5 more within the second they may wait: the rest refused.
    assert codes[200] <= 5 + 5 + 1 and codes[429] >= 30 - 11, codes
    refused = next(r for r in answers if r.status_code == 429)
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.json()["reason"] == "client_requests"
    assert "BPV_CLIENT_RPS" in refused.json()["detail"]


def test_the_servers_own_machine_is_not_paced(serve: Callable[..., Server]) -> None:
    server = serve(BPV_CLIENT_RPS="5", BPV_CLIENT_BURST="5")
    with httpx.Client(base_url=server.base, timeout=10) as http:
        assert all(http.get("/api/options").status_code == 200 for _ in range(40))
