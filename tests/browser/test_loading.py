"""First load on a slow network: the page says what it is doing, ▶ is disabled until the first
frame is drawn (no dead button); the first frame is drawn before Plotly.js has loaded, with a
note that the interactive plots are still loading, until Plotly has drawn them; compressed
assets keep a cold load under 2 MB; a failed start says so instead of spinning."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

MBIT = 1_000_000 / 8  # bytes per second
DELETE_RUN = """(r => r && fetch(`/api/runs/${r.id}`,
  {method: 'DELETE', headers: {'Content-Type': 'application/json'}}))(window.__bpv?.store.run)"""


# Every state the loading note passes through, as the learner sees it, recorded as it changes.
WATCH = """
window.__loadingSeen = [];
const look = () => {
  const el = document.querySelector('#loading');
  const text = el?.querySelector('.loading-text')?.textContent;
  if (!text) return;
  const play = document.querySelector('#play');
  const s = {
    text, shown: !el.hidden, corner: el.classList.contains('plots'),
    play: play ? !play.disabled : false,
    inert: !!document.querySelector('main.layout')?.inert,
    standin: !!document.querySelector('#boundary > canvas.standin'),
    plotly: typeof Plotly !== 'undefined',
  };
  const last = window.__loadingSeen[window.__loadingSeen.length - 1];
  if (!last || JSON.stringify(last) !== JSON.stringify(s)) window.__loadingSeen.push(s);
};
new MutationObserver(look).observe(document, {
  childList: true, subtree: true, characterData: true,
  attributes: true, attributeFilter: ['hidden', 'class', 'disabled', 'inert'],
});
"""


def test_throttled_load_shows_progress_then_works(browser, server) -> None:  # type: ignore[no-untyped-def]
    ctx = browser.new_context(viewport={"width": 1280, "height": 720}, bypass_csp=True)
    ctx.add_init_script(WATCH)
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
    pg.wait_for_function("window.__bpv && window.__bpv.plotsReady", timeout=60_000)
    seen = pg.evaluate("window.__loadingSeen")
    texts = [s["text"] for s in seen]
    # While it starts: a message naming what is happening, ▶ disabled, the panels inert.
    assert texts[0] == "Loading the page…"
    assert "Connecting to the server…" in texts and "Building the network…" in texts
    booting = [s for s in seen if not s["corner"]]
    assert booting and all(s["shown"] and not s["play"] and s["inert"] for s in booting), booting
    # The first frame drawn before Plotly.js: the page works, a corner note says the
    # interactive plots are on their way, the output is drawn by its stand-in.
    first = next(s for s in seen if s["corner"])
    assert first["shown"] and "plots loading" in first["text"], first
    assert first["play"] and not first["inert"] and first["standin"] and not first["plotly"], first
    # Plotly drawn: the note is gone, the stand-in replaced.
    assert not seen[-1]["shown"] and seen[-1]["plotly"] and not seen[-1]["standin"], seen[-1]
    marks = pg.evaluate(
        "['bpv-first-draw', 'bpv-plots-ready']"
        ".map(n => performance.getEntriesByName(n)[0].startTime)"
    )
    assert marks[0] < marks[1]
    assert pg.locator("#play").is_enabled()
    assert not pg.evaluate("document.querySelector('main.layout').inert")
    assert pg.locator("#stepno").inner_text() == "0"
    pg.locator("#step").click()
    pg.wait_for_function("document.querySelector('#stepno').textContent === '1'", timeout=20_000)
    # Compressed on the wire, and fetched once: Plotly alone is 4.8 MB uncompressed.
    plotly = [u for u in encodings if u.endswith("/vendor/plotly.min.js")]
    assert plotly and encodings[plotly[0]] in ("gzip", "br")
    assert sum(1 for u in urls.values() if u.endswith("/vendor/plotly.min.js")) == 1
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
