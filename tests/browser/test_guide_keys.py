"""Guides from the keyboard and on a phone (static/js/app.js): a third review found that
Escape closed none of the guides (only the × did), and that on a 360-wide phone a guide
opened below the fold, past the network and the layers, so a learner saw the network dim and
no explanation."""

from __future__ import annotations

import pytest

from tests.browser.conftest import ARTIFACTS, digits_shown

DIGITS = "dataset=digits&hidden=30"

pytestmark = pytest.mark.browser

GUIDES = ["#walkthrough-btn", "#stepthrough-btn", "#backward-btn", "#transpose-btn"]
OPEN = "window.__bpv.store.mode !== 'normal' && !document.querySelector('#guide').hidden"
CLOSED = "window.__bpv.store.mode === 'normal' && document.querySelector('#guide').hidden"


def test_escape_closes_each_guide_and_an_open_menu_first(open_at) -> None:  # type: ignore[no-untyped-def]
    pg = open_at(1366, 768)
    for button in GUIDES:
        pg.click(button)
        pg.wait_for_function(OPEN, timeout=10_000)
        pg.keyboard.press("Escape")
        pg.wait_for_function(CLOSED, timeout=10_000)
    # An Escape that closes the Download menu closes only the menu; the next one the guide.
    pg.click("#walkthrough-btn")
    pg.wait_for_function(OPEN, timeout=10_000)
    pg.click("#downloads summary")
    pg.wait_for_function("document.querySelector('#downloads').open", timeout=5_000)
    pg.keyboard.press("Escape")
    pg.wait_for_function("!document.querySelector('#downloads').open", timeout=5_000)
    assert pg.evaluate(OPEN)
    pg.keyboard.press("Escape")
    pg.wait_for_function(CLOSED, timeout=10_000)
    assert pg.errors == []  # type: ignore[attr-defined]


@pytest.mark.parametrize("button", ["#walkthrough-btn", "#stepthrough-btn"])
def test_on_a_phone_a_guide_opens_in_view(open_at, button: str) -> None:  # type: ignore[no-untyped-def]
    pg = open_at(360, 740)
    pg.locator(button).scroll_into_view_if_needed()
    pg.click(button)
    pg.wait_for_function(OPEN, timeout=10_000)
    pg.wait_for_timeout(200)
    box = pg.evaluate(
        "(() => { const r = document.querySelector('#guide').getBoundingClientRect();"
        " return {top: r.top, bottom: r.bottom, h: innerHeight}; })()"
    )
    ARTIFACTS.mkdir(exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / f"guide-phone-{button[1:]}.png"))
    # the guide's head and first lines are on screen (to the pixel: scrolling to an element
    # whose top is at a fractional y may leave it a fraction of a pixel above the viewport)
    assert -1 < box["top"] < box["h"] - 100, box
    assert pg.locator("#guide .guide-head").first.is_visible()


def test_the_networks_neurons_are_reached_and_chosen_from_the_keyboard(open_at) -> None:  # type: ignore[no-untyped-def]
    """Tab reaches the network (a review tabbed through 57 stops and found no neuron) as one
    stop, its first input; the arrow keys move between neurons (down the layer, across to
    the neuron at the same height), focus shows the readout and a visible ring, and Enter
    selects it: the explain panel then writes its BP2, as a click would."""
    pg = open_at(1366, 768)
    focused = ""
    for _ in range(120):
        pg.keyboard.press("Tab")
        focused = pg.evaluate("document.activeElement.getAttribute('data-node') || ''")
        if focused:
            break
    assert focused == "1,0", "Tab never reached the network's first input"
    active = "document.activeElement.getAttribute('data-node') || ''"
    seen = [focused]
    # 2-4-2-1: down to x2, right to the 4th of layer 2 (same height), right to the 2nd of 3
    for key, want in [("ArrowDown", "1,1"), ("ArrowRight", "2,3"), ("ArrowRight", "3,1")]:
        pg.keyboard.press(key)
        seen.append(pg.evaluate(active))
        assert seen[-1] == want, (key, seen)
    focused = seen[-1]
    assert pg.evaluate("document.activeElement.getAttribute('aria-label')") == "neuron 2 of layer 3"
    ring = pg.evaluate("getComputedStyle(document.activeElement).stroke")
    assert ring == "rgb(11, 87, 208)", ring
    tip = pg.locator("#net .net-tip")
    assert tip.is_visible() and "δ³₂" in tip.inner_text(), tip.inner_text()
    pg.keyboard.press("Enter")
    pg.wait_for_function(
        "(s => s && s.type === 'neuron' && s.l === 3 && s.j === 1)(window.__bpv.store.selection)",
        timeout=5_000,
    )
    heading = "BP2 for neuron k = 2 in layer l = 3"
    pg.wait_for_function(
        f"document.querySelector('.explain-main').textContent.includes('{heading}')",
        timeout=10_000,
    )
    assert pg.errors == []  # type: ignore[attr-defined]


