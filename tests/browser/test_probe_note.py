"""The explain panel's probe line says what the probe is, for every shape of data.

On the plane (2 inputs) it is a training point at (x1, x2) that a click in the output plot
changes. The digits have 64 pixels and no output plot: the line names the training digit and
its label, as the digits' views do. A CSV with 3 (or 10) input columns has no plot either:
the line gives the point's coordinates (the first few of 10) and no click. Every number and
label is read from the page's text and checked against the run's data from the REST API.
"""

from __future__ import annotations

import json
import re
import urllib.request
from typing import Any

import pytest

from tests.browser.conftest import open_app
from tests.browser.test_digits_page import agrees
from tests.browser.test_explain import click_neuron
from tests.browser.test_truth import upload_csv

pytestmark = pytest.mark.browser

OUTPUT_PLOT = "Click a point in the output plot to change it."


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=20) as r:
        return json.loads(r.read())


def probe_line(pg) -> str:  # type: ignore[no-untyped-def]
    """The text of the explain panel's probe line, as a person reads it."""
    line = pg.locator("#explain .explain-body p", has_text=re.compile(r"^Probe example:"))
    line.first.wait_for(timeout=10_000)
    assert line.count() == 1
    return line.first.inner_text()


def run_data(pg) -> tuple[dict[str, Any], int]:  # type: ignore[no-untyped-def]
    """The run's data (GET /api/runs/{id}/data) and the probe index on screen."""
    run = pg.evaluate("window.__bpv.store.run.id")
    index = pg.evaluate("window.__bpv.store.frame.probe.index")
    return get_json(f"{pg.base}/api/runs/{run}/data"), index


def shown_coordinates(text: str) -> list[str]:
    """The numbers inside the parentheses after "at"."""
    m = re.search(r" at \(([^)]*)\)", text)
    assert m, text
    return [s.strip() for s in m.group(1).split(",") if s.strip() not in ("", "…")]


def csv_text(d: int, n: int = 30) -> str:
    """n rows of d inputs with more digits than the page shows, and a 0/1 target."""
    rows = []
    for i in range(n):
        xs = [((i * 7 + k * 13) % 23 - 11) * 0.1234567 + 0.0012345 * k for k in range(d)]
        rows.append(",".join(f"{x:.7f}" for x in xs) + f",{i % 2}")
    return "\n".join(rows) + "\n"


def test_plane_probe_line_keeps_its_click(page) -> None:
    open_app(page, "dataset=xor&hidden=3&probe=5")
    click_neuron(page, 2, 0)
    text = probe_line(page)
    data, index = run_data(page)
    assert index == 5
    assert f"training point #{index} at (" in text and OUTPUT_PLOT in text, text
    coords = shown_coordinates(text)
    point = data["train"]["points"][index]
    assert len(coords) == len(point) == 2, text
    for shown, value in zip(coords, point, strict=True):
        assert agrees(shown, value), (shown, value, text)


def test_digits_probe_line_names_the_digit_and_its_label(page) -> None:
    open_app(page, "dataset=digits&hidden=30")
    page.wait_for_function(
        "window.__bpv.store.frame.sizes[0] === 64 && !document.querySelector('#digits').hidden",
        timeout=30_000,
    )
    # The learner picks another probe from the strip of training digits.
    thumb = page.locator("#digits .dg-thumb").nth(3)
    target = int(thumb.get_attribute("data-train") or "-1")
    thumb.click()
    page.wait_for_function(f"window.__bpv.store.frame.probe.index === {target}", timeout=10_000)
    click_neuron(page, 2, 0)
    page.wait_for_function(
        "[...document.querySelectorAll('#explain .explain-body p')]"
        f".some(p => p.textContent.includes('#{target}'))",
        timeout=10_000,
    )
    text = probe_line(page)
    data, index = run_data(page)
    assert index == target
    label = data["train"]["labels"][index]
    m = re.search(r"training digit #(\d+), a “(\d+)”", text)
    assert m, text
    assert (int(m.group(1)), int(m.group(2))) == (index, label), (text, label)
    # The same name as the digits' own caption over the probe image.
    assert m.group(0) == page.locator("#digits .dg-probe").inner_text()
    assert "output plot" not in text and " at (" not in text, text
    # What it says changes the probe is on the page.
    if "◀" in text:
        assert page.locator("#digits .dg-prev").is_visible()
        assert page.locator("#digits .dg-next").is_visible()


@pytest.mark.parametrize("d", [3, 10])
def test_csv_probe_line_gives_every_input(page, d: int) -> None:
    open_app(page)
    upload_csv(page, f"inputs{d}.csv", csv_text(d))
    page.wait_for_function(
        f"(s => s.frame.sizes[0] === {d} && s.data.train.points[0].length === {d})"
        "(window.__bpv.store)",
        timeout=20_000,
    )
    page.evaluate("window.__bpv.actions.probe(7)")  # not the first point: a real index
    page.wait_for_function("window.__bpv.store.frame.probe.index === 7", timeout=10_000)
    click_neuron(page, 2, 0)
    page.wait_for_function(
        "[...document.querySelectorAll('#explain .explain-body p')]"
        ".some(p => p.textContent.includes('#7'))",
        timeout=10_000,
    )
    text = probe_line(page)
    data, index = run_data(page)
    point = data["train"]["points"][index]
    assert len(point) == d
    assert f"training point #{index} at (" in text, text
    assert "output plot" not in text and "Click" not in text, text
    coords = shown_coordinates(text)
    if d <= 8:
        assert len(coords) == d, text
    else:  # the first few, and how many there are
        assert 2 <= len(coords) < d and "…" in text and f"{d} values" in text, text
    for shown, value in zip(coords, point[: len(coords)], strict=True):
        assert agrees(shown, value), (shown, value, text)
