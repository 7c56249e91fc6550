"""Issue 13 as a learner sees it over time: the gradient strip's history read in increments
(GET /history?since=…) still shows every point of the run, also after a rewind and training
on; the prediction line says which one update it predicted when a frame covers many steps.

Numbers are read back from the page (the heat strip's readout under the pointer, the
prediction line's text) and checked against a full GET /history read at the same moment.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest

from tests.browser.conftest import ARTIFACTS, num, point_and_read

pytestmark = pytest.mark.browser

DEEP = "dataset=circle&hidden=8,8,8,8,8,8&hidden_activation=sigmoid&output_activation=sigmoid"


def full_history(base: str, run_id: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{base}/api/runs/{run_id}/history") as r:
        return json.loads(r.read())  # type: ignore[no-any-return]


def step_and_catch_up(pg: Any, steps: int, strip: bool = True) -> int:
    """Train ``steps`` (paused: one frame), and wait until the page's history has it (and
    the strip shows it, with ``strip``)."""
    before = pg.evaluate("window.__bpv.store.frame.step")
    pg.evaluate(f"window.__bpv.send({{type: 'step', steps: {steps}}})")
    target = before + steps
    pg.wait_for_function(f"window.__bpv.store.frame.step === {target}", timeout=60_000)
    shown = f" && document.querySelector('#layers .gs').dataset.step === '{target}'"
    pg.wait_for_function(
        f"(window.__bpv.store.layerHistory?.step ?? []).at(-1) === {target}"
        + (shown if strip else ""),
        timeout=30_000,
    )
    return int(target)


def strip_reads(pg: Any) -> list[dict[str, Any]]:
    """Every column × row of the heat strip as its readout says it: {step, l, text}."""
    heat = "#layers canvas.gs-heat"
    cols = pg.evaluate(f"document.querySelector('{heat}').width")
    rows = pg.evaluate(f"document.querySelector('{heat}').height")
    points = [((c + 0.5) / cols, (r + 0.5) / rows) for r in range(rows) for c in range(cols)]
    read = ["#layers .gs-readout b[data-l]", "#layers .gs-readout b[data-step]"]
    out = []
    for o in point_and_read(pg, heat, points, read):
        value, step = o["each"]
        assert value["text"] is not None and step["text"] is not None, o
        l, at = int(value["data"]["l"]), int(step["data"]["step"])  # noqa: E741
        out.append({"step": at, "l": l, "text": value["text"]})
    pg.mouse.move(0, 0)
    return out


def agrees(text: str, value: float | None) -> bool:
    """The strip's 3 significant digits (or "—" for no value) against the server's value."""
    if value is None:
        return text == "—"
    if text == "0":
        return value == 0
    return abs(num(text) - value) <= 5e-3 * abs(value)


def check_strip_is_the_whole_history(pg: Any, server: str) -> dict[str, Any]:
    run_id = pg.evaluate("window.__bpv.store.run.id")
    hist = full_history(server, run_id)
    n = len(hist["step"])
    assert n <= 240, "one column per point"  # columnIndex: all points when they fit
    reads = strip_reads(pg)
    key = "probe_grad_w"  # the strip's norm for the default "probe" values
    series = {s["l"]: s[key] for s in hist["layers"]}
    assert {r["l"] for r in reads} == set(series)
    for r in reads:
        c = hist["step"].index(r["step"])  # a step the server has
        assert agrees(r["text"], series[r["l"]][c]), (r, series[r["l"]][c])
    assert sorted({r["step"] for r in reads}) == hist["step"], "every point, none twice"
    ends = pg.inner_text("#layers .gs-steps")
    assert f"step {hist['step'][0]:,}" in ends and f"step {hist['step'][-1]:,}" in ends
    return hist


def test_the_strip_shows_the_whole_series_read_in_increments(open_at, server: str) -> None:  # type: ignore[no-untyped-def]
    pg = open_at(1366, 900, DEEP)
    urls: list[str] = []
    pg.on(
        "request",
        lambda r: urls.append(r.url) if "/history" in r.url and "/api/runs/" in r.url else None,
    )
    for _ in range(12):
        step_and_catch_up(pg, 10)
    reads = [u for u in urls if "histograms" not in u]
    assert len(reads) >= 12, reads
    assert sum("since=" in u for u in reads) >= len(reads) - 2, reads  # after the first: increments
    hist = check_strip_is_the_whole_history(pg, server)
    assert hist["step"][-1] == 120
    # Rewind to step 50 and train on: the points after 50 are others now; the page's copy
    # is read whole again (the revision changed) and is the server's again.
    pg.evaluate("window.__bpv.actions.rewind(50)")
    pg.wait_for_function("window.__bpv.store.frame.step === 50", timeout=30_000)
    for _ in range(3):
        step_and_catch_up(pg, 7)
    hist = check_strip_is_the_whole_history(pg, server)
    assert hist["step"][-1] == 71 and 120 not in hist["step"]
    ARTIFACTS.mkdir(exist_ok=True)
    pg.locator("#layers").screenshot(path=str(ARTIFACTS / "history-feed-strip-after-rewind.png"))


def test_the_prediction_line_says_which_update_it_predicted(open_at) -> None:  # type: ignore[no-untyped-def]
    pg = open_at(1366, 900, "hidden=4,2&batch_size=10")
    line = pg.locator("#loss .loss-prediction")
    pg.evaluate("window.__bpv.send({type: 'step', steps: 10})")
    pg.wait_for_function("window.__bpv.store.frame.step === 10", timeout=30_000)
    line.wait_for()
    text = " ".join(line.inner_text().split())
    # Ten steps in one frame: the first update (0 → 1) was predicted, on its batch of 10
    # (batch_size=10 in the link), and the page says the 9 after it were not.
    assert text.startswith("ΔC of step 0 → 1 (one update on its batch of 10 examples;"), text
    assert "not the 9 steps since):" in text, text
    pg.click("#step")  # one step: the update shown is the one just made
    pg.wait_for_function("window.__bpv.store.frame.step === 11", timeout=30_000)
    pg.wait_for_function(
        "document.querySelector('#loss .loss-prediction').textContent.includes('10 → 11')"
    )
    text = " ".join(line.inner_text().split())
    assert text.startswith("ΔC of step 10 → 11 (one update on its batch of 10 examples):"), text
    assert "since" not in text
    ARTIFACTS.mkdir(exist_ok=True)
    pg.locator("#loss").screenshot(path=str(ARTIFACTS / "prediction-line-one-step.png"))


# make test-slow: tests/js/gradient_strip.test.mjs checks the same merge (snapshots thinned by
# the server) against a model server in make test.
@pytest.mark.slow
def test_the_distributions_read_in_increments_keep_the_servers_snapshots(  # type: ignore[no-untyped-def]
    open_at, server: str
) -> None:
    pg = open_at(1366, 900, "hidden=5,4")
    pg.click("#layers button:has-text('Distributions')")
    pg.wait_for_function("window.__bpv.store.layersTab === 'distributions'")
    for _ in range(36):  # past 32 snapshots: the server thins them (every other one dropped)
        step_and_catch_up(pg, 5, strip=False)
    pg.wait_for_function("window.__bpv.store.layerHistory.histograms_asked === true")
    run_id = pg.evaluate("window.__bpv.store.run.id")
    with urllib.request.urlopen(f"{server}/api/runs/{run_id}/history?histograms=true") as r:
        snaps = json.loads(r.read())["histograms"]
    assert len(snaps["step"]) < 36, "thinned"
    held = pg.evaluate("window.__bpv.store.layerHistory.histograms")
    assert held["step"] == snaps["step"]
    assert held["layers"] == snaps["layers"]
    figures = pg.evaluate(
        "[...document.querySelectorAll('#layers .ds-cell')].map(f => f.dataset.snapshots)"
    )
    assert figures and all(int(n) == len(snaps["step"]) for n in figures), figures
    caption = pg.inner_text("#layers .dist")
    assert f"steps {snaps['step'][0]:,} (back, higher) to {snaps['step'][-1]:,} (front" in caption
