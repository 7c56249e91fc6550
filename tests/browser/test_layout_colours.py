"""The network's colour scales, read from what is drawn: colour-bar ticks that never collide
and are readable numbers, ranges that say what they cover and do not jump after a step,
hidden activations not washed out by the inputs' range, and a log option (in the link)
that tells small values from zero."""

from __future__ import annotations

import itertools
import re

import pytest

pytestmark = pytest.mark.browser

GREY = (232, 232, 232)  # the ramp's zero colour (#e8e8e8)
SUP = str.maketrans("⁻⁰¹²³⁴⁵⁶⁷⁸⁹", "-0123456789")

BARS = """() => [...document.querySelectorAll('#net .colorbar')].filter(b => !b.hidden).map(b => ({
  name: b.dataset.colorbar, range: Number(b.dataset.range), scale: b.dataset.scale,
  clipped: b.classList.contains('clipped'), title: b.querySelector('.cb-title').textContent,
  ticks: [...b.querySelectorAll('.cb-ticks span')].filter(s => !s.hidden && s.textContent)
    .map(s => ({text: s.textContent, box: s.getBoundingClientRect().toJSON()})),
  ramp: b.querySelector('.cb-ramp').getBoundingClientRect().toJSON(),
}))"""


def rgb(css: str) -> tuple[int, int, int]:
    h = css.lstrip("#")
    return (int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16))


def from_grey(css: str) -> float:
    return sum((a - b) ** 2 for a, b in zip(rgb(css), GREY, strict=True)) ** 0.5


def tick_value(text: str, log: bool) -> float:
    t = text.lstrip("≤≥").replace("−", "-")
    if log:
        if t == "0":
            return 0.0
        m = re.fullmatch(r"(-?)10([⁻⁰¹²³⁴⁵⁶⁷⁸⁹]+)", text.lstrip("≤≥").replace("−", "-"))
        assert m, f"log tick {text!r} is not a power of ten"
        return float(f"{m.group(1)}1e{m.group(2).translate(SUP)}")
    assert re.fullmatch(r"-?\d+(\.\d+)?", t), f"tick {text!r} is not a plain number"
    return float(t)


def check_bars(pg) -> list[dict]:  # type: ignore[no-untyped-def]
    bars = pg.evaluate(BARS)
    assert bars
    for bar in bars:
        ticks = bar["ticks"]
        assert len(ticks) >= 2, bar
        for a, b in itertools.pairwise(ticks):
            assert a["box"]["right"] <= b["box"]["left"], f"ticks collide: {a['text']} {b['text']}"
        for t in ticks:  # inside the bar's ramp, left to right
            assert bar["ramp"]["left"] - 0.5 <= t["box"]["left"]
            assert t["box"]["right"] <= bar["ramp"]["right"] + 0.5
        log = bar["scale"] == "log"
        values = [tick_value(t["text"], log) for t in ticks]
        assert values == sorted(values) and values[0] == -values[-1]
        unit = re.search(r"×10([⁻⁰-⁹]+)", bar["title"])
        scale = 10 ** int(unit.group(1).translate(SUP)) if unit else 1.0
        assert values[-1] * scale == pytest.approx(bar["range"], rel=1e-9), bar
    return bars


# make test: a wide desktop and a phone; make test-slow adds 1024 x 768.
@pytest.mark.parametrize(
    ("w", "h"), [pytest.param(1024, 768, marks=pytest.mark.slow), (1920, 1080), (360, 740)]
)
def test_ticks_never_collide(open_at, w: int, h: int) -> None:  # type: ignore[no-untyped-def]
    pg = open_at(w, h, "hidden=8,8,8,8,8,8&fill=a")
    check_bars(pg)
    pg.select_option("#scale", "log")
    pg.wait_for_function(
        "[...document.querySelectorAll('#net .colorbar:not([hidden])')]"
        ".every(b => b.dataset.scale === 'log')"
    )
    bars = check_bars(pg)
    assert {b["scale"] for b in bars} == {"log"}
    assert pg.errors == []


def max_abs(pg, expr: str) -> float:  # type: ignore[no-untyped-def]
    """Largest |value| of the latest frame's arrays named by expr (f is the frame)."""
    js = f"Math.max(...{expr}.flat(2).map(Math.abs))"
    return float(pg.evaluate(f"(() => {{ const f = window.__bpv.store.frame; return {js}; }})()"))


EDGES = "f.layers.map(L => L.edges.probe.backward)"
HIDDEN_A = "f.layers.map(L => L.a)"
INPUTS = "[f.input.a]"


