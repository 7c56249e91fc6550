"""The loss panel fits the window at every desktop size, on the default page and on the digits
page, after training (static/css/app.css: the out column's panels and the loss panel's rows).
The panel's rows (the costs, the ΔC prediction line, the plot, the timeline and its caption,
then log scale, Save, Open… and Download ▾) ran past the bottom of the window once the
prediction line was there: at 1024x768 the Download button was cut at the bottom edge
(default page), and on the digits page (whose Output panel takes more of the column) the
caption was cut mid-line and Save, Open… and Download were below the window; at 1280x720 the
log-scale row was cut; at 1366x768 the plot was 90 px tall.

Read from the page in Chromium after 300 steps, with the prediction line shown: the document
does not scroll; each control of the panel and each item of the Download menu it opens lies
inside the window and inside every ancestor that clips, and is what the browser finds at its
own centre (elementFromPoint); every line of the panel's text is inside the panel and the
window; the rows follow each other without overlapping; the loss plot is at least 120 px tall.
Screenshots: artifacts/loss-panel-PAGE-WxH.png.
"""

from __future__ import annotations

import itertools

import pytest

from tests.browser.conftest import ARTIFACTS, digits_shown, trained_to

pytestmark = pytest.mark.browser

SIZES = [(1024, 768), (1280, 720), (1366, 768), (1920, 1080)]
PAGES = {"default": "", "digits": "dataset=digits&hidden=30"}
STEPS = 300
MIN_PLOT = 120

CONTROLS = {
    "log scale": "#loss-log",
    "Save": "#save-run",
    "Open…": "#open-run",
    "Download": "#downloads summary",
}

# An element's box, every clipping ancestor's box (overflow other than visible on an axis: that
# axis) and whether the browser finds the element (or something inside it) at its centre.
SEEN = """(sel) => {
  const el = document.querySelector(sel);
  const r = el.getBoundingClientRect();
  const clips = [];
  for (let p = el.parentElement; p; p = p.parentElement) {
    const s = getComputedStyle(p);
    const x = s.overflowX !== 'visible', y = s.overflowY !== 'visible';
    if (x || y) clips.push({tag: p.tagName, cls: p.className, x, y,
                            r: p.getBoundingClientRect().toJSON()});
  }
  const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
  return {r: r.toJSON(), clips, hit: !!hit && (hit === el || el.contains(hit)),
          hitWhat: hit ? hit.outerHTML.slice(0, 80) : null};
}"""

# The panel, its rows, every line of its text (Range rects), the document's scroll height.
PANEL = """() => {
  const box = (e) => e.getBoundingClientRect().toJSON();
  const loss = document.querySelector('#loss');
  const rows = ['.loss-stats', '.loss-prediction', '.loss-plot', '.timeline', '.loss-foot']
    .map((s) => ({sel: s, r: box(loss.querySelector(s))}));
  const lines = [];
  const walk = document.createTreeWalker(loss, NodeFilter.SHOW_TEXT);
  for (let n = walk.nextNode(); n; n = walk.nextNode()) {
    if (!n.textContent.trim() || n.parentElement.closest('.menu, .loss-plot')) continue;
    const range = document.createRange();
    range.selectNodeContents(n);
    for (const r of range.getClientRects()) lines.push({text: n.textContent, r: r.toJSON()});
  }
  const svg = loss.querySelector('.loss-plot .main-svg');
  return {panel: box(loss), rows, lines, svg: svg ? box(svg) : null,
          scrollH: document.documentElement.scrollHeight, innerH: innerHeight,
          scrollY: window.scrollY};
}"""


def check_seen(pg, name: str, sel: str, w: int, h: int, where: str) -> None:  # type: ignore[no-untyped-def]
    """The element at ``sel`` is whole in the window and in every ancestor that clips it, and
    is what the browser finds at its centre."""
    s = pg.evaluate(SEEN, sel)
    r = s["r"]
    assert r["width"] > 0 and r["height"] > 0, f"{name} has no box {where}: {r}"
    assert r["left"] >= -0.5 and r["top"] >= -0.5, f"{name} cut {where}: {r}"
    assert r["right"] <= w + 0.5 and r["bottom"] <= h + 0.5, f"{name} outside the window {where}"
    for c in s["clips"]:
        b = c["r"]
        if c["x"]:
            assert b["left"] - 0.5 <= r["left"] and r["right"] <= b["right"] + 0.5, (name, c, r)
        if c["y"]:
            assert b["top"] - 0.5 <= r["top"] and r["bottom"] <= b["bottom"] + 0.5, (name, c, r)
    assert s["hit"], f"{name} is not what the page shows at its centre {where}: {s['hitWhat']}"


