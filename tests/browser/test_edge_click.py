"""Clicking where the test handle says an edge is selects that edge, for every edge.

``window.__bpv.network.clientPos(l, j, k)`` is what other tests click to pick an edge; in the
symmetric layout of a 2-3-3-1 network edges cross (k=1→j=0 and k=0→j=1 meet at their middles),
so a point shared by two edges would select whichever Plotly finds first.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.browser.conftest import open_app

pytestmark = pytest.mark.browser


def test_click_at_client_pos_selects_that_edge_for_every_edge(page) -> None:
    open_app(page, "hidden=3,3")
    sizes = page.evaluate("window.__bpv.store.frame.sizes")
    assert sizes == [2, 3, 3, 1]
    title = page.locator(".explain-title")
    wrong = []
    for l in range(2, len(sizes) + 1):  # noqa: E741 - l is the layer, as in the notation
        for j in range(sizes[l - 1]):
            for k in range(sizes[l - 2]):
                pos = page.evaluate(f"window.__bpv.network.clientPos({l}, {j}, {k})")
                page.mouse.click(pos["x"], pos["y"])
                want = f"from neuron k = {k + 1} (layer {l - 1}) to neuron j = {j + 1} (layer {l})"
                try:
                    page.wait_for_function(
                        "t => document.querySelector('.explain-title')?.textContent.includes(t)",
                        arg=want,
                        timeout=2_000,
                    )
                except PlaywrightTimeout:  # collect every wrong edge, report at the end
                    wrong.append((l, j, k, title.first.inner_text()))
                page.mouse.move(2, 2)  # off the network: its tooltip goes
    assert wrong == [], f"clicks that selected another edge (or none): {wrong}"
