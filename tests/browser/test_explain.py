"""The backward pass on screen: BP2 term by term, the probe, step-through and the walkthrough."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import ARTIFACTS, frame_value, num, open_app
from tests.browser.test_numbers import check_equation

pytestmark = pytest.mark.browser


def click_neuron(pg, layer: int, j: int) -> None:  # type: ignore[no-untyped-def]
    pg.wait_for_timeout(350)  # two clicks within Plotly's 300 ms would be one double-click
    pos = pg.evaluate(f"window.__bpv.network.clientPos({layer}, {j})")
    pg.mouse.click(pos["x"], pos["y"])


def arith(pg, eq: str) -> str:  # type: ignore[no-untyped-def]
    return pg.locator(f"#explain .arith[data-eq='{eq}']").first.text_content() or ""


def test_bp2_terms_add_up_to_the_shown_delta(page) -> None:
    open_app(page, "hidden=4,3&speed=20")
    page.click("#play")
    page.wait_for_function("window.__bpv.store.frame.step >= 200", timeout=20_000)
    page.click("#play")
    page.wait_for_function("window.__bpv.store.frame.status === 'paused'")
    page.wait_for_timeout(300)
    for layer, j in [(2, 1), (3, 2), (2, 3)]:
        click_neuron(page, layer, j)
        title = f"neuron k = {j + 1} in layer l = {layer}"
        page.wait_for_selector(f".explain-title:has-text('{title}')")
        page.wait_for_selector("#explain .arith[data-eq='bp2-delta']")
        terms = page.locator("#explain .arith[data-eq='bp2-term']").count()
        assert terms == frame_value(page, f"f.sizes[{layer}]")  # a term per neuron of l+1
        # Every written equation holds to its shown digits, read back from the text.
        for eq in ("bp2-term", "bp2-sum", "bp2-delta"):
            for text in page.locator(f"#explain .arith[data-eq='{eq}']").all_text_contents():
                ok, why = check_equation(text)
                assert ok, why
        # The panel's δ is the frame's δ^l_k, the number behind the network view's colour.
        delta = num(re.split("[=≈]", arith(page, "bp2-delta"))[-1])
        frame_delta = frame_value(page, f"f.layers[{layer - 2}].delta[{j}]")
        assert delta == pytest.approx(frame_delta, rel=1e-3)
        assert "agree to rounding" not in page.locator("#explain").inner_text()
        if (layer, j) == (2, 1):
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "bp2-explain-1280x720.png"))
        click_neuron(page, layer, j)  # a second click clears the selection
        page.wait_for_selector(".explain-title:has-text('four equations')")


def test_output_neuron_shows_bp1_and_an_edge_shows_bp4(page) -> None:
    open_app(page, "hidden=3")
    click_neuron(page, 3, 0)
    page.wait_for_selector(".explain-title:has-text('BP1')")
    page.wait_for_selector("#explain .arith[data-eq='bp1-delta']")
    delta = num(re.split("[=≈]", arith(page, "bp1-delta"))[-1])
    assert delta == pytest.approx(frame_value(page, "f.layers[1].delta[0]"), rel=1e-3)
    pos = page.evaluate("window.__bpv.network.clientPos(3, 0, 1)")
    page.wait_for_timeout(350)
    page.mouse.click(pos["x"], pos["y"])
    page.wait_for_selector(".explain-title:has-text('Edge w³₁₂')")
    page.wait_for_selector("#explain .arith[data-eq='edge-backward']")
    back = num(re.split("[=≈]", arith(page, "edge-backward"))[-1])
    expected = frame_value(page, "f.layers[1].edges.probe.backward[0][1]")
    assert back == pytest.approx(expected, rel=1e-3)


def test_clicking_a_data_point_makes_it_the_probe(page) -> None:
    open_app(page, "dataset=xor")
    click_neuron(page, 2, 0)
    old = frame_value(page, "f.probe.index")
    # The training point farthest from its neighbours on screen, so the click is unambiguous.
    target = page.evaluate(
        """(() => {
        const b = window.__bpv.boundary, pts = window.__bpv.store.data.train.points;
        const px = pts.map((_, i) => b.clientPos(i));
        let best = -1, bestD = -1;
        px.forEach((p, i) => {
          if (i === window.__bpv.store.frame.probe.index) return;
          let d = Infinity;
          px.forEach((q, k) => { if (k !== i) d = Math.min(d, Math.hypot(p.x - q.x, p.y - q.y)); });
          if (d > bestD) { bestD = d; best = i; }
        });
        return {i: best, ...px[best]};
      })()"""
    )
    assert target["i"] != old
    page.mouse.click(target["x"], target["y"])
    index = target["i"]
    page.wait_for_function(f"window.__bpv.store.frame.probe.index === {index}", timeout=10_000)
    assert f"training point #{target['i']}" in page.locator(".explain-body").inner_text()
    assert f"probe={target['i']}" in page.evaluate("location.hash")
    probe_xy = page.evaluate(
        "(() => { const t = document.querySelector('#boundary').data"
        ".find(d => d.name === 'probe'); return [t.x[0], t.y[0]]; })()"
    )
    assert probe_xy == frame_value(page, "f.probe.point")


def test_step_through_walks_every_layer(page) -> None:
    open_app(page, "hidden=3,2")
    page.click("#stepthrough-btn")
    stages = []
    for _ in range(30):
        stage = page.locator("[data-guide=stepthrough]").get_attribute("data-stage")
        stages.append(stage)
        if stage == "next":
            break
        page.click("[data-st=next]")
    page.click("[data-st=prev]")  # back to BP2 into layer 2, for the screenshot
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "step-through-1280x720.png"))
    page.click("[data-st=next]")
    forward = ["z-2", "a-2", "z-3", "a-3", "z-4", "a-4"]
    assert stages == [*forward, "bp1-4", "bp2-3", "bp2-2", "update", "next"]
    step = frame_value(page, "f.step")
    page.click("[data-st=next]")  # train this batch
    page.wait_for_function(f"window.__bpv.store.frame.step === {step + 1}", timeout=10_000)
    page.wait_for_selector("[data-guide=stepthrough][data-stage='z-2']")
    page.click("[data-st=close]")
    assert page.locator("#guide").is_hidden()


def test_why_the_transpose_walkthrough(page) -> None:
    open_app(page, "hidden=4,3")
    click_neuron(page, 2, 1)
    page.click("#walkthrough-btn")
    seen = []
    for _ in range(10):
        head = page.locator("[data-guide=walkthrough]")
        seen.append(int(head.get_attribute("data-guide-step")))
        nxt = page.locator("[data-wt=next]")
        if nxt.is_disabled():
            break
        nxt.click()
    assert seen == [1, 2, 3, 4, 5, 6, 7]  # 7: "Why not the inverse?" (issue 12)
    page.click("[data-wt=prev]")
    page.click("[data-wt=prev]")
    page.click("[data-wt=prev]")  # step 4: the sum over j, with the matrix view
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "why-the-transpose-1280x720.png"))
    assert page.locator(".guide-body math").count() > 0
    page.click("[data-wt=close]")
    assert page.locator(".explain-main").is_visible()
