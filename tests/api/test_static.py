"""Static files and Plotly.js: compressed when the browser accepts it, the same bytes once
decompressed, cached with validators, and nothing outside static/ reachable."""

from __future__ import annotations

import gzip
import http.client
import os
import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import brotli
import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import ROOT, Settings
from app.static_assets import AssetStore
from app.web import PLOTLY_JS
from tests.browser.conftest import Server

# The page's largest module: a 1.7 kB entry point compresses by less than half.
MODULE = "/static/js/app.js"
ON_DISK = {MODULE: ROOT / "static/js/app.js", "/vendor/plotly.min.js": PLOTLY_JS}


def raw_get(client: TestClient, path: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    """GET without the client's own decoding: the bytes as they crossed the wire."""
    with client.stream("GET", path, headers=headers) as r:
        body = b"".join(r.iter_raw())
        return r.status_code, {k.lower(): v for k, v in r.headers.items()}, body


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(create_app(Settings())) as c:
        yield c


@pytest.mark.parametrize("path", list(ON_DISK))
def test_gzip_decompresses_to_the_file(client: TestClient, path: str) -> None:
    status, h, body = raw_get(client, path, **{"Accept-Encoding": "gzip"})
    assert status == 200
    assert h["content-encoding"] == "gzip"
    assert h["vary"] == "Accept-Encoding"
    assert int(h["content-length"]) == len(body)
    assert gzip.decompress(body) == ON_DISK[path].read_bytes()
    assert len(body) < ON_DISK[path].stat().st_size / 2
    assert h["content-type"].startswith("text/javascript")


def test_brotli_decompresses_to_the_file(client: TestClient) -> None:
    status, h, body = raw_get(client, MODULE, **{"Accept-Encoding": "gzip, deflate, br"})
    assert status == 200 and h["content-encoding"] == "br"
    assert brotli.decompress(body) == ON_DISK[MODULE].read_bytes()
    _, _hg, gz = raw_get(client, MODULE, **{"Accept-Encoding": "gzip"})
    assert len(body) < len(gz)


@pytest.mark.parametrize("accept", ["identity", "", "gzip;q=0, br;q=0", "deflate", "*;q=0"])
def test_plain_bytes_when_nothing_else_is_accepted(client: TestClient, accept: str) -> None:
    status, h, body = raw_get(client, MODULE, **{"Accept-Encoding": accept})
    assert status == 200
    assert "content-encoding" not in h
    assert h["vary"] == "Accept-Encoding"
    assert body == ON_DISK[MODULE].read_bytes()


def test_q_values_are_honoured(client: TestClient) -> None:
    _, h, _ = raw_get(client, MODULE, **{"Accept-Encoding": "br;q=0, gzip;q=0.5"})
    assert h["content-encoding"] == "gzip"
    _, h, _ = raw_get(client, MODULE, **{"Accept-Encoding": "*"})
    assert h["content-encoding"] in ("br", "gzip")


@pytest.mark.parametrize("path", list(ON_DISK))
def test_validators_answer_304(client: TestClient, path: str) -> None:
    _, h, _ = raw_get(client, path, **{"Accept-Encoding": "gzip"})
    etag, modified = h["etag"], h["last-modified"]
    assert "cache-control" in h
    for inm in (etag, f"W/{etag}", f'"nope", {etag}', "*"):
        ask = {"Accept-Encoding": "gzip", "If-None-Match": inm}
        status, h304, body = raw_get(client, path, **ask)
        assert status == 304, inm
        assert body == b""
        assert h304["etag"] == etag and h304["vary"] == "Accept-Encoding"
    # The same content in another encoding is still fresh (the browser keeps one copy).
    status, hbr, _ = raw_get(client, path, **{"Accept-Encoding": "identity", "If-None-Match": etag})
    assert status == 304 and hbr["etag"] != etag
    status, _, body = raw_get(client, path, **{"Accept-Encoding": "gzip", "If-None-Match": '"x"'})
    assert status == 200 and body
    status, _, _ = raw_get(client, path, **{"If-Modified-Since": modified})
    assert status == 304
    status, _, _ = raw_get(client, path, **{"If-Modified-Since": "Thu, 01 Jan 1998 00:00:00 GMT"})
    assert status == 200
    status, _, _ = raw_get(client, path, **{"If-Modified-Since": "not a date"})
    assert status == 200


def test_head_has_the_headers_and_no_body(client: TestClient) -> None:
    _, h, body = raw_get(client, MODULE, **{"Accept-Encoding": "gzip"})
    r = client.head(MODULE, headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200 and r.content == b""
    assert r.headers["content-length"] == str(len(body))
    assert r.headers["etag"] == h["etag"]


def test_an_edited_file_is_served_fresh(tmp_path: Path) -> None:
    static = tmp_path / "static"
    (static / "js").mkdir(parents=True)
    f = static / "js" / "a.js"
    f.write_text("export const a = 1;\n" * 50)
    with TestClient(create_app(replace(Settings(), static_dir=static))) as c:
        _, h1, _b1 = raw_get(c, "/static/js/a.js", **{"Accept-Encoding": "gzip"})
        before = f.stat().st_mtime_ns
        f.write_text("export const a = 2;\n" * 50)  # the same size: only the time tells
        os.utime(f, ns=(before + 1_000_000_000, before + 1_000_000_000))  # an editor a second on
        _, h2, b2 = raw_get(c, "/static/js/a.js", **{"Accept-Encoding": "gzip"})
        assert gzip.decompress(b2) == f.read_bytes()
        assert h2["etag"] != h1["etag"]
        status, _, _ = raw_get(c, "/static/js/a.js", **{"If-None-Match": h1["etag"]})
        assert status == 200


def test_slow_brotli_is_cached_on_disk(tmp_path: Path) -> None:
    """Plotly is brotli-compressed in the background once; the next store reads the cache."""
    cache = tmp_path / "cache"
    files = {"vendor/plotly.min.js": PLOTLY_JS}
    store = AssetStore(roots={}, files=files, cache_dir=cache, br_quality=4)
    asset = store.get("vendor/plotly.min.js")
    assert asset is not None and "gzip" in asset.encodings
    assert store.wait_compressed(timeout=120)
    assert brotli.decompress(asset.encodings["br"]) == PLOTLY_JS.read_bytes()
    assert len(list(cache.iterdir())) == 1
    again = AssetStore(roots={}, files=files, cache_dir=cache, br_quality=4).get(
        "vendor/plotly.min.js"
    )
    assert again is not None and again.encodings["br"] == asset.encodings["br"]


def test_an_unwritable_cache_only_costs_time(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    static = tmp_path / "static"
    static.mkdir()
    shutil.copy(ON_DISK[MODULE], static / "m.js")
    store = AssetStore({"static": static}, {}, cache_dir=blocker / "sub", br_quality=4)
    asset = store.get("static/m.js")
    assert asset is not None
    assert brotli.decompress(asset.encodings["br"]) == ON_DISK[MODULE].read_bytes()


@pytest.mark.parametrize(
    "path",
    [
        "/static/../pyproject.toml",
        "/static/%2e%2e/app/main.py",
        "/static/js/../../app/web.py",
        "/static/..%2f..%2fapp/main.py",
        "/static/js/..%5c..%5capp%5cmain.py",
        "/static/%00",
        "/static/js",
        "/static/js/",
        "/static/",
        "/static/.git/config",
        "/vendor/../app/web.py",
        "/vendor/plotly.js",
    ],
)
def test_nothing_outside_static_over_a_real_socket(real_server: str, path: str) -> None:
    """http.client sends the path as written (no dot-segment clean-up by the client)."""
    host, port = real_server.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request("GET", path, headers={"Accept-Encoding": "identity"})
        r = conn.getresponse()
        body = r.read()
    finally:
        conn.close()
    assert r.status in (400, 404), (path, r.status)
    assert b"create_app" not in body and b"[build-system]" not in body


@pytest.fixture(scope="module")
def real_server() -> Iterator[str]:
    srv = Server()
    try:
        yield srv.url
    finally:
        srv.stop()
        if srv.proc.stderr:  # kept for start-up errors; left open, it is a ResourceWarning
            srv.proc.stderr.close()