def test_activations_have_their_own_range(open_at) -> None:  # type: ignore[no-untyped-def]
    """Hidden a (|a| < 1) must not be coloured on the inputs' ±5 scale."""
    pg = open_at(1280, 720, "hidden=4,2&fill=a")
    bars = {b["name"]: b for b in check_bars(pg)}
    a_max = max_abs(pg, HIDDEN_A)
    x_max = max_abs(pg, INPUTS)
    assert x_max > 2 * a_max  # the situation the issue saw
    assert a_max <= bars["neurons"]["range"] <= 1.5 * a_max
    assert bars["inputs"]["range"] >= x_max
    # What a learner sees: the most active hidden neuron is clearly coloured, not grey.
    key = pg.evaluate(
        "(() => { const f = window.__bpv.store.frame; let best = null, m = -1;"
        " f.layers.forEach((L, i) => L.a.forEach((v, j) => { if (Math.abs(v) > m) {"
        " m = Math.abs(v); best = `${i + 2},${j}`; } })); return best; })()"
    )
    fill = pg.get_attribute(f'#net circle[data-node="{key}"]', "fill")
    assert fill and from_grey(fill) > 120, fill


def test_edge_range_is_stable_and_honest(open_at) -> None:  # type: ignore[no-untyped-def]
    pg = open_at(1280, 720, "hidden=4,2&color=backward&learning_rate=0.3")
    history = []
    for step in range(16):
        bar = next(b for b in check_bars(pg) if b["name"] == "edges")
        m = max_abs(pg, EDGES)
        history.append((bar["range"], m))
        # Honest: the range covers the values, or the bar says some lie beyond it.
        assert m <= bar["range"] * (1 + 1e-9) or (
            bar["clipped"] and "≥" in bar["ticks"][-1]["text"]
        )
        if step == 0:
            assert bar["range"] <= 1.5 * m  # a fresh range fits the values
        pg.locator("#step").click()
        # The page draws a frame's step number and its colour bars in one task (applyFrame),
        # so once the number shows, the bars are the new frame's.
        pg.wait_for_function(
            f"document.querySelector('#stepno').textContent === '{step + 1}'", timeout=20_000
        )
    # Stable: the range moves rarely, and a grow within twice the range only after the
    # values stayed beyond it for 3 steps (one step never fades every edge at once).
    changes = sum(1 for a, b in itertools.pairwise(history) if a[0] != b[0])
    assert changes <= 3, history
    for i in range(1, len(history)):
        (r0, _), (r1, m1) = history[i - 1], history[i]
        if r1 > r0 and m1 <= 2 * r0:
            assert i >= 3 and all(m > r0 for _, m in history[i - 3 : i]), history


def test_log_scale_tells_small_from_zero_and_is_in_the_link(open_at) -> None:  # type: ignore[no-untyped-def]
    pg = open_at(1280, 720, "hidden=4,2&color=gradient")
    smallest = pg.evaluate(
        "(() => { const f = window.__bpv.store.frame; let best = null, m = Infinity;"
        " f.layers.forEach((L, i) => L.edges.probe.gradient.forEach((row, j) =>"
        " row.forEach((v, k) => {"
        " if (v !== 0 && Math.abs(v) < m) { m = Math.abs(v); best = `${i + 2},${j},${k}`; } })));"
        " return best; })()"
    )
    linear = pg.get_attribute(f'#net path[data-edge="{smallest}"]', "stroke")
    pg.select_option("#scale", "log")
    pg.wait_for_function("location.hash.includes('scale=log')")
    log = pg.get_attribute(f'#net path[data-edge="{smallest}"]', "stroke")
    assert linear and log and from_grey(log) > from_grey(linear)
    bars = check_bars(pg)
    assert all(b["scale"] == "log" and "log" in b["title"] for b in bars)
    # The link keeps it.
    pg.reload()
    pg.wait_for_function(
        "window.__bpv && window.__bpv.stats.applied >= 1 && window.__bpv.plotsReady", timeout=90_000
    )
    assert pg.input_value("#scale") == "log"
    assert all(b["scale"] == "log" for b in check_bars(pg))
    assert pg.errors == []


def test_a_paused_run_shows_its_edges_on_a_range_they_fill(open_at) -> None:  # type: ignore[no-untyped-def]
    """Play, pause: the edge bar's range is the nice number just above the largest |w·δ| of
    the paused frame, so the strongest edge is drawn strong (a learner review saw ±0.5 over
    values of 0.116 after pausing: every edge at a quarter of its strength, "almost no error
    flows back", until six more steps). Then a step at rest keeps the range honest."""
    pg = open_at(1280, 720, "color=backward")
    pg.locator("#play").click()
    pg.wait_for_function("window.__bpv.store.frame.status === 'running'", timeout=10_000)
    pg.wait_for_timeout(3000)
    pg.locator("#play").click()  # pause
    pg.wait_for_function("window.__bpv.store.frame.status !== 'running'", timeout=10_000)
    pg.wait_for_timeout(300)  # the paused frame drawn
    bar = next(b for b in check_bars(pg) if b["name"] == "edges")
    m = max_abs(pg, EDGES)
    # Ladder 1, 1.5, 2, 3, 5, 7 × 10^k: the next one up is less than 1.67 times the value.
    assert m <= bar["range"] < 1.67 * m, (bar["range"], m)
