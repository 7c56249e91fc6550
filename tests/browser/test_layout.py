"""Layout at projector, laptop and phone sizes, as a person sees it in Chromium: no control
clipped or overlapped, no horizontal scrolling, the network, output and explain panel all
reachable, and nothing of the explain panel (BP2 matrix included) cut off. Screenshots of
every size go to artifacts/layout-WxH.png (look at them)."""

from __future__ import annotations

import pytest

from tests.browser.conftest import ARTIFACTS

pytestmark = pytest.mark.browser

# make test: the narrowest and widest desktops; make test-slow adds the two between.
DESKTOP = [
    (1024, 768),
    pytest.param(1280, 720, marks=pytest.mark.slow),
    pytest.param(1366, 768, marks=pytest.mark.slow),
    (1920, 1080),
]
PHONE = [(390, 844), (360, 740)]

# Every visible control with its box, the nearest scrolling ancestor's box (or null).
CONTROLS = """() => {
  const out = [];
  const scroller = (el) => {
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      const s = getComputedStyle(p);
      const scrolls = /(auto|scroll)/.test(s.overflowY + s.overflowX);
      if (scrolls) return p.getBoundingClientRect().toJSON();
    }
    return null;
  };
  const sel = 'button, select, input:not([type=file]), .csv';
  for (const el of document.querySelectorAll(sel)) {
    const r = el.getBoundingClientRect();
    if (!r.width || !r.height || el.closest('[hidden], #banner, .loading')) continue;
    const id = el.id || el.dataset.dataset || el.getAttribute('aria-label') || el.value
      || el.textContent.trim().slice(0, 20);
    const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
    out.push({id: `${el.tagName.toLowerCase()}#${id}`, r: r.toJSON(), scroller: scroller(el),
              top: hit === el || el.contains(hit)});
  }
  return out;
}"""


def overlap(a: dict, b: dict) -> float:
    w = min(a["right"], b["right"]) - max(a["left"], b["left"])
    h = min(a["bottom"], b["bottom"]) - max(a["top"], b["top"])
    return max(0.0, w) * max(0.0, h)


def select_hidden_neuron(pg) -> None:  # type: ignore[no-untyped-def]
    """Click neuron 1 of layer 2 as a learner would: the explain panel shows BP2 + matrix."""
    pg.evaluate("document.querySelector('#net').scrollIntoView({block: 'center'})")
    pos = pg.evaluate("window.__bpv.network.clientPos(2, 0)")
    pg.mouse.click(pos["x"], pos["y"])
    # Until the panel shows that neuron's BP2 with the server's exact numbers (the frame that
    # answers the selection) and its matrix.
    pg.wait_for_function(
        "(() => { const s = window.__bpv.store.selection, e = window.__bpv.store.frame.explain;"
        " return s && s.l === 2 && s.j === 0 && e && e.l === 2 && e.j === 0"
        " && !!document.querySelector('#explain [data-bp2-matrix]'); })()"
    )


def check_controls(pg, w: int, h: int, desktop: bool) -> None:  # type: ignore[no-untyped-def]
    pg.evaluate("window.scrollTo(0, 0)")
    sw = pg.evaluate("document.documentElement.scrollWidth")
    assert sw <= w, f"horizontal scrollbar at {w}x{h}: content is {sw} px wide"
    controls = pg.evaluate(CONTROLS)
    assert len(controls) > 30
    for c in controls:
        r = c["r"]
        assert r["left"] >= -0.5 and r["right"] <= w + 0.5, f"{c['id']} cut at {w}x{h}: {r}"
        box = c["scroller"]
        if box:  # inside a scrolling panel: horizontally inside it
            assert r["left"] >= box["left"] - 0.5 and r["right"] <= box["right"] + 0.5, c
        elif desktop:  # one screen: every control fully on it, and not covered
            assert r["top"] >= -0.5 and r["bottom"] <= h + 0.5, f"{c['id']} cut at {w}x{h}: {r}"
            assert c["top"], f"{c['id']} is covered by something at {w}x{h}"
    for i, a in enumerate(controls):
        for b in controls[i + 1 :]:
            assert overlap(a["r"], b["r"]) < 1, f"{a['id']} overlaps {b['id']} at {w}x{h}"


