"""The loss curve after a rewind (static/js/loss_plot.js, issue 13).

A learner review played ~850 steps, dragged the timeline back to step 12, and the loss plot
looked blank: its x axis still spanned the run's 0–850 (the timeline's steps, so that each
step sits above its place on the timeline) while the curve, cut at step 12, was a sliver at
its left edge. The page now draws the curve up to the step shown and the points the rewind
undid after it, faded, over a band marked "undone", so the axis has nothing blank in it.

Read from what Plotly drew: the SVG paths of the traces, placed on the axes by the tick
labels the learner reads, and checked against GET /api/runs/{id}/history.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.browser.conftest import ARTIFACTS, frame_value, open_app
from tests.browser.test_timeline import drag_to, get_json, play_past

pytestmark = pytest.mark.browser

# Every drawn trace: its name and its vertices in screen px; the tick labels of the step axis
# and of the cost axis (text, centre in px); the plot area's box; the band's label.
DRAWN = """() => {
  const d = document.querySelector('.loss-plot');
  const area = d.querySelector('.draglayer .nsewdrag').getBoundingClientRect();
  // Each trace's group carries its calcdata (cd[0].trace): its name, in whichever subplot.
  const traces = [...d.querySelectorAll('.scatterlayer .trace')].map((g) => {
    const p = g.querySelector('path.js-line');
    const path = p ? p.getAttribute('d') || '' : '';
    const m = p ? p.getScreenCTM() : null;
    const pts = [...path.matchAll(/[ML]([-\\d.e]+),([-\\d.e]+)/g)].map(([, x, y]) => {
      const q = new DOMPoint(+x, +y).matrixTransform(m);
      return [q.x, q.y];
    });
    // How opaque the line is drawn: its stroke's opacity, and its groups' on the way up.
    let opacity = p ? +(getComputedStyle(p).strokeOpacity || 1) : 1;
    for (let e = p; e && e !== d; e = e.parentElement) opacity *= +getComputedStyle(e).opacity;
    return { name: g.__data__[0].trace.name, pts, opacity };
  });
  const ticks = (sel) => [...d.querySelectorAll(sel)].map((t) => {
    const r = t.getBoundingClientRect();
    return [t.textContent, (r.left + r.right) / 2, (r.top + r.bottom) / 2];
  });
  return {
    traces,
    area: { left: area.left, right: area.right, top: area.top, bottom: area.bottom },
    xticks: ticks('.xaxislayer-above .xtick text'),
    yticks: ticks('.yaxislayer-above .ytick text').filter((t) => t[1] < area.left),
    text: [...d.querySelectorAll('.annotation-text')].map((t) => t.textContent),
  };
}"""


def fit(ticks: list[list[Any]], coord: int) -> tuple[float, float]:
    """value = a + b · px from the axis's tick labels (at least two, read as numbers)."""
    pairs = [(float(t[0].replace("−", "-").replace(",", "")), float(t[coord])) for t in ticks]
    assert len(pairs) >= 2, ticks
    (v0, p0), (v1, p1) = pairs[0], pairs[-1]
    b = (v1 - v0) / (p1 - p0)
    return v0 - b * p0, b


