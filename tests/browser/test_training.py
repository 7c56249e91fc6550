"""Play, pause, and changing the network's shape from the page."""

from __future__ import annotations

import math

import pytest

from tests.browser.conftest import frame_value, num, open_app

pytestmark = pytest.mark.browser


def train_cost(pg) -> float:  # type: ignore[no-untyped-def]
    return float(pg.locator("[data-train-cost]").get_attribute("data-train-cost"))


def test_play_trains_and_the_loss_falls_on_circle(page) -> None:
    open_app(page, "dataset=circle&learning_rate=0.1&speed=50")
    before = train_cost(page)
    assert page.locator("#play").get_attribute("aria-label") == "play"
    page.click("#play")
    page.wait_for_function("window.__bpv.store.frame.step >= 1500", timeout=30_000)
    page.wait_for_function(f"window.__bpv.store.frame.train.cost < {before} * 0.6", timeout=20_000)
    assert train_cost(page) < before * 0.6
    assert page.locator("#play").get_attribute("aria-label") == "pause"
    page.click("#play")


def test_pause_stops_the_step_counter(page) -> None:
    open_app(page, "speed=5")
    page.click("#play")
    page.wait_for_function("window.__bpv.store.frame.step >= 50", timeout=20_000)
    page.click("#play")
    page.wait_for_function("window.__bpv.store.frame.status === 'paused'", timeout=10_000)
    page.wait_for_timeout(300)  # frames already in flight
    shown = page.locator("#stepno").inner_text()
    page.wait_for_timeout(1200)
    assert page.locator("#stepno").inner_text() == shown
    assert frame_value(page, "f.status") == "paused"


def test_add_a_layer_and_a_neuron(page) -> None:
    open_app(page, "hidden=4,2")
    assert frame_value(page, "f.sizes") == [2, 4, 2, 1]
    page.click("#layer-add")
    page.wait_for_function("window.__bpv.store.frame.sizes.length === 5", timeout=10_000)
    assert frame_value(page, "f.sizes") == [2, 4, 2, 2, 1]
    assert "hidden=4,2,2" in page.evaluate("location.hash")
    # The + above layer 2 adds a neuron there.
    page.click("button[data-neurons='0'][data-delta='1']")
    page.wait_for_function("window.__bpv.store.frame.sizes[1] === 5", timeout=10_000)
    assert frame_value(page, "f.sizes") == [2, 5, 2, 2, 1]
    assert page.locator(".layer-label").count() == 5
    page.click("#layer-remove")
    page.wait_for_function("window.__bpv.store.frame.sizes.length === 4", timeout=10_000)
    assert frame_value(page, "f.sizes") == [2, 5, 2, 1]


def test_divergence_is_shown_with_a_way_out(page) -> None:
    open_app(page, "dataset=plane&learning_rate=10&speed=50&hidden=8,8")
    page.click("#play")
    page.wait_for_function("window.__bpv.store.frame.status === 'diverged'", timeout=30_000)
    banner = page.locator("#banner [data-banner=diverged]")
    banner.wait_for()
    assert "diverged" in banner.inner_text()
    # The server's trial on this run offers a smaller η that worked: the button names it.
    button = banner.locator("button", has_text="Use η =")
    button.wait_for(timeout=20_000)
    eta = num(button.inner_text().split("=")[1].replace("and reset", ""))
    assert 0 < eta < 10
    button.click(timeout=5_000)
    page.wait_for_function(
        f"(f => f.status !== 'diverged' && f.step === 0"
        f" && Math.abs(f.hyper.learning_rate - {eta}) <= 1e-6 * {eta})(window.__bpv.store.frame)",
        timeout=10_000,
    )
    assert page.locator("#banner [data-banner=diverged]").count() == 0


def test_a_run_that_diverges_while_playing_shows_its_own_step(page) -> None:
    """A reviewer played linear layers at η 3: the page said "step 5" and train cost 0.5312
    over step 0's weights (rolled back while the count went on), and its tooltip showed
    0 for values that were not numbers. Now the diverged frame's weights are the export's at
    the step the header names, and not step 0's (a fresh twin's), and the tooltip and the
    gradient panel say how overflows are shown."""
    config = "hidden_activation=linear&output_activation=linear&learning_rate=3&hidden=8,8,8"
    open_app(page, config)
    page.click("#play")
    page.wait_for_function("window.__bpv.store.frame.status === 'diverged'", timeout=30_000)
    page.wait_for_timeout(300)
    step = int(page.locator("#stepno").inner_text().replace(",", ""))
    run = page.evaluate("window.__bpv.store.run.id")
    assert frame_value(page, "f.step") == step > 0
    doc = page.evaluate(f"fetch('/api/runs/{run}/export').then(r => r.json())")
    assert doc["step"] == step
    at_0 = page.evaluate(
        "fetch('/api/runs', {method: 'POST', headers: {'Content-Type': 'application/json'},"
        " body: JSON.stringify({...window.__bpv.store.run.config})})"
        ".then(r => r.json()).then(async (r) => {"
        " const doc = await (await fetch(`/api/runs/${r.id}/export`)).json();"
        " const gone = await fetch(`/api/runs/${r.id}`, {method: 'DELETE',"
        " headers: {'Content-Type': 'application/json'}}); return [doc, gone.status]; })"
    )
    at_0, deleted = at_0
    assert deleted == 204  # the twin is deleted: it counted against this page's runs
    assert at_0["step"] == 0 and at_0["parameters"] != doc["parameters"]
    # the frame's weights (what the network is drawn with) are the export's at that step, to
    # the 4 digits a frame carries (an overflowed one clipped to ±1e30); step 0's are not
    for i in range(4):
        shown = frame_value(page, f"f.layers[{i}].w")
        exact = doc["parameters"]["weights"][i]
        for row, erow in zip(shown, exact, strict=True):
            for v, e in zip(row, erow, strict=True):
                if abs(e) >= 1e30:
                    assert v == pytest.approx(math.copysign(1e30, e), rel=1e-6)
                else:
                    assert abs(v - e) <= 5.001e-4 * abs(e), (i, v, e)
    # the output neuron's tooltip and the gradient panel's note say how overflows are shown
    page.hover("#net circle[data-node='5,0']")
    tip = page.locator("#net .net-tip")
    tip.wait_for()
    assert "Diverged: a value that overflowed shows as ±1e30" in tip.inner_text()
    assert (
        "Diverged: a value that overflowed is shown as ±1e30"
        in page.locator(".gs-note").inner_text()
    )


def test_a_banner_keeps_its_buttons_while_its_text_changes(page) -> None:
    """A banner whose number changes every frame (the step it stalled at) keeps its button
    element, so a click that lands between two frames is not lost."""
    open_app(page)
    page.evaluate(
        """async () => {
      const { banner } = await import('/static/js/banner.js');
      window.__clicked = 0;
      for (let step = 1; step <= 3; step++)
        banner.show('test', { level: 'warn', text: `stalled at step ${step}`,
          actions: [{ label: 'Use it', run: () => { window.__clicked += 1; } }] });
      window.__btn = document.querySelector('#banner [data-banner=test] button');
      banner.show('test', { level: 'warn', text: 'stalled at step 4',
        actions: [{ label: 'Use it', run: () => { window.__clicked += 1; } }] });
    }"""
    )
    msg = page.locator("#banner [data-banner=test]")
    assert "stalled at step 4" in msg.inner_text()
    assert page.evaluate(
        "window.__btn === document.querySelector('#banner [data-banner=test] button')"
    )
    msg.locator("button", has_text="Use it").click(timeout=2_000)
    assert page.evaluate("window.__clicked") == 1
