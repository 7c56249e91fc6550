"""Rewind from the page: the timeline under the loss curve (static/js/timeline.js).

The learner trains, drags the timeline back, and the whole page shows the network as it was
at that step: the step counters and a weight in the explain panel equal what the stream
sent when the run first passed that step, and what the API says now. The keys move one
kept step at a time; play trains on from there.
"""

from __future__ import annotations

import itertools
import json
import urllib.request
from typing import Any

import pytest

from tests.browser.conftest import ARTIFACTS, frame_value, num, open_app

pytestmark = pytest.mark.browser

W = "f.layers[1].w[0][1]"  # w³₁₂ of a 2-3-1 network (layers[1] is l = 3)


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


def shown_step(pg) -> int:  # type: ignore[no-untyped-def]
    """The step the timeline's label says is on screen ("step 1,234")."""
    text = pg.locator("#timeline .tl-step").inner_text()
    assert text.startswith("step "), text
    return int(text.removeprefix("step ").replace(",", ""))


def wait_step(pg, step: int) -> None:  # type: ignore[no-untyped-def]
    pg.wait_for_function(
        f"window.__bpv.store.frame.step === {step}"
        " && document.querySelector('#timeline .tl-step').textContent === "
        f"'step {step:,}'",
        timeout=15_000,
    )


def weight_shown(pg) -> float:  # type: ignore[no-untyped-def]
    """w³₁₂ as the explain panel's forward-contribution line writes it."""
    pg.wait_for_function(
        "(f => f.explain && f.explain.type === 'edge')(window.__bpv.store.frame)"
        " && document.querySelector('[data-eq=edge-forward] [data-term=w]')",
        timeout=10_000,
    )
    return num(pg.locator("[data-eq=edge-forward] [data-term=w]").text_content() or "")


def check_at(pg, run: str, step: int, seen: dict[int, float]) -> None:  # type: ignore[no-untyped-def]
    """The page shows `step`; the API says the run is there, with the weight the page shows
    (to its digits), the one the stream showed when the run first passed it (if it did)."""
    wait_step(pg, step)
    assert pg.locator("#stepno").inner_text() == f"{step:,}"
    api = get_json(f"{pg.base}/api/runs/{run}/frame?grid=false")
    assert api["step"] == step
    w = api["layers"][1]["w"][0][1]
    assert weight_shown(pg) == pytest.approx(w, rel=1e-3, abs=1e-12)
    if step in seen:
        assert w == seen[step]


def drag_to(pg, step: float) -> None:  # type: ignore[no-untyped-def]
    """Drag the slider's thumb to the position of `step` with the mouse."""
    box = pg.locator("#timeline-range").bounding_box()
    top = float(pg.eval_on_selector("#timeline-range", "e => Number(e.max)"))
    now = float(pg.eval_on_selector("#timeline-range", "e => Number(e.value)"))
    y = box["y"] + box["height"] / 2

    def x_of(s: float) -> float:  # the thumb's centre runs from 7 px to width − 7 px
        return box["x"] + 7 + (box["width"] - 14) * s / top

    pg.mouse.move(x_of(now), y)
    pg.mouse.down()
    for t in (0.25, 0.5, 0.75, 1.0):
        pg.mouse.move(x_of(now + (step - now) * t), y)
    pg.mouse.up()


def play_past(pg, step: int) -> tuple[str, int]:  # type: ignore[no-untyped-def]
    """Press play, wait until the run is past ``step``, pause: (run id, step paused at)."""
    pg.click("#play")
    pg.wait_for_function(f"window.__bpv.store.frame.step >= {step}", timeout=60_000)
    pg.click("#play")
    pg.wait_for_function("window.__bpv.store.frame.status === 'paused'", timeout=10_000)
    return frame_value(pg, "f.run_id"), frame_value(pg, "f.step")


