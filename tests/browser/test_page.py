"""The page loads offline, finds its run again after a reload, and says when the server is full."""

from __future__ import annotations

import json
import urllib.request

import pytest

from tests.browser.conftest import ARTIFACTS, Server, open_app

pytestmark = pytest.mark.browser


def test_loads_offline_without_console_errors(page, page_probe) -> None:
    open_app(page, frames=1)
    # Everything the page needed came from 127.0.0.1 (the fixture aborts anything else).
    assert any(u.endswith("/vendor/plotly.min.js") for u in page_probe.requests)
    assert any(u.startswith("ws://127.0.0.1") for u in page_probe.requests)
    # Every view is drawn.
    assert page.locator("#net .net-live circle").count() == 9  # 2-4-2-1, drawn as SVG
    assert page.locator("#net .net-live image[href^='data:image']").count() == 9  # thumbnails
    assert page.locator("#boundary .main-svg").count() > 0
    assert page.locator("#loss .loss-plot .main-svg").count() > 0
    assert page.locator(".explain-title").inner_text().startswith("The four equations")
    assert page.locator("math").count() >= 4  # native MathML
    assert page.locator(".layer-label").count() == 4  # 2-4-2-1
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "page-1280x720.png"))


def test_reload_reconnects_to_the_same_run(page, page_probe) -> None:
    open_app(page)
    run_id = page.evaluate("window.__bpv.store.run.id")
    page.reload()
    page.wait_for_function(
        "window.__bpv && window.__bpv.stats.applied >= 1 && window.__bpv.plotsReady", timeout=60_000
    )
    assert page.evaluate("window.__bpv.store.run.id") == run_id
    # A run the server no longer knows is replaced by a new one.
    page_probe.allow("404")
    page.evaluate("sessionStorage.setItem('bpv.run', 'no-such-run')")
    page.reload()
    page.wait_for_function(
        "window.__bpv && window.__bpv.stats.applied >= 1 && window.__bpv.plotsReady", timeout=60_000
    )
    assert page.evaluate("window.__bpv.store.run.id") not in (run_id, "no-such-run")


@pytest.mark.single_process(
    reason="max_runs is counted per worker process: with --workers 2 the other worker has a slot"
)
def test_server_full_is_a_clear_message(browser) -> None:
    srv = Server({"BPV_MAX_RUNS": "1"})
    try:
        req = urllib.request.Request(
            f"{srv.url}/api/runs", data=b"{}", headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req) as r:
            first = json.load(r)["id"]
        # bypass_csp: Playwright's string predicates use eval, which the page's CSP forbids
        # (tests/abuse/test_docs.py checks the page under its real CSP).
        context = browser.new_context(viewport={"width": 1280, "height": 720}, bypass_csp=True)
        pg = context.new_page()
        errors: list[str] = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.goto(f"{srv.url}/")
        banner = pg.locator("#banner [data-banner=full]")
        banner.wait_for(timeout=15_000)
        assert "server is full" in banner.inner_text()
        assert pg.locator("#banner button", has_text="Try again now").count() == 1
        # A slot frees up: the page gets its run without a reload.
        urllib.request.urlopen(
            urllib.request.Request(
                f"{srv.url}/api/runs/{first}",
                method="DELETE",
                headers={"Content-Type": "application/json"},
            )
        ).close()
        pg.locator("#banner button", has_text="Try again now").click()
        pg.wait_for_function(
            "window.__bpv.stats.applied >= 1 && window.__bpv.plotsReady", timeout=60_000
        )
        assert pg.locator("#banner [data-banner=full]").count() == 0
        assert errors == []
        context.close()
    finally:
        srv.stop()
        if srv.proc.stderr:  # kept for start-up errors; left open, it is a ResourceWarning
            srv.proc.stderr.close()
