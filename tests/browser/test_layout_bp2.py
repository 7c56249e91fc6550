"""8-wide layers: the BP2 panel's sum line, its matrix and the hovered neuron's caption stay
apart and inside their boxes (a box that cannot hold its content scrolls) at 1280x720 and
1024x768. Screenshots in artifacts/ for a person to look at."""

from __future__ import annotations

import pytest

from tests.browser.conftest import ARTIFACTS

pytestmark = pytest.mark.browser

BOXES = """() => {
  // The part of el a person can see: its box cut by every ancestor that clips or scrolls.
  const r = (el) => { if (!el) return null; const b = el.getBoundingClientRect();
    let v = {x: b.left, y: b.top, r: b.right, b: b.bottom};
    for (let p = el.parentElement; p; p = p.parentElement) {
      const cs = getComputedStyle(p);
      if (cs.overflowX === 'visible' && cs.overflowY === 'visible') continue;
      const q = p.getBoundingClientRect();
      v = {x: Math.max(v.x, q.left), y: Math.max(v.y, q.top),
           r: Math.min(v.r, q.right), b: Math.min(v.b, q.bottom)};
    }
    return v; };
  const sum = document.querySelector('#explain [data-bp2-sum]');
  const mat = document.querySelector('#explain .bp2m');
  const sumBox = sum && sum.closest('table');
  const axis = [...document.querySelectorAll('#boundary .xtitle, #boundary .g-xtitle text')].pop();
  const cap = document.querySelector('.neuron-caption');
  // Every element of the explain panel whose content is wider than its box and that does
  // not scroll: content cut without a scrollbar.
  const clipped = [...document.querySelectorAll('#explain *')].filter((el) => {
    const cs = getComputedStyle(el);
    if (el.closest('math') || cs.display === 'inline') return false;
    const hides = ['hidden', 'clip'].includes(cs.overflowX);
    return hides && el.scrollWidth > el.clientWidth + 1;
  }).map((el) => el.className || el.tagName);
  // The matrix's own box: either all of it is visible, or it scrolls.
  const m = mat && mat.querySelector('.mrow');
  const scroller = mat && mat.querySelector('.mmat').parentElement;
  const panel = document.querySelector('#explain');
  const pr = panel.getBoundingClientRect();
  const scrolls = (el) => !!el && (el.scrollWidth <= el.clientWidth + 1
    || ['auto', 'scroll'].includes(getComputedStyle(el).overflowX));
  const cells = [...document.querySelectorAll('#explain .mmat th')]
    .map((th) => th.getBoundingClientRect());
  const cutCells = cells.filter((c) => c.right > pr.right + 1
    && !(scroller && scroller.scrollWidth > scroller.clientWidth)).length;
  // Scrolled to its start, the matrix's first column is in view (none lost off the left).
  const sl = scroller ? scroller.getBoundingClientRect().left : 0;
  const leftCut = scroller && scroller.scrollLeft === 0
    ? cells.filter((c) => c.left < sl - 1).length : 0;
  return {sum: r(sum), mat: r(mat), axis: r(axis), cap: r(cap), clipped, cutCells, leftCut,
    sumScrolls: scrolls(sumBox), matScrolls: scrolls(scroller),
    capFull: cap ? cap.scrollWidth <= cap.clientWidth + 1 : null, capText: cap && cap.textContent};
}"""


def overlap(a, b) -> bool:  # type: ignore[no-untyped-def]
    return (
        a["x"] < b["r"] - 0.5
        and b["x"] < a["r"] - 0.5
        and a["y"] < b["b"] - 0.5
        and b["y"] < a["b"] - 0.5
    )


@pytest.mark.parametrize(("w", "h"), [(1280, 720), (1024, 768)])
def test_bp2_panel_and_hover_caption_do_not_overlap(open_at, w: int, h: int) -> None:  # type: ignore[no-untyped-def]
    pg = open_at(w, h, "hidden=8,8&dataset=circle")
    pos = pg.evaluate("window.__bpv.network.clientPos(2, 1)")
    pg.mouse.click(pos["x"], pos["y"])
    pg.wait_for_selector("#explain [data-bp2-sum]", timeout=10_000)
    pg.wait_for_selector("#explain .bp2m", timeout=10_000)
    pg.mouse.move(pos["x"], pos["y"] + 1)  # hover the neuron: its caption over the plane
    pg.wait_for_function(
        "document.querySelector('.neuron-caption').textContent.startsWith('Hovered')", timeout=5_000
    )
    ARTIFACTS.mkdir(exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / f"bp2-8x8-{w}x{h}.png"))
    got = pg.evaluate(f"({BOXES})()")
    assert got["sum"] and got["mat"] and got["cap"] and got["axis"], got
    assert not overlap(got["sum"], got["mat"]), got
    assert not overlap(got["cap"], got["axis"]), got
    assert got["capFull"], got
    assert got["clipped"] == [], got
    assert got["cutCells"] == 0 and got["leftCut"] == 0, got
    assert got["sumScrolls"] and got["matScrolls"], got  # all shown, or a scrollbar of its own