def test_drag_back_shows_the_network_then_and_play_trains_on(page) -> None:  # type: ignore[no-untyped-def]
    open_app(page, "hidden=3&speed=10")
    page.evaluate("window.__bpv.recording = []")
    run, last = play_past(page, 600)
    # Select the edge w³₁₂: the explain panel shows its weight.
    pos = page.evaluate("window.__bpv.network.clientPos(3, 0, 1)")
    page.mouse.click(pos["x"], pos["y"])
    assert weight_shown(page) == pytest.approx(frame_value(page, W), rel=1e-3)
    # The timeline catches up with the paused run (it is read at most once a second).
    page.wait_for_function(
        f"(window.__bpv.store.timeline || {{}}).step === {last}"
        f" && document.querySelector('#timeline .tl-step').textContent === 'step {last:,}'",
        timeout=5_000,
    )
    kept = get_json(f"{page.base}/api/runs/{run}/timeline")["steps"]
    assert kept[-1] == last
    marks = page.eval_on_selector_all(
        "#timeline .tl-marks line", "ls => ls.map(l => +l.dataset.step)"
    )
    assert marks and set(marks) <= set(kept) and marks[-1] == last

    # What the stream showed when the run first passed each step.
    seen = {
        f["step"]: f["w"]
        for f in page.evaluate("window.__bpv.recording.map(f => ({step: f.step, w: " + W + "}))")
    }
    # A kept step (past the every-step start) the stream showed, with room to aim at.
    gaps = [(b - a, a) for a, b in itertools.pairwise(kept) if 150 <= a <= last - 100 and a in seen]
    _, target = max(gaps)
    gap = kept[kept.index(target) + 1] - target
    # Where the learner lets go (the slider's own value), whatever a pixel rounds to.
    page.eval_on_selector(
        "#timeline-range",
        "e => e.addEventListener('input', () => (window.__dragged = Number(e.value)))",
    )
    drag_to(page, target + gap / 2)
    page.wait_for_function(
        f"window.__dragged !== undefined && window.__bpv.store.frame.step !== {last}"
        " && !document.querySelector('#timeline .tl-step').textContent.includes('going')",
        timeout=15_000,
    )
    dragged = page.evaluate("window.__dragged")
    assert abs(dragged - (target + gap / 2)) <= gap / 2, (dragged, target, gap)
    target = max(k for k in kept if k <= dragged)  # the latest kept step before it
    check_at(page, run, target, seen)
    assert frame_value(page, "f.status") == "paused"
    assert shown_step(page) == target
    assert get_json(f"{page.base}/api/runs/{run}")["step"] == target
    # The loss curve is cut there: its history ends at or before the step shown.
    assert page.evaluate("Math.max(...window.__bpv.loss.h.step)") <= target
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "timeline-rewound-1280x720.png"))

    # Keyboard: ← goes to the kept step before, Home to the first, End to the last.
    page.focus("#timeline-range")
    page.keyboard.press("ArrowLeft")
    check_at(page, run, kept[kept.index(target) - 1], seen)
    page.keyboard.press("Home")
    check_at(page, run, kept[0], seen)
    page.keyboard.press("End")  # the snapshots ahead were kept aside: forward again
    check_at(page, run, last, seen)

    # Back to the start, then play: training goes on from there and the label follows.
    page.keyboard.press("Home")
    wait_step(page, kept[0])
    page.click("#play")
    page.wait_for_function(
        "window.__bpv.store.frame.status === 'running' && window.__bpv.store.frame.step >= 50",
        timeout=20_000,
    )
    page.click("#play")
    page.wait_for_function("window.__bpv.store.frame.status === 'paused'", timeout=10_000)
    now = frame_value(page, "f.step")
    assert 50 <= now < last + 1000
    page.wait_for_function(
        f"document.querySelector('#timeline .tl-step').textContent === 'step {now:,}'"
        f" && (window.__bpv.store.timeline || {{}}).step === {now}",
        timeout=5_000,
    )
    # Training from step 0 dropped the snapshots kept aside: none is past the step now.
    assert max(get_json(f"{page.base}/api/runs/{run}/timeline")["steps"]) <= now


def test_a_diverged_run_goes_back_to_before_it_diverged(page) -> None:  # type: ignore[no-untyped-def]
    open_app(page, "dataset=plane&learning_rate=10&speed=50&hidden=8,8")
    page.click("#play")
    page.wait_for_function("window.__bpv.store.frame.status === 'diverged'", timeout=30_000)
    page.locator("#banner [data-banner=diverged]").wait_for()
    assert page.locator("#play").is_disabled()
    run = frame_value(page, "f.run_id")
    page.wait_for_function("(window.__bpv.store.timeline || {}).steps?.length > 0", timeout=5_000)
    kept = get_json(f"{page.base}/api/runs/{run}/timeline")["steps"]
    page.focus("#timeline-range")
    page.keyboard.press("Home")
    wait_step(page, kept[0])
    # Back before the divergence: the run is healthy again, and play is offered.
    assert frame_value(page, "f.status") == "paused"
    assert get_json(f"{page.base}/api/runs/{run}")["status"] != "diverged"
    page.wait_for_function("!document.querySelector('#banner [data-banner=diverged]')")
    assert page.locator("#play").is_enabled()
    assert frame_value(page, "Number.isFinite(f.train.cost)")
