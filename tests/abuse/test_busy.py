"""A run busy with a long REST step (reported: PATCH/reset hung for minutes) answers every
other request that changes it within 1 s: a 409 that says what is running and how far it
got. Reads are served meanwhile, and once the step ends the run is free again."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from tests.abuse.conftest import Server
from tests.abuse.test_rest_training import LARGEST, client, start_step, wait_until_training


def test_requests_on_a_busy_run_get_a_409_within_a_second(serve: Callable[..., Server]) -> None:
    server = serve()
    with client(server) as c:
        rid = c.post("/api/runs", json=LARGEST).json()["id"]
        sock = start_step(server, rid, 100_000)
        try:
            wait_until_training(c, rid)
            asks = [
                ("PATCH", f"/api/runs/{rid}", {"learning_rate": 0.1}),
                ("PATCH", f"/api/runs/{rid}", {"hidden": [2]}),
                ("POST", f"/api/runs/{rid}/reset", None),
                ("POST", f"/api/runs/{rid}/probe", {"index": 3}),
                ("PUT", f"/api/runs/{rid}/weights/2/0/0", {"value": 0.5}),
                ("POST", f"/api/runs/{rid}/step", {"steps": 10}),
            ]
            done = []
            for method, path, body in asks:
                t0 = time.monotonic()
                r = c.request(method, path, json=body)
                took = time.monotonic() - t0
                assert took < 1.0, f"{method} {path} took {took:.2f} s"
                assert r.status_code == 409, (method, path, r.text)
                detail = r.json()["detail"]
                found = re.search(r"training 100000 steps \((\d+) % done\)", detail)
                assert found, detail
                done.append(int(found.group(1)))
                assert "try again" in detail
            assert done == sorted(done) and done[-1] < 100
            # reads are answered meanwhile
            t0 = time.monotonic()
            assert c.get(f"/api/runs/{rid}/frame").status_code == 200
            assert time.monotonic() - t0 < 1.0
            assert c.get(f"/api/runs/{rid}").json()["config"]["hidden"] == [8] * 6
        finally:
            sock.close()  # cancels the step
        deadline = time.monotonic() + 3
        while (r := c.patch(f"/api/runs/{rid}", json={"learning_rate": 0.1})).status_code == 409:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert r.status_code == 200 and r.json()["config"]["learning_rate"] == 0.1