def test_after_a_rewind_the_loss_plot_draws_the_curve_to_the_step_shown(page) -> None:  # type: ignore[no-untyped-def]
    open_app(page, "hidden=4,2&speed=10")
    run, last = play_past(page, 300)
    page.wait_for_function(
        f"(window.__bpv.store.timeline || {{}}).step === {last}"
        f" && document.querySelector('#timeline .tl-step').textContent === 'step {last:,}'",
        timeout=15_000,
    )
    before = get_json(f"{page.base}/api/runs/{run}/history")

    # Drag the timeline back to about step 40, as a person would.
    drag_to(page, 40)
    page.wait_for_function(
        f"window.__bpv.store.frame.step < {last}"
        " && !document.querySelector('#timeline .tl-step').textContent.includes('going')"
        " && window.__bpv.loss.span !== null",
        timeout=15_000,
    )
    step = frame_value(page, "f.step")
    assert 0 < step < last / 2
    hist = get_json(f"{page.base}/api/runs/{run}/history")
    assert hist["step"] and max(hist["step"]) <= step
    # The timeline is read again after the rewind (at most once a second) and the plot redrawn.
    page.wait_for_function(
        f"(window.__bpv.store.timeline || {{}}).step === {step} && !window.__bpv.loss.dirty",
        timeout=15_000,
    )

    def settled(d: dict[str, Any]) -> bool:
        """The drawing is the rewound one: its train curve ends at the history's last step
        and the undone curve is there (a redraw may be under way when the timeline came,
        and on a busy machine it takes a while)."""
        names = {t["name"]: t for t in d["traces"]}
        if "train cost (undone)" not in names or len(names["train cost"]["pts"]) < 2:
            return False
        x0, dx = fit(d["xticks"], 1)
        return abs(x0 + dx * names["train cost"]["pts"][-1][0] - hist["step"][-1]) <= 1.5 * abs(dx)

    deadline = time.monotonic() + 15
    d = page.evaluate(DRAWN)
    while not settled(d) and time.monotonic() < deadline:
        page.wait_for_timeout(200)
        d = page.evaluate(DRAWN)
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator(".loss-plot").screenshot(path=str(ARTIFACTS / "loss-rewound.png"))

    x0, dx = fit(d["xticks"], 1)
    y0, dy = fit(d["yticks"], 2)
    px_step = 1 / abs(dx)  # px per step
    px_cost = 1 / abs(dy)
    area = d["area"]
    by_name = {t["name"]: t for t in d["traces"]}

    # The curve up to the step shown is drawn: from step 0 to the history's last point.
    train = by_name["train cost"]["pts"]
    assert len(train) >= 2, by_name["train cost"]
    first_step = x0 + dx * train[0][0]
    last_step = x0 + dx * train[-1][0]
    last_cost = y0 + dy * train[-1][1]
    assert abs(first_step - hist["step"][0]) * px_step <= 1.5
    assert abs(last_step - hist["step"][-1]) * px_step <= 1.5, (last_step, hist["step"][-1])
    assert abs(last_cost - hist["train_cost"][-1]) * px_cost <= 1.5, (last_cost, hist["train_cost"])

    # The x axis covers every drawn point, and nothing of it is left blank: what is drawn
    # reaches its right end (the old page drew 0–40 on an axis to ~300 and left the rest empty).
    xs = [x for t in d["traces"] for x, _ in t["pts"]]
    ys = [y for t in d["traces"] for _, y in t["pts"]]
    assert area["left"] - 1 <= min(xs) and max(xs) <= area["right"] + 1, (xs, area)
    assert area["top"] - 1 <= min(ys) and max(ys) <= area["bottom"] + 1, (ys, area)
    assert area["right"] - max(xs) <= 0.03 * (area["right"] - area["left"]), (max(xs), area)

    # What is drawn after the step shown is the run the rewind undid, marked as such: faded,
    # ending at the last point the run had before the rewind, under an "undone" label.
    undone = by_name.get("train cost (undone)")
    assert undone is not None, list(by_name)
    assert undone["opacity"] < 0.5
    end_step = x0 + dx * undone["pts"][-1][0]
    end_cost = y0 + dy * undone["pts"][-1][1]
    assert abs(end_step - before["step"][-1]) * px_step <= 1.5, (end_step, before["step"][-1])
    assert abs(end_cost - before["train_cost"][-1]) * px_cost <= 1.5
    assert all(x0 + dx * x >= step - 1 / px_step for x, _ in undone["pts"])
    assert any(f"after step {step}" in t and "undone" in t for t in d["text"]), d["text"]


def _drawn_once_settled(page) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """The loss plot as drawn once the timeline for the frame shown has arrived and been
    drawn (the band would come with it)."""
    page.wait_for_function(
        "(() => { const s = window.__bpv.store; return s.timeline && s.timeline.run_id === s.run.id"
        " && s.timeline.step === s.frame.step && !window.__bpv.loss.dirty; })()",
        timeout=15_000,
    )
    page.wait_for_timeout(300)  # a redraw the timeline set off
    return page.evaluate(DRAWN)  # type: ignore[no-any-return]


def test_no_rewind_no_undone_band_and_whole_steps(page) -> None:  # type: ignore[no-untyped-def]
    """A reviewer found "undone: after step 0" over a 0-1 axis with a "0.5" step tick on a
    fresh page, after Reset and after adding a layer: nothing was undone, and steps are
    whole. Read from the drawing: no band label, no faded trace, every step tick a whole
    number; then after a rewind the band is there (the test above checks it in full)."""
    open_app(page, "hidden=4,2")
    for moment in ("fresh", "layer added"):
        d = _drawn_once_settled(page)
        assert not any("undone" in t for t in d["text"]), (moment, d["text"])
        assert not any("undone" in t["name"] for t in d["traces"]), moment
        steps = [t[0].replace(",", "") for t in d["xticks"]]
        assert steps and all(s.lstrip("−").isdigit() for s in steps), (moment, steps)
        if moment == "fresh":
            ARTIFACTS.mkdir(exist_ok=True)
            page.locator(".loss-plot").screenshot(path=str(ARTIFACTS / "loss-step0.png"))
            page.click("#layer-add")
            page.wait_for_function("window.__bpv.store.frame.sizes.length === 5", timeout=15_000)
