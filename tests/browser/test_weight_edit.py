"""Click an edge, type its weight (Playground's edge editor): `set_weight` on the stream."""

from __future__ import annotations

import pytest

from tests.browser.conftest import ARTIFACTS, frame_value, num, open_app

pytestmark = pytest.mark.browser


def test_click_an_edge_and_type_its_weight(page) -> None:
    open_app(page, "hidden=3")
    pos = page.evaluate("window.__bpv.network.clientPos(3, 0, 1)")  # w³₁₂: k = 2 → j = 1
    page.mouse.click(pos["x"], pos["y"])
    page.wait_for_selector(".explain-title:has-text('Edge w³₁₂')")
    box = page.locator("[data-weight-input]")
    assert box.get_attribute("data-weight-input") == "3,0,1"
    shown = frame_value(page, "f.layers[1].w[0][1]")
    assert num(box.input_value()) == pytest.approx(shown, rel=1e-3)
    step = frame_value(page, "f.step")

    box.fill("0.75")
    box.press("Enter")
    page.wait_for_function("window.__bpv.store.frame.layers[1].w[0][1] === 0.75", timeout=10_000)
    page.wait_for_function(
        "document.querySelector('[data-weight-input]').value === '0.75'", timeout=5_000
    )
    assert frame_value(page, "f.step") == step  # an edit is not a training step
    # The panel's numbers come from the answering frame: w_jk a_k with the new weight, read
    # term by term from the equation the learner sees ("0.7500 · 0.58068 = 0.4355").
    fw = page.locator("[data-eq=edge-forward]")
    assert num(fw.locator("[data-term=w]").text_content() or "") == 0.75
    a_shown = num(fw.locator("[data-term=a]").text_content() or "")
    a_k = frame_value(page, "f.layers[0].a[1]")  # a²₂, the source neuron
    assert a_shown == pytest.approx(a_k, rel=1e-4, abs=1e-9)
    forward = num(fw.locator("[data-result]").text_content() or "")
    assert forward == pytest.approx(0.75 * a_k, rel=2e-3, abs=1e-6)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "weight-edit-1280x720.png"))

    # Not a number: refused on the page, nothing sent.
    box.fill("abc")
    box.press("Enter")
    err = page.locator("[data-weight-error]")
    assert "finite number" in err.inner_text()
    assert box.input_value() == "abc"  # kept, to be corrected
    # Out of range: the server's own message, next to the box (not a banner).
    box.fill("−250")
    box.press("Enter")
    page.wait_for_function(
        "document.querySelector('[data-weight-error]').textContent.includes('The server said')",
        timeout=5_000,
    )
    assert "value" in err.inner_text() and "-100" in err.inner_text()
    assert frame_value(page, "f.layers[1].w[0][1]") == 0.75
    page.mouse.move(5, 700)  # no edge tooltip over the panel
    page.screenshot(path=str(ARTIFACTS / "weight-edit-error-1280x720.png"))
    # A real minus sign works; the error goes.
    box.fill("−1.5")
    box.press("Enter")
    page.wait_for_function("window.__bpv.store.frame.layers[1].w[0][1] === -1.5", timeout=10_000)
    assert err.inner_text() == ""
    assert page.locator("[data-banner=server]").count() == 0
