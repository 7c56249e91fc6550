"""Input neurons are named by the feature they carry, not by the raw coordinate of their
position. A reviewer opened ``features=x2,sin_x1``: the tooltip of input 1 read
"a¹₁ = x₁ = 1.186" (1.186 was x₂) and the explain panel of input 2 "a¹₂ = x₂ = 0.3395" (it was
sin(x₁)). Each name shown is checked against the value shown, computed here from the probe's
raw point (GET /data), and the names follow a change of features that keeps their count."""

from __future__ import annotations

import json
import math
import re
import urllib.request
from collections.abc import Callable

import pytest

from tests.browser.conftest import ARTIFACTS, num, open_app, rebuilt_with

pytestmark = pytest.mark.browser

# The features by the names the page shows, computed independently from a raw point (x, y).
BY_LABEL: dict[str, Callable[[float, float], float]] = {
    "x₁": lambda x, y: x,
    "x₂": lambda x, y: y,
    "x₁²": lambda x, y: x * x,
    "x₂²": lambda x, y: y * y,
    "x₁x₂": lambda x, y: x * y,
    "sin(x₁)": lambda x, y: math.sin(x),
    "sin(x₂)": lambda x, y: math.sin(y),
}
TIP = re.compile(r"a¹(\S) = (.+?) = (\S+)")


def _raw_probe(pg) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    run = pg.evaluate("window.__bpv.store.run.id")
    probe = pg.evaluate("window.__bpv.store.frame.probe.index")
    with urllib.request.urlopen(f"{pg.base}/api/runs/{run}/data") as r:
        data = json.loads(r.read())
    x, y = data["train"]["points"][probe]
    return float(x), float(y)


def _agrees(shown: str, value: float) -> bool:
    """``shown`` (4 significant digits as the page writes them) is ``value`` rounded."""
    return abs(num(shown) - value) <= 0.5 * 10 ** (math.floor(math.log10(abs(value))) - 3) + 1e-12


def _check(pg, labels: list[str]) -> None:  # type: ignore[no-untyped-def]
    """Each input neuron's tooltip and explain panel name the feature and its value."""
    x, y = _raw_probe(pg)
    for j, label in enumerate(labels):
        want = BY_LABEL[label](x, y)
        pos = pg.evaluate(f"window.__bpv.network.clientPos(1, {j})")
        pg.mouse.move(pos["x"], pos["y"])
        tip = pg.locator("#net .net-tip")
        tip.wait_for(state="visible", timeout=5_000)
        m = TIP.search(tip.inner_text())
        assert m, tip.inner_text()
        assert m.group(1) == "₁₂₃"[j] and m.group(2) == label, (j, tip.inner_text())
        assert _agrees(m.group(3), want), (label, m.group(3), want)
        pg.mouse.click(pos["x"], pos["y"])
        title = f"Input neuron {j + 1} (layer 1): {label}"
        pg.wait_for_function(
            f"document.querySelector('.explain-title').textContent === {json.dumps(title)}",
            timeout=5_000,
        )
        body = pg.inner_text(".explain-body").replace("\n", " ")
        assert label in body, body
        shown = re.search(rf"{re.escape(label)}\s*=\s*(\S+)", body)
        assert shown and _agrees(shown.group(1), want), (label, body)
        pg.mouse.move(0, 0)


def test_input_neurons_are_named_by_their_feature(page) -> None:  # type: ignore[no-untyped-def]
    open_app(page, "dataset=circle&features=x2,sin_x1")
    assert page.evaluate("window.__bpv.store.frame.sizes[0]") == 2
    _check(page, ["x₂", "sin(x₁)"])
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "input-labels-x2-sinx1.png"))
    # Another pair of features, the same count: the names follow (the network's geometry
    # does not change, so its labels were kept from before).
    rebuilt_with(page, {"features": ["x1", "x1^2"]})
    page.wait_for_function(
        "[...document.querySelectorAll('#net text')].some(t => t.textContent === 'x₁²')",
        timeout=10_000,
    )
    _check(page, ["x₁", "x₁²"])