def test_the_digits_network_is_one_tab_stop(open_at) -> None:  # type: ignore[no-untyped-def]
    """On the 64-30-10 digits a review's Tab passed all 104 neurons before the panels below:
    the network is one stop now (Tab goes in at a neuron and out at the next control), and
    the arrows walk it: End to the last of the 64 inputs, across to the 30 and the 10."""
    pg = open_at(1366, 768, DIGITS)
    digits_shown(pg)
    active = "document.activeElement.getAttribute('data-node') || ''"
    stops: list[str] = []
    for _ in range(200):
        pg.keyboard.press("Tab")
        node = pg.evaluate(active)
        if stops and not node:
            break
        if node:
            stops.append(node)
    assert stops == ["1,0"], stops[:12]
    pg.keyboard.press("Shift+Tab")
    assert pg.evaluate(active) == "1,0"
    for key, want in [
        ("End", "1,63"),
        ("ArrowRight", "2,29"),
        ("ArrowRight", "3,9"),
        ("ArrowRight", "3,9"),
        ("Home", "3,0"),
        ("ArrowUp", "3,0"),
    ]:
        pg.keyboard.press(key)
        assert pg.evaluate(active) == want, key
    assert pg.evaluate("scrollY") == 0  # the arrows moved the focus, not the page
    assert pg.errors == []  # type: ignore[attr-defined]


# Every visible control's tap box (its label's, for a box inside one): width and height.
SMALL_TARGETS = """() => [...document.querySelectorAll(
    'button, select, summary, input[type=checkbox], input[type=radio], input[type=range]')]
  .filter((e) => e.offsetParent !== null)
  .map((e) => { const r = (e.closest('label') || e).getBoundingClientRect();
    return [e.id || e.getAttribute('aria-label') || e.textContent.trim().slice(0, 20),
            Math.round(r.width), Math.round(r.height)]; })
  .filter(([, w, h]) => w < 24 || h < 24)"""


@pytest.mark.parametrize(("w", "h"), [(390, 844), (360, 740)])
def test_on_a_touch_screen_every_control_is_at_least_24_px(browser, server, w: int, h: int) -> None:  # type: ignore[no-untyped-def]
    """WCAG 2.2's minimum target size on a phone: a review measured the layers' −/+ at
    18 × 14 px, the checkboxes at 13 px and the tabs at 17 px high."""
    ctx = browser.new_context(
        viewport={"width": w, "height": h}, is_mobile=True, has_touch=True, bypass_csp=True
    )
    pg = ctx.new_page()
    try:
        pg.goto(f"{server}/#hidden=4,2", timeout=90_000)
        pg.wait_for_function("window.__bpv && window.__bpv.stats.applied >= 1", timeout=90_000)
        assert pg.evaluate("matchMedia('(pointer: coarse)').matches")
        small = pg.evaluate(SMALL_TARGETS)
        assert small == [], small
        pg.evaluate(
            "(r => r && fetch(`/api/runs/${r.id}`, {method: 'DELETE',"
            " headers: {'Content-Type': 'application/json'}}))(window.__bpv?.store.run)"
        )
    finally:
        ctx.close()


