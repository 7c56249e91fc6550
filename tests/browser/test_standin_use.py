"""While the plots' stand-ins show (Plotly.js held back): the "plots loading" note covers no
control, plot or text a learner needs, and the network view answers at once (it is SVG of its
own, not a Plotly figure): a click on a neuron selects it (the explain panel shows its BP2),
hovering an edge names it, a click on it explains it. Screenshot in artifacts/."""

from __future__ import annotations

import pytest

from tests.browser.conftest import ARTIFACTS

pytestmark = pytest.mark.browser

COVERED = """() => {
  const note = document.querySelector('#loading').getBoundingClientRect();
  const over = (r) => r.width > 0 && r.height > 0 && r.left < note.right - 0.5
    && note.left < r.right - 0.5 && r.top < note.bottom - 0.5 && note.top < r.bottom - 0.5;
  const hits = [];
  const things = document.querySelectorAll(
    'header input, header button, header select, main input, main button, main select, '
    + 'main label, canvas.standin, #loss .loss-stats');
  for (const el of things) {
    if (el.closest('#loading')) continue;
    if (over(el.getBoundingClientRect())) hits.push(el.tagName + '.' + el.className + ' '
      + (el.textContent || '').trim().slice(0, 30));
  }
  // The explain panel's text, line by line (a block's box may pass under the note while its
  // text flows around it).
  const walk = document.createTreeWalker(document.querySelector('#explain'), NodeFilter.SHOW_TEXT);
  for (let t = walk.nextNode(); t; t = walk.nextNode()) {
    if (t.parentElement.closest('#loading') || !t.textContent.trim()) continue;
    const rg = document.createRange();
    rg.selectNodeContents(t);
    const text = t.textContent.trim().slice(0, 30);
    for (const r of rg.getClientRects()) if (over(r)) hits.push('text ' + text);
  }
  return {hits, note: [note.left, note.top, note.right, note.bottom]};
}"""


@pytest.mark.parametrize(("w", "h"), [(1280, 720), (1024, 768), (1920, 1080)])
def test_stand_in_state_note_covers_nothing_and_a_neuron_click_works(
    browser, server, w: int, h: int
) -> None:  # type: ignore[no-untyped-def]
    ctx = browser.new_context(viewport={"width": w, "height": h}, bypass_csp=True)
    held: list = []
    ctx.route("**/vendor/plotly.min.js", lambda r: held.append(r))
    pg = ctx.new_page()
    try:
        pg.goto(f"{server}/#hidden=4,2")
        pg.wait_for_function(
            "performance.getEntriesByName('bpv-first-draw').length > 0", timeout=30_000
        )
        pg.wait_for_timeout(300)
        assert pg.evaluate("typeof Plotly") == "undefined"
        note = pg.locator("#loading")
        assert note.is_visible() and "plots loading" in note.inner_text()
        got = pg.evaluate(COVERED)
        assert got["hits"] == [], got

        pos = pg.evaluate("window.__bpv.network.clientPos(2, 1)")
        pg.mouse.click(pos["x"], pos["y"])
        pg.wait_for_selector(
            ".explain-title:has-text('neuron k = 2 in layer l = 2')", timeout=10_000
        )
        pg.wait_for_selector("#explain .arith[data-eq='bp2-delta']", timeout=10_000)
        assert pg.evaluate("typeof Plotly") == "undefined"  # still the stand-ins
        got = pg.evaluate(COVERED)  # the longer BP2 text flows around the note too
        assert got["hits"] == [], got

        pos = pg.evaluate("window.__bpv.network.clientPos(3, 0, 1)")  # w³₁₂: k = 2 → j = 1
        pg.mouse.move(pos["x"], pos["y"])
        tip = pg.locator("#net .net-tip")
        tip.wait_for(state="visible", timeout=5_000)
        assert tip.inner_text().startswith("w³₁₂ = ")
        pg.mouse.click(pos["x"], pos["y"])
        pg.wait_for_selector(".explain-title:has-text('Edge w³₁₂')", timeout=10_000)
        pg.mouse.move(2, 2)  # off the network: the tooltip goes
        tip.wait_for(state="hidden", timeout=5_000)
        assert pg.evaluate("typeof Plotly") == "undefined"
        ARTIFACTS.mkdir(exist_ok=True)
        pg.screenshot(path=str(ARTIFACTS / f"standin-click-{w}x{h}.png"))
    finally:
        ctx.close()
