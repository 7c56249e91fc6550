"""A request in flight when the server stops gets 503 with ``Retry-After``, never a 500
(app/api/shutdown.py). Real uvicorn, stopped with SIGTERM as Docker stops it."""

from __future__ import annotations

import json
import signal
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from tests.abuse.conftest import Server

JSON = {"content-type": "application/json"}


def post(
    server: Server, path: str, body: Any, timeout: float = 30
) -> tuple[int, dict[str, str], Any]:
    req = urllib.request.Request(
        server.base + path, data=json.dumps(body).encode(), method="POST", headers=JSON
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, json.loads(e.read() or b"null")


def test_a_long_step_at_shutdown_gets_503_and_retry_after(serve: Callable[..., Server]) -> None:
    server = serve(BPV_MAX_REQUEST_S="60")
    status, _, run = post(server, "/api/runs", {"hidden": [8, 8, 8, 8, 8, 8], "batch_size": 512})
    assert status == 201
    answer: list[tuple[int, dict[str, str], Any]] = []
    step = threading.Thread(
        target=lambda: answer.append(
            post(server, f"/api/runs/{run['id']}/step", {"steps": 100_000})
        )
    )
    step.start()
    time.sleep(1.0)  # the step is training now
    assert not answer, "the step ended before shutdown: make it longer"
    t = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    step.join(timeout=15)
    assert answer, "no answer within 15 s of SIGTERM"
    status, headers, body = answer[0]
    assert status == 503, (status, body)
    assert int(headers["retry-after"]) > 0
    assert "lost on restart" in body["detail"]
    assert time.monotonic() - t < 10  # the graceful period (5 s) and a little
    assert server.proc.wait(timeout=10) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal
