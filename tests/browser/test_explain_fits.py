"""The explain panel's arithmetic is all in view: BP2's Σ row ends with its "= result" inside
the visible box at common desktop sizes (it wraps at the "+" signs, it is not cut off), and at
phone width the BP2 matrix is inside the page or in a box that scrolls and shows it does.
Read from what Chromium laid out; screenshots in artifacts/."""

from __future__ import annotations

import pytest

from tests.browser.conftest import ARTIFACTS

pytestmark = pytest.mark.browser

VISIBLE = """(el) => {
  // The part of el a person can see: its box cut by the viewport and every ancestor that
  // clips or scrolls.
  const b = el.getBoundingClientRect();
  let v = {x: b.left, y: b.top, r: b.right, b: b.bottom};
  for (let p = el.parentElement; p; p = p.parentElement) {
    const cs = getComputedStyle(p);
    if (cs.overflowX === 'visible' && cs.overflowY === 'visible') continue;
    const q = p.getBoundingClientRect();
    v = {x: Math.max(v.x, q.left), y: v.y, r: Math.min(v.r, q.right), b: v.b};
  }
  v.r = Math.min(v.r, document.documentElement.clientWidth);
  return {box: {x: b.left, r: b.right}, seen: v};
}"""


def trained_bp2(pg, layer: int = 2):  # type: ignore[no-untyped-def]
    """Train a little, pause, click hidden neuron 1 of `layer` (layer 2: 6 outgoing edges)."""
    pg.click("#play")
    pg.wait_for_function("window.__bpv.store.frame.step >= 100", timeout=30_000)
    pg.click("#play")
    pg.wait_for_function("window.__bpv.store.frame.status === 'paused'", timeout=10_000)
    pg.wait_for_timeout(350)
    pos = pg.evaluate(f"window.__bpv.network.clientPos({layer}, 0)")
    pg.mouse.click(pos["x"], pos["y"])
    pg.wait_for_selector("#explain [data-eq='bp2-sum'] [data-result]", timeout=10_000)
    pg.mouse.move(2, 2)


# make test: the narrowest and widest desktops; make test-slow adds the two between.
@pytest.mark.parametrize(
    ("w", "h"),
    [
        (1024, 768),
        pytest.param(1280, 720, marks=pytest.mark.slow),
        pytest.param(1366, 768, marks=pytest.mark.slow),
        (1920, 1080),
    ],
)
def test_bp2_sum_result_is_in_view(open_at, w: int, h: int) -> None:  # type: ignore[no-untyped-def]
    pg = open_at(w, h, "dataset=spiral&hidden=6,6,4")
    trained_bp2(pg)
    ARTIFACTS.mkdir(exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / f"bp2-sum-{w}x{h}.png"))
    terms = pg.locator("#explain [data-eq='bp2-sum'] [data-term]").count()
    assert terms == 7, terms  # six products and the result
    for sel in ["[data-eq='bp2-sum'] [data-result]", "[data-eq='bp2-sum'] [data-term]"]:
        for el in pg.locator(f"#explain {sel}").element_handles():
            got = pg.evaluate(VISIBLE, el)
            assert got["seen"]["r"] >= got["box"]["r"] - 0.5, (sel, el.text_content(), got)
            assert got["seen"]["x"] <= got["box"]["x"] + 0.5, (sel, el.text_content(), got)
    # No sideways scrolling hides anything in the arithmetic column.
    left = pg.evaluate(
        "(() => { const t = document.querySelector('#explain .explain-left');"
        " return [t.scrollWidth, t.clientWidth]; })()"
    )
    assert left[0] <= left[1] + 1, left


@pytest.mark.parametrize("layer", [2, 3])
def test_bp2_matrix_fits_or_scrolls_at_phone_width(open_at, layer: int) -> None:  # type: ignore[no-untyped-def]
    pg = open_at(390, 844, "dataset=spiral&hidden=6,6,4")
    trained_bp2(pg, layer)
    pg.wait_for_selector("#explain .bp2m")
    pg.locator("#explain .bp2m").scroll_into_view_if_needed()
    ARTIFACTS.mkdir(exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / f"bp2-matrix-390x844-l{layer}.png"), full_page=True)
    got = pg.evaluate(
        """() => {
      const W = document.documentElement.clientWidth;
      const m = document.querySelector('#explain .bp2m');
      // A box that scrolls sideways and has more than it shows.
      const scroller = (el) => {
        for (let p = el; p && p !== document.body; p = p.parentElement) {
          const cs = getComputedStyle(p);
          const more = p.scrollWidth > p.clientWidth + 1;
          if (['auto', 'scroll'].includes(cs.overflowX) && more) return p;
        }
        return null; };
      const out = [...m.querySelectorAll('*')].filter((e) => {
        const r = e.getBoundingClientRect();
        return r.width > 0 && r.right > W + 0.5 && !scroller(e);
      }).map((e) => e.textContent.slice(0, 20));
      const sc = scroller(m.querySelector('.mmat') || m);
      // A box that scrolls shows a scrollbar (its height is more than its content's box).
      const cue = sc ? {bar: sc.offsetHeight - sc.clientHeight} : null;
      return {out, cue, docW: document.documentElement.scrollWidth, W};
    }"""
    )
    assert got["out"] == [], got  # nothing past the right edge unless its box scrolls
    assert got["docW"] <= got["W"] + 1, got  # the page itself does not scroll sideways
    if got["cue"] is not None:  # it scrolls: a person can see that it does
        assert got["cue"]["bar"] > 0, got
