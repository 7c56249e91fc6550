"""Nudge it: select a neuron, press Nudge, read the measured slope and backprop's value back
from the page; they agree to the digits the page says, and are the REST answer's numbers."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest

from tests.browser.conftest import ARTIFACTS, frame_value, num, open_app
from tests.browser.test_explain import click_neuron

pytestmark = pytest.mark.browser


def shown(text: str) -> tuple[float, float]:
    """A number as the page wrote it and the unit of its last digit."""
    d = Decimal(text.strip().replace("−", "-"))
    return float(d), float(Decimal(1).scaleb(d.as_tuple().exponent))  # type: ignore[arg-type]


def rest(page: Any, path: str, body: dict[str, Any]) -> Any:
    return page.evaluate(
        """([path, body]) => fetch(path, {method: 'POST', body: JSON.stringify(body),
             headers: {'Content-Type': 'application/json'}}).then(r => r.json())""",
        [path, body],
    )


def read_result(page: Any, of: str) -> dict[str, Any]:
    box = page.locator(f"[data-nudge-result={of}]")
    measured = box.locator("[data-nudge-measured]")
    backprop = box.locator("[data-nudge-backprop]")
    return {
        "measured": measured.text_content() or "",
        "backprop": backprop.text_content() or "",
        "marked": [
            measured.locator(".agree").text_content(),
            backprop.locator(".agree").text_content(),
        ],
        "agree": int(box.locator("[data-nudge-agree]").text_content() or "0"),
        "epsilon": box.locator("[data-nudge-epsilon]").text_content() or "",
        "note": box.inner_text(),
    }


def check_against(seen: dict[str, Any], answer: dict[str, Any]) -> None:
    """The page's two numbers are the REST answer's to the digits shown, agree to the digits
    the page says, and the marked part is text they share."""
    for key in ("measured", "backprop"):
        value, unit = shown(seen[key])
        assert abs(value - answer[key]) <= unit / 2 * (1 + 1e-9), (key, seen[key], answer[key])
    d = seen["agree"]
    assert d >= 6  # smooth at ε's scale: the issue's promise of at least 6 digits
    m, b = seen["marked"]
    assert m == b and seen["measured"].startswith(m) and seen["backprop"].startswith(b)
    # one story: the count the note gives is the marked digits, and it names that text
    assert d == len([c for c in re.sub(r"^[−-]?[0.]*", "", m.split("e")[0]) if c.isdigit()])
    assert f"{m}…" in seen["note"] and "round to" not in seen["note"]
    assert len([c for c in m if c.isdigit()]) >= 3
    # the first digit after the marked part differs: the page shows where they part
    assert seen["measured"] != seen["backprop"] or answer["measured"] == answer["backprop"]
    eps, unit = shown(seen["epsilon"].replace("e", "E"))
    assert abs(eps - answer["epsilon"]) <= unit / 2 * (1 + 1e-9)
    assert "2 forward passes" in seen["note"]


def test_nudge_a_neuron_and_a_weight(page) -> None:  # type: ignore[no-untyped-def]
    open_app(page)
    page.click("#step")
    page.wait_for_function("window.__bpv.store.frame.step >= 1", timeout=20_000)
    run = frame_value(page, "f.run_id")
    sizes = frame_value(page, "f.sizes")
    click_neuron(page, 2, 1)
    page.wait_for_selector("[data-nudge=z]", timeout=20_000)
    page.click("[data-nudge=z]")
    page.wait_for_selector("[data-nudge-result=z] [data-nudge-measured]", timeout=20_000)
    seen = read_result(page, "z")
    answer = rest(page, f"/api/runs/{run}/nudge", {"of": "z", "l": 2, "j": 1})
    assert answer["step"] == frame_value(page, "f.step")
    check_against(seen, answer)
    # backprop's number is the δ²₂ the panel's BP2 shows for the probe
    delta = frame_value(page, "f.explain && f.explain.probe.delta")
    assert answer["backprop"] == pytest.approx(delta, rel=1e-12)
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("[data-nudge-box]").scroll_into_view_if_needed()
    page.locator("[data-nudge-box]").screenshot(path=str(ARTIFACTS / "nudge-neuron.png"))

    # the activation of the same neuron: Σ_i w³_i2 δ³_i
    page.click("[data-nudge=a]")
    page.wait_for_selector("[data-nudge-result=a] [data-nudge-measured]", timeout=20_000)
    check_against(
        read_result(page, "a"), rest(page, f"/api/runs/{run}/nudge", {"of": "a", "l": 2, "j": 1})
    )

    # an edge: its weight, and every weight of its layer
    page.wait_for_timeout(350)
    pos = page.evaluate("window.__bpv.network.clientPos(3, 0, 1)")
    page.mouse.click(pos["x"], pos["y"])
    page.wait_for_selector("[data-nudge=w]", timeout=20_000)
    page.click("[data-nudge=w]")
    page.wait_for_selector("[data-nudge-result=w] [data-nudge-measured]", timeout=20_000)
    check_against(
        read_result(page, "w"),
        rest(page, f"/api/runs/{run}/nudge", {"of": "w", "l": 3, "j": 0, "k": 1}),
    )
    page.click("[data-nudge=layer]")
    page.wait_for_selector("[data-nudge-count]", timeout=20_000)
    count = sizes[2] * sizes[1]
    assert page.locator("[data-nudge-count]").text_content() == str(count)
    assert page.locator("[data-nudge-layer-passes]").text_content() == str(2 * count)
    text = page.locator("[data-nudge-result=layer]").inner_text()
    assert "1 forward + 1 backward pass" in text and f"{2 * count} forward passes" in text
    ms = float(page.locator("[data-nudge-layer-ms]").get_attribute("data-nudge-layer-ms") or 0)
    assert ms > 0
    page.mouse.move(5, 700)
    page.locator("[data-nudge-box]").scroll_into_view_if_needed()
    page.locator("[data-nudge-box]").screenshot(path=str(ARTIFACTS / "nudge-edge.png"))
    # nudging changed nothing: the run is where it was
    assert frame_value(page, "f.step") == answer["step"]


def test_softmax_output_a_and_z(page) -> None:  # type: ignore[no-untyped-def]
    """Three blobs (softmax + log-likelihood): nudging a^L_j alone measures the cost's own
    ∂C/∂a = −1/a_j (and the page says why it is not δ); nudging z^L_j measures δ^L_j."""
    open_app(page, "dataset=blobs3&hidden=3")
    run = frame_value(page, "f.run_id")
    L = len(frame_value(page, "f.sizes"))
    assert frame_value(page, "f.activations[f.activations.length - 1]") == "softmax"
    y = frame_value(page, "f.probe.y")
    j = y.index(1.0)  # the probe's class: its a^L has a slope −1/a (the others' is 0)
    click_neuron(page, L, j)
    page.wait_for_selector("[data-nudge=a]", timeout=20_000)
    page.click("[data-nudge=a]")
    page.wait_for_selector("[data-nudge-result=a] [data-nudge-measured]", timeout=20_000)
    seen = read_result(page, "a")
    check_against(seen, rest(page, f"/api/runs/{run}/nudge", {"of": "a", "l": L, "j": j}))
    assert "summing to more or less than 1" in seen["note"]
    a_j = frame_value(page, "f.explain && f.explain.probe.a")
    assert num(seen["backprop"]) == pytest.approx(-1.0 / a_j, rel=1e-6)
    page.click("[data-nudge=z]")
    page.wait_for_selector("[data-nudge-result=z] [data-nudge-measured]", timeout=20_000)
    z = rest(page, f"/api/runs/{run}/nudge", {"of": "z", "l": L, "j": j})
    check_against(read_result(page, "z"), z)
    delta = frame_value(page, "f.explain && f.explain.probe.delta")
    assert z["backprop"] == pytest.approx(delta, rel=1e-12)
    page.locator("[data-nudge-box]").scroll_into_view_if_needed()
    page.locator("[data-nudge-box]").screenshot(path=str(ARTIFACTS / "nudge-softmax.png"))


def test_an_off_relu_is_exactly_zero_not_17_digits(page) -> None:  # type: ignore[no-untyped-def]
    """A ReLU with z ≤ 0 on the probe: both slopes are 0, and the page says "exactly 0" and
    why, never "agree to 17 significant digits: both round to 0" (0 has no such digits)."""
    open_app(page, "hidden_activation=relu&hidden=8&dataset=xor")
    page.click("#step")
    page.wait_for_function("window.__bpv.store.frame.step >= 1", timeout=20_000)
    z = frame_value(page, "f.layers[0].z")
    off = [j for j, v in enumerate(z) if v < -1e-3]  # well past ε: the nudge cannot turn it on
    assert off, z  # with 8 units and a ±0.5 start, some are off for the probe
    click_neuron(page, 2, off[0])
    page.wait_for_selector("[data-nudge=z]", timeout=20_000)
    page.click("[data-nudge=z]")
    page.wait_for_selector("[data-nudge-result=z] [data-nudge-measured]", timeout=20_000)
    note = page.locator("[data-nudge-result=z]").inner_text()
    assert num(page.locator("[data-nudge-measured]").text_content() or "x") == 0
    assert num(page.locator("[data-nudge-backprop]").text_content() or "x") == 0
    assert "exactly 0" in note and "off for the probe" in note, note
    assert "significant digits:" not in note and "round to" not in note, note