def check_reachable(pg, w: int, h: int) -> None:  # type: ignore[no-untyped-def]
    for sel in ("#net .net-stage", "#boundary", "#explain", "#loss .loss-plot"):
        pg.evaluate(f"document.querySelector('{sel}').scrollIntoView({{block: 'nearest'}})")
        r = pg.evaluate(f"document.querySelector('{sel}').getBoundingClientRect().toJSON()")
        assert r["width"] >= min(240, w - 40) and r["height"] >= 80, f"{sel} too small: {r}"
        assert r["left"] >= -0.5 and r["right"] <= w + 0.5, f"{sel} cut at {w}x{h}: {r}"
        seen_h = min(r["bottom"], h) - max(r["top"], 0)
        assert seen_h >= min(r["height"], h) * 0.9, f"{sel} not in view after scrolling: {r}"
        cx, cy = r["left"] + r["width"] / 2, max(r["top"], 0) + seen_h / 2
        inside = pg.evaluate(
            f"document.querySelector('{sel}').contains(document.elementFromPoint({cx}, {cy}))"
        )
        assert inside, f"{sel} is covered at {w}x{h}"


def check_explain_not_cut(pg, w: int, h: int) -> None:  # type: ignore[no-untyped-def]
    pg.evaluate("document.querySelector('#explain').scrollIntoView({block: 'nearest'})")
    ex = pg.evaluate(
        "(() => { const e = document.querySelector('#explain'); "
        "return {sw: e.scrollWidth, cw: e.clientWidth}; })()"
    )
    assert ex["sw"] <= ex["cw"] + 1, f"explain panel cut horizontally at {w}x{h}: {ex}"
    matrix = pg.locator("#explain .bp2m")
    if matrix.count():
        box = pg.evaluate("document.querySelector('#explain').getBoundingClientRect().toJSON()")
        m = pg.evaluate("document.querySelector('#explain .bp2m').getBoundingClientRect().toJSON()")
        assert m["right"] <= box["right"] + 0.5, f"BP2 matrix cut at {w}x{h}"


def check_network_labels(pg, w: int, h: int) -> None:  # type: ignore[no-untyped-def]
    """Layer labels and the output layer's parts stay inside the network panel."""
    net = pg.evaluate("document.querySelector('#net').getBoundingClientRect().toJSON()")
    labels = pg.evaluate(
        "[...document.querySelectorAll('#net .layer-label, #net .net-live circle')]"
        ".map(e => e.getBoundingClientRect().toJSON())"
    )
    assert labels
    for r in labels:
        assert net["left"] - 0.5 <= r["left"] and r["right"] <= net["right"] + 0.5, (r, net)
    boxes = pg.evaluate(
        "[...document.querySelectorAll('#net .layer-label')]"
        ".map(e => e.getBoundingClientRect().toJSON())"
    )
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert overlap(a, b) < 1, f"layer labels overlap at {w}x{h}"


@pytest.mark.parametrize(("w", "h"), DESKTOP)
def test_desktop_sizes(open_at, w: int, h: int) -> None:  # type: ignore[no-untyped-def]
    pg = open_at(w, h)
    select_hidden_neuron(pg)
    pg.evaluate("window.scrollTo(0, 0)")
    ARTIFACTS.mkdir(exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / f"layout-{w}x{h}.png"))
    check_controls(pg, w, h, desktop=True)
    # One screen: the page itself does not scroll at desktop sizes.
    assert pg.evaluate("document.documentElement.scrollHeight") <= h + 1
    check_reachable(pg, w, h)
    check_explain_not_cut(pg, w, h)
    check_network_labels(pg, w, h)
    assert pg.errors == []


@pytest.mark.parametrize(("w", "h"), PHONE)
def test_stacked_phone_sizes(open_at, w: int, h: int) -> None:  # type: ignore[no-untyped-def]
    pg = open_at(w, h)
    ARTIFACTS.mkdir(exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / f"layout-{w}x{h}.png"), full_page=True)
    check_controls(pg, w, h, desktop=False)
    check_reachable(pg, w, h)
    select_hidden_neuron(pg)
    check_explain_not_cut(pg, w, h)
    check_network_labels(pg, w, h)
    # Stacked in reading order: network above the output above the data controls.
    tops = pg.evaluate(
        "['#net', '#boundary', '#datasets'].map(s => document.querySelector(s)"
        ".getBoundingClientRect().top + window.scrollY)"
    )
    assert tops == sorted(tops)
    assert pg.errors == []
