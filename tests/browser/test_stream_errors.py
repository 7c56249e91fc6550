"""A refused stream message is answered where it was sent from, matched by its id."""

from __future__ import annotations

import pytest

from tests.browser.conftest import open_app

pytestmark = pytest.mark.browser

WEIGHT_ERROR = "document.querySelector('[data-weight-error]').textContent"


def test_an_error_reaches_the_view_whose_message_it_refuses(page) -> None:
    open_app(page, "hidden=3")
    pos = page.evaluate("window.__bpv.network.clientPos(3, 0, 1)")  # w³₁₂
    page.mouse.click(pos["x"], pos["y"])
    box = page.locator("[data-weight-input]")
    box.fill("0.5")
    box.press("Enter")
    page.wait_for_function("window.__bpv.store.frame.layers[1].w[0][1] === 0.5", timeout=10_000)

    # Right after an accepted weight edit, another message is refused: the banner says so,
    # and the weight's edit box, which sent nothing refused, stays clear.
    page.evaluate("window.__bpv.send({type: 'probe', index: 99999})")
    banner = page.locator("[data-banner=server]")
    banner.wait_for(timeout=5_000)
    assert "250 examples" in banner.inner_text()
    assert page.evaluate(WEIGHT_ERROR) == ""

    # A refused set_weight is the edit box's own, whatever else was refused around it.
    box.fill("-250")
    box.press("Enter")
    page.evaluate("window.__bpv.send({type: 'step', steps: 100001})")
    page.wait_for_function(f"{WEIGHT_ERROR}.includes('The server said')", timeout=5_000)
    said = page.evaluate(WEIGHT_ERROR)
    assert "value" in said and "-100" in said and "max_steps_per_request" not in said
    assert page.evaluate("window.__bpv.store.frame.layers[1].w[0][1]") == 0.5
