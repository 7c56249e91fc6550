"""First load on a slow network: the page says what it is doing, ▶ is disabled until the page
is ready (no dead button), then everything works; compressed assets keep a cold load under
2 MB; a failed start says so instead of spinning."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

MBIT = 1_000_000 / 8  # bytes per second
DELETE_RUN = """(r => r && fetch(`/api/runs/${r.id}`,
  {method: 'DELETE', headers: {'Content-Type': 'application/json'}}))(window.__bpv?.store.run)"""


def test_throttled_load_shows_progress_then_works(browser, server) -> None:  # type: ignore[no-untyped-def]
    ctx = browser.new_context(viewport={"width": 1280, "height": 720}, bypass_csp=True)
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    cdp = ctx.new_cdp_session(pg)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    cdp.send(
        "Network.emulateNetworkConditions",
        {
            "offline": False,
            "latency": 40,
            "downloadThroughput": 5 * MBIT,
            "uploadThroughput": 5 * MBIT,
        },
    )
    sizes: dict[str, int] = {}
    urls: dict[str, str] = {}
    encodings: dict[str, str] = {}

    def on_response(ev: dict) -> None:
        urls[ev["requestId"]] = ev["response"]["url"]
        hdrs = {k.lower(): v for k, v in ev["response"]["headers"].items()}
        encodings[ev["response"]["url"]] = hdrs.get("content-encoding", "")

    cdp.on("Network.responseReceived", on_response)
    cdp.on(
        "Network.loadingFinished",
        lambda ev: sizes.__setitem__(ev["requestId"], int(ev["encodedDataLength"])),
    )
    pg.goto(f"{server}/", wait_until="commit")
    status = pg.locator("#loading")
    status.wait_for(state="visible", timeout=20_000)
    seen: list[str] = []
    # While it loads: a message naming what is happening, ▶ disabled, the panels inert.
    while pg.evaluate("!(window.__bpv && window.__bpv.stats.applied >= 1)"):
        text = pg.evaluate("document.querySelector('#loading .loading-text')?.textContent ?? ''")
        if text and (not seen or seen[-1] != text):
            seen.append(text)
            assert pg.locator("#play").is_disabled(), f"▶ enabled during: {text}"
            assert pg.evaluate("document.querySelector('main.layout').inert")
        pg.wait_for_timeout(50)
        assert len(seen) < 50
    assert seen[0] == "Loading the plotting library…"
    assert "Building the network…" in seen or "Connecting to the server…" in seen
    # Ready: the message is gone and the controls work.
    pg.wait_for_function("document.querySelector('#loading').hidden", timeout=10_000)
    assert pg.locator("#play").is_enabled()
    assert not pg.evaluate("document.querySelector('main.layout').inert")
    assert pg.locator("#stepno").inner_text() == "0"
    pg.locator("#step").click()
    pg.wait_for_function("document.querySelector('#stepno').textContent === '1'", timeout=20_000)
    # Compressed on the wire: Plotly alone is 4.8 MB uncompressed.
    plotly = [u for u in encodings if u.endswith("/vendor/plotly.min.js")]
    assert plotly and encodings[plotly[0]] in ("gzip", "br")
    total = sum(sizes.values())
    assert total <= 2_000_000, f"cold load transferred {total} bytes"
    pg.evaluate(DELETE_RUN)
    ctx.close()
    assert errors == []


def test_failed_start_says_so(browser, server) -> None:  # type: ignore[no-untyped-def]
    ctx = browser.new_context(viewport={"width": 1280, "height": 720}, bypass_csp=True)
    ctx.route("**/api/options", lambda r: r.abort())
    pg = ctx.new_page()
    pg.goto(f"{server}/")
    pg.locator("#loading.failed").wait_for(timeout=30_000)
    assert "could not start" in pg.locator("#loading").inner_text()
    assert "Cannot load" in pg.locator("#banner").inner_text()
    assert pg.locator("#play").is_disabled()
    ctx.close()
