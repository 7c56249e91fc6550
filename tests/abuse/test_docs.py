"""``/docs`` and ``/redoc`` work on a school network without internet: every script, style
and icon comes from this server (the ``fastapi-offline`` package), and they run under the
page's Content-Security-Policy. Before, both loaded their scripts from a CDN.
"""

from __future__ import annotations

import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests.abuse.conftest import ROOT, Server, start

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "artifacts"
_REFERENCE = re.compile(r"""(?:src|href|spec-url)\s*=\s*["']([^"']+)["']""")


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    srv = start({})
    yield srv
    srv.stop()


def fetch(server: Server, path: str) -> tuple[int, str, bytes]:
    with urllib.request.urlopen(server.base + path, timeout=10) as r:
        return r.status, r.headers["Content-Type"], r.read()


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_docs_pages_reference_only_this_server(server: Server, page: str) -> None:
    status, kind, body = fetch(server, page)
    assert status == 200 and kind.startswith("text/html")
    html = body.decode()
    references = _REFERENCE.findall(html)
    assert references, "the page loads its scripts from somewhere"
    for ref in references:
        parsed = urlparse(ref)
        assert not parsed.scheme and not parsed.netloc and ref.startswith("/"), ref
        status, kind, content = fetch(server, ref)
        assert status == 200 and len(content) > 0, ref
        if ref.endswith(".js"):
            assert kind.startswith(("text/javascript", "application/javascript")), ref
        if ref.endswith(".css"):
            assert kind.startswith("text/css"), ref
    assert "<script>" not in html  # no inline script: the CSP allows none
    assert "cdn" not in html.lower() and "googleapis" not in html


def _open(browser, server: Server, path: str, ready: str):  # type: ignore[no-untyped-def]
    """Open ``path``; returns (page, outside requests, console errors, CSP violations)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    outside: list[str] = []
    errors: list[str] = []

    def route(r):  # type: ignore[no-untyped-def]
        host = urlparse(r.request.url).hostname
        if r.request.url.startswith(("data:", "blob:")) or host == "127.0.0.1":
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.add_init_script(
        "window.__csp = []; document.addEventListener('securitypolicyviolation',"
        " e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"
    )
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    page.goto(server.base + path)
    page.wait_for_selector(ready, timeout=15_000)
    page.wait_for_timeout(500)
    return context, page, outside, errors, page.evaluate("window.__csp")


@pytest.mark.browser
def test_docs_pages_render_offline_in_chromium(server: Server) -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found: run `make chromium`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"], headless=True
        )
        try:
            ctx, page, outside, errors, csp = _open(
                browser, server, "/docs", ".swagger-ui .info .title"
            )
            assert "backprop-viz" in page.inner_text(".swagger-ui .info .title")
            # Every operation of the API is listed (POST /api/runs among them).
            assert page.locator(".opblock-summary-path", has_text="/api/runs").count() >= 1
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "docs.png"))
            assert (outside, errors, csp) == ([], [], [])
            ctx.close()

            ctx, page, outside, errors, csp = _open(browser, server, "/redoc", "h1")
            assert "backprop-viz" in page.inner_text("h1")
            page.screenshot(path=str(ARTIFACTS / "redoc.png"))
            # ReDoc's sidebar footer links its maker's logo on their CDN: the CSP blocks it
            # before any request leaves (outside stays empty); nothing else may be blocked.
            logo = "cdn.redoc.ly/redoc/logo-mini.svg"
            assert outside == []
            assert [e for e in errors if logo not in e] == []
            assert [v for v in csp if logo not in v] == []
            ctx.close()
        finally:
            browser.close()


@pytest.mark.browser
def test_the_page_runs_under_its_csp_in_chromium(server: Server) -> None:
    """The app itself, Plotly included, with no CSP violation: a frame arrives and the
    plots draw."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"], headless=True
        )
        try:
            ctx, page, outside, errors, _ = _open(browser, server, "/", "body")
            # A function, not a string: Playwright evaluates strings with eval, which this
            # CSP (rightly) forbids.
            page.wait_for_function(
                "() => window.__bpv && window.__bpv.stats.applied >= 1", timeout=30_000
            )
            # Plotly.js is loaded after the first frame: it must load and draw under the CSP.
            page.wait_for_function("() => window.__bpv.plotsReady === true", timeout=60_000)
            assert page.locator(".js-plotly-plot").count() >= 1  # Plotly drew under the CSP
            page.wait_for_timeout(500)
            assert (outside, errors, page.evaluate("window.__csp")) == ([], [], [])
            ctx.close()
        finally:
            browser.close()
