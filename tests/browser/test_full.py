"""A refused run (429): the page gives the server's own reason and a next step that helps."""

from __future__ import annotations

import urllib.request

import pytest

from tests.browser.conftest import VIEWPORT, Server

pytestmark = pytest.mark.browser


def test_too_many_runs_for_this_client_says_so_and_how_to_get_one(browser) -> None:
    srv = Server({"BPV_MAX_RUNS_PER_CLIENT": "1"})
    first = browser.new_context(viewport=VIEWPORT, bypass_csp=True)
    second = browser.new_context(viewport=VIEWPORT, bypass_csp=True)
    try:
        pg1 = first.new_page()
        pg1.goto(f"{srv.url}/")
        pg1.wait_for_function(
            "window.__bpv && window.__bpv.stats.applied >= 1 && window.__bpv.plotsReady",
            timeout=60_000,
        )
        run_id = pg1.evaluate("window.__bpv.store.run.id")

        pg2 = second.new_page()
        pg2.goto(f"{srv.url}/")
        full = pg2.locator("#banner [data-banner=full]")
        full.wait_for(timeout=20_000)
        text = full.inner_text()
        # The server's reason, not "the server is full"; the way out; no countdown to nothing
        # (the one run is watched by the first tab, so no idle run will be freed by waiting).
        assert "max_runs_per_client = 1" in text
        assert "The server is full" not in text
        assert "Close other tabs of this page" in text
        assert "BPV_MAX_RUNS_PER_CLIENT" in text
        assert "try again in" not in text
        # The loading note beside it says the page waits for a slot, and its spinner stops
        # (nothing happens until the learner acts): not "Building the network…".
        note = pg2.locator("#loading")
        assert "Waiting for a training slot" in (note.inner_text() or ""), note.inner_text()
        spin = pg2.eval_on_selector("#loading .spinner", "s => getComputedStyle(s).animationName")
        assert spin == "none", spin

        # The first tab's run goes (here deleted, as eviction would): "Try again" now works.
        req = urllib.request.Request(f"{srv.url}/api/runs/{run_id}", method="DELETE")
        req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=5) as r:
            assert r.status in (200, 204)
        full.locator("button", has_text="Try again").click()
        pg2.wait_for_function(
            "window.__bpv.stats.applied >= 1 && window.__bpv.plotsReady", timeout=60_000
        )
        assert pg2.locator("#banner [data-banner=full]").count() == 0
        assert pg2.evaluate("window.__bpv.store.run.id") != run_id
    finally:
        second.close()
        first.close()
        srv.stop()
        if srv.proc.stderr:  # kept for start-up errors; left open, it is a ResourceWarning
            srv.proc.stderr.close()