@pytest.mark.parametrize(("w", "h"), [(1366, 768), (390, 844)])
def test_the_matrix_note_says_where_the_exact_arithmetic_is(open_at, w: int, h: int) -> None:  # type: ignore[no-untyped-def]
    """The matrix view's note sent a phone's learner "on the left" for the BP2 equation that
    sits above it there: it now names the equation, and the equation is on screen beside
    the view (desktop) or above it (phone)."""
    pg = open_at(w, h)
    pg.locator("#net circle[data-node='3,0']").click()
    pg.wait_for_selector("[data-bp2-matrix] .mnote", timeout=10_000)
    note = pg.locator("[data-bp2-matrix] .mnote").last.inner_text()
    assert "on the left" not in note and "BP2 for neuron k" in note, note
    eq = pg.locator("[data-bp2-delta]").first.bounding_box()
    view = pg.locator("[data-bp2-matrix]").first.bounding_box()
    assert eq is not None and view is not None
    beside = eq["x"] + eq["width"] <= view["x"] + 1
    above = eq["y"] + eq["height"] <= view["y"] + 1
    assert beside if w > 1000 else above, (eq, view)


def tab_until(pg, test: str, limit: int = 80) -> int:  # type: ignore[no-untyped-def]
    """Press Tab until the JS condition ``test`` holds of document.activeElement (``e``);
    returns how many presses it took."""
    for n in range(1, limit + 1):
        pg.keyboard.press("Tab")
        if pg.evaluate(f"(e => !!({test}))(document.activeElement)"):
            return n
    raise AssertionError(f"Tab never reached an element where {test}")


@pytest.mark.parametrize("key", ["Enter", " "])
def test_a_bp2_term_opens_its_edge_from_the_keyboard(open_at, key: str) -> None:  # type: ignore[no-untyped-def]
    """From the keyboard alone: Tab to the network, the arrows to neuron 2 of layer 2, Enter
    shows its BP2, and Tab then
    reaches the terms w³_j2·δ³_j, each a button naming its edge; Enter or Space on the first
    opens the edge w³₁₂ (its numbers, BP4 and step), as a click on it does."""
    pg = open_at(1366, 768)
    tab_until(pg, "e.getAttribute('data-node') === '1,0'")
    pg.keyboard.press("ArrowRight")  # 2-4-2-1: the first of layer 2, then the second
    pg.keyboard.press("ArrowDown")
    assert pg.evaluate("document.activeElement.getAttribute('data-node')") == "2,1"
    pg.keyboard.press("Enter")
    heading = "BP2 for neuron k = 2 in layer l = 2"
    pg.wait_for_function(
        f"document.querySelector('.explain-main').textContent.includes('{heading}')",
        timeout=10_000,
    )
    presses = tab_until(pg, "e.closest('#explain [data-bp2-row]')")
    term = pg.evaluate(
        """(e => ({label: e.getAttribute('aria-label'), role: e.getAttribute('role'),
                   row: e.closest('[data-bp2-row]').dataset.bp2Row, text: e.textContent,
                   ring: getComputedStyle(e).outlineStyle + ' ' + getComputedStyle(e).outlineWidth,
                   seen: e.getBoundingClientRect().height > 0}))(document.activeElement)"""
    )
    assert presses < 40, presses
    assert term["role"] == "button" and term["seen"], term
    assert term["row"] == "0" and term["label"].startswith("edge w³₁₂"), term
    assert term["ring"] == "solid 2px", term  # a visible focus ring
    pg.keyboard.press(key)
    pg.wait_for_function(
        "(s => s && s.type === 'edge' && s.l === 3 && s.j === 0 && s.k === 1)"
        "(window.__bpv.store.selection)",
        timeout=5_000,
    )
    pg.wait_for_selector("#explain [data-edge-dw]", timeout=10_000)
    title = pg.locator("#explain .explain-title").inner_text()
    assert "w³₁₂" in title, title
    # The reading goes on from the edge's explanation: focus is on its title.
    assert pg.evaluate("document.activeElement.classList.contains('explain-title')")
    assert pg.errors == []  # type: ignore[attr-defined]