@pytest.mark.parametrize("page_name", list(PAGES))
@pytest.mark.parametrize(("w", "h"), SIZES)
def test_loss_panel_controls_in_view(open_at, page_name: str, w: int, h: int) -> None:  # type: ignore[no-untyped-def]
    pg = open_at(w, h, PAGES[page_name])
    if page_name == "digits":
        digits_shown(pg)
    trained_to(
        pg,
        STEPS,
        "(() => { const p = document.querySelector('#loss .loss-prediction');"
        " return !p.hidden && p.textContent.includes('predicted')"
        " && p.textContent.includes('actual'); })()"
        f" && document.querySelector('#timeline-info').textContent.includes('step {STEPS}')"
        # the kept steps read after the training (the timeline is asked at most once a second)
        f" && document.querySelector('#timeline-info .tl-kept').textContent.includes('–{STEPS} (')",
    )
    pg.wait_for_timeout(400)  # the plots' redraw at their new sizes (ResizeObserver)
    where = f"on the {page_name} page at {w}x{h} after {STEPS} steps"
    ARTIFACTS.mkdir(exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / f"loss-panel-{page_name}-{w}x{h}.png"))

    m = pg.evaluate(PANEL)
    # One screen: the document itself does not scroll.
    assert m["scrollY"] == 0
    assert m["scrollH"] <= m["innerH"] + 1, f"the document scrolls {where}: {m['scrollH']}"
    # The panel inside the window, its rows one under the other, each inside the panel.
    p = m["panel"]
    assert p["bottom"] <= h + 0.5, f"the loss panel runs past the window {where}: {p}"
    rows = m["rows"]
    for a, b in itertools.pairwise(rows):
        assert a["r"]["bottom"] <= b["r"]["top"] + 0.5, f"{a['sel']} overlaps {b['sel']} {where}"
    for row in rows:
        r = row["r"]
        assert p["top"] - 0.5 <= r["top"] and r["bottom"] <= p["bottom"] + 0.5, (row, p, where)
    # Every line of the panel's text (the costs, the prediction, the timeline's caption, the
    # controls' words) whole and inside the panel and the window.
    assert any("kept steps" in ln["text"] for ln in m["lines"]), [ln["text"] for ln in m["lines"]]
    for ln in m["lines"]:
        r = ln["r"]
        assert p["top"] - 0.5 <= r["top"] and r["bottom"] <= min(p["bottom"], h) + 0.5, (
            f"text {ln['text']!r} cut {where}: {r}"
        )
        assert p["left"] - 0.5 <= r["left"] and r["right"] <= min(p["right"], w) + 0.5, (
            f"text {ln['text']!r} cut {where}: {r}"
        )
    # The plot: a usable height, and Plotly drew it inside its box.
    plot = rows[2]["r"]
    assert plot["height"] >= MIN_PLOT, f"the loss plot is {plot['height']:.0f} px tall {where}"
    svg = m["svg"]
    assert svg and svg["height"] >= MIN_PLOT, f"the loss plot was drawn {svg} {where}"
    assert svg["bottom"] <= plot["bottom"] + 1, f"the plot is drawn past its box {where}"

    for name, sel in CONTROLS.items():
        check_seen(pg, name, sel, w, h, where)

    # The Download menu, opened as a person would: a click where the button is seen.
    r = pg.evaluate(SEEN, "#downloads summary")["r"]
    pg.mouse.click(r["left"] + r["width"] / 2, r["top"] + r["height"] / 2)
    pg.wait_for_function("document.querySelector('#downloads').open")
    check_seen(pg, "the Download menu", "#downloads .menu", w, h, where)
    items = pg.evaluate("document.querySelectorAll('#downloads .menu button').length")
    assert items == 8
    for i in range(items):
        sel = f"#downloads .menu button:nth-of-type({i + 1})"
        check_seen(pg, f"menu item {i + 1}", sel, w, h, where)
    pg.screenshot(path=str(ARTIFACTS / f"loss-panel-{page_name}-{w}x{h}-menu.png"))
    pg.keyboard.press("Escape")
    pg.evaluate("document.querySelector('#downloads').open = false")
    assert pg.errors == []
