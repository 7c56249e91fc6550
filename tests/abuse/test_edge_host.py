"""Host and Origin at the edge (app/api/edge.py), against a real uvicorn bound to loopback:
DNS rebinding, cross-site requests, and Host-free redirects.

A rebinding page (``http://evil.example`` resolved to 127.0.0.1) sends ``Host:
evil.example`` and ``Origin: http://evil.example``; a cross-site ``fetch(url, {method:
'POST', mode: 'no-cors'})`` can send no ``Content-Type: application/json``. Neither may read
or change anything.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import websockets
from websockets.typing import Origin

from tests.abuse.conftest import Server, start

JSON = {"content-type": "application/json"}


def call(
    server: Server, method: str, path: str, headers: dict[str, str], body: bytes | None = None
) -> tuple[int, dict[str, str], Any]:
    req = urllib.request.Request(server.base + path, data=body, method=method, headers=headers)
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(req, timeout=5) as r:
            raw = r.read()
            return r.status, dict(r.headers), json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        raw = e.read()
        return e.code, dict(e.headers), json.loads(raw) if raw else None


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


@pytest.fixture(scope="module")
def default_server() -> Iterator[Server]:
    """One server with the default settings for the tests that need nothing else."""
    server = start({})
    yield server
    server.stop()


def live_runs(server: Server) -> int:
    status, _, stats = call(server, "GET", "/api/stats", {})
    assert status == 200
    return int(stats["runs"])


@pytest.mark.parametrize(
    "host", ["localhost", "127.0.0.1", "[::1]", "LOCALHOST:{port}", "127.0.0.1:{port}"]
)
def test_loopback_names_are_answered(default_server: Server, host: str) -> None:
    server = default_server
    status, _, _ = call(server, "GET", "/api/options", {"Host": host.format(port=server.port)})
    assert status == 200


def test_other_hosts_are_refused_on_loopback(default_server: Server) -> None:
    server = default_server
    for host in ("evil.example", f"evil.example:{server.port}", "10.1.2.3", "localhost.evil"):
        status, _, body = call(server, "GET", "/api/options", {"Host": host})
        assert status == 400, host
        assert "BPV_ALLOWED_HOSTS" in body["detail"]
    status, _, _ = call(server, "GET", "/", {"Host": "evil.example"})
    assert status == 400  # the page too: a rebinding page cannot read it


def test_allowed_hosts_adds_names(serve: Callable[..., Server]) -> None:
    server = serve(BPV_ALLOWED_HOSTS="class.school.example, teacher.local")
    for host in ("class.school.example", f"Teacher.local:{server.port}", "localhost"):
        assert call(server, "GET", "/api/options", {"Host": host})[0] == 200, host
    assert call(server, "GET", "/api/options", {"Host": "evil.example"})[0] == 400


def test_rebinding_cannot_open_a_stream(default_server: Server) -> None:
    server = default_server
    status, _, run = call(server, "POST", "/api/runs", JSON, b"{}")
    assert status == 201
    url = f"{server.ws_base}/api/runs/{run['id']}/stream"

    async def attempt(host: str, origin: str) -> int:
        try:
            async with websockets.connect(
                url, origin=Origin(origin), additional_headers={"Host": host}, open_timeout=5
            ) as ws:
                await ws.send('{"type": "step"}')
                return 101
        except websockets.InvalidStatus as e:
            return e.response.status_code

    own = f"127.0.0.1:{server.port}"
    assert (
        asyncio.run(attempt(f"evil.example:{server.port}", f"http://evil.example:{server.port}"))
        == 403
    )
    assert asyncio.run(attempt(own, f"http://evil.example:{server.port}")) == 403
    assert asyncio.run(attempt(own, "null")) == 403
    assert asyncio.run(attempt(own, f"http://{own}")) == 101


def test_no_cors_post_without_json_type_makes_no_run(default_server: Server) -> None:
    """What ``fetch(url, {method: 'POST', mode: 'no-cors'})`` from another site sends."""
    server = default_server
    before = live_runs(server)
    for headers, body in (
        ({"Origin": "http://evil.example"}, None),
        ({"Origin": "http://evil.example", "Content-Type": "text/plain"}, b"{}"),
        ({"Content-Type": "application/x-www-form-urlencoded"}, b"a=1"),
        ({}, None),  # even with no Origin and no body
    ):
        status, _, body_out = call(server, "POST", "/api/runs", headers, body)
        assert status == 415, headers
        assert "application/json" in body_out["detail"]
    assert live_runs(server) == before


def test_foreign_origin_is_refused_even_with_json(default_server: Server) -> None:
    server = default_server
    before = live_runs(server)
    status, _, body = call(
        server, "POST", "/api/runs", {**JSON, "Origin": "http://evil.example"}, b"{}"
    )
    assert status == 403 and "Origin" in body["detail"]
    assert live_runs(server) == before
    # The page's own origin and curl (no Origin) work.
    assert call(server, "POST", "/api/runs", {**JSON, "Origin": server.base}, b"{}")[0] == 201
    status, _, run = call(server, "POST", "/api/runs", JSON, b"{}")
    assert status == 201
    assert call(server, "DELETE", f"/api/runs/{run['id']}", JSON)[0] == 204
    assert call(server, "DELETE", "/api/runs/whatever", {})[0] == 415


def test_allowed_origins_lets_a_listed_site_in(serve: Callable[..., Server]) -> None:
    server = serve(BPV_ALLOWED_ORIGINS="https://lesson.school.example")
    headers = {**JSON, "Origin": "https://lesson.school.example"}
    assert call(server, "POST", "/api/runs", headers, b"{}")[0] == 201


def test_slash_redirect_does_not_reflect_the_host(serve: Callable[..., Server]) -> None:
    server = serve(BPV_ALLOWED_HOSTS="class.school.example")
    status, headers, _ = call(server, "GET", "/api/runs/", {"Host": "class.school.example"})
    assert status in (307, 308)
    location = {k.lower(): v for k, v in headers.items()}["location"]
    assert location == "/api/runs"
