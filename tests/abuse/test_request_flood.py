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
from tests.abuse.students import measure

RPS, BURST = 10, 20  # under what this test's client can send, so the pacing shows
FLOOD_S = 3.0
FLOODER = "127.3.0.1"


def _client(server: Server, address: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=server.base,
        transport=httpx.AsyncHTTPTransport(local_address=address),
        headers={"content-type": "application/json"},
        timeout=10,
    )


async def _flood(server: Server, seconds: float, statuses: Counter[int]) -> None:
    async with _client(server, FLOODER) as http:
        run_id = (await http.post("/api/runs", json={})).json()["id"]
        end = time.monotonic() + seconds

        async def one() -> None:
            while time.monotonic() < end:
                statuses[(await http.get(f"/api/runs/{run_id}")).status_code] += 1

        await asyncio.gather(*(one() for _ in range(8)))
        await http.delete(f"/api/runs/{run_id}")


def test_a_request_flood_is_served_at_the_clients_rate_and_the_class_keeps_its_frames(
    serve: Callable[..., Server],
) -> None:
    server = serve(BPV_CLIENT_RPS=str(RPS), BPV_CLIENT_BURST=str(BURST))

    async def scenario() -> tuple[float, float, Counter[int], float]:
        before = await measure(server.ws_base, 10, 2.0)
        statuses: Counter[int] = Counter()
        flood = asyncio.create_task(_flood(server, FLOOD_S + 4.0, statuses))
        await asyncio.sleep(0.5)
        under = await measure(server.ws_base, 10, 2.0)
        # Another address, meanwhile, is answered at once.
        async with _client(server, "127.4.0.1") as other:
            t0 = time.monotonic()
            assert (await other.get("/api/options")).status_code == 200
            other_s = time.monotonic() - t0
        await flood
        return before.median, under.median, statuses, other_s

    before, under, statuses, other_s = asyncio.run(scenario())
    answered = sum(statuses.values())
    # Paced: its burst, then RPS a second (8 requests in flight at the end), and all answered.
    assert statuses[200] == answered, statuses
    assert answered <= BURST + RPS * (FLOOD_S + 4.0) + 8, answered
    assert answered >= 0.8 * (BURST + RPS * (FLOOD_S + 4.0)), answered
    assert other_s < 0.5
    assert under >= 0.8 * before, (before, under)


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
