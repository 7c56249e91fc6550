"""Downloads for a report (static/js/downloads.js, figure_export.js): every figure as PNG and
SVG, and the frame's numbers as JSON and CSV. Each file is read as a reader's program would
(PNG header, SVG as XML, JSON, CSV) and the numbers are compared with the frame on screen.
The predicted and actual ΔC beside the loss are the frame's, and say when η is too big."""

from __future__ import annotations

import csv
import io
import itertools
import json
import struct
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.browser.conftest import ARTIFACTS, frame_value, num, open_app

pytestmark = pytest.mark.browser

SVG = "{http://www.w3.org/2000/svg}"


def download(pg, what: str, fmt: str, tmp_path: Path) -> tuple[str, bytes]:  # type: ignore[no-untyped-def]
    pg.click("#downloads summary")
    with pg.expect_download(timeout=20_000) as info:
        pg.click(f"#downloads button[data-download={what}][data-format={fmt}]")
    d = info.value
    path = tmp_path / d.suggested_filename
    d.save_as(path)
    return d.suggested_filename, path.read_bytes()


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    assert data[12:16] == b"IHDR"
    w, h = struct.unpack(">II", data[16:24])
    return int(w), int(h)


def test_every_figure_and_the_frame_numbers_download(page, tmp_path) -> None:  # type: ignore[no-untyped-def]
    open_app(page, "hidden=4,2")
    page.evaluate("window.__bpv.send({type: 'step', steps: 25})")
    page.wait_for_function("window.__bpv.store.frame.step === 25", timeout=20_000)
    step = 25
    sizes = frame_value(page, "f.sizes")
    edges = sum(a * b for a, b in itertools.pairwise(sizes))

    for what in ("network", "boundary", "loss"):
        name, data = download(page, what, "png", tmp_path)
        assert name == f"backprop-viz-step-{step}-{what}.png"
        w, h = png_size(data)
        assert w >= 300 and h >= 240, (what, w, h)
        name, data = download(page, what, "svg", tmp_path)
        assert name.endswith(f"-{what}.svg")
        root = ET.fromstring(data)
        assert root.tag == f"{SVG}svg"
        texts = " ".join(t.text or "" for t in root.iter(f"{SVG}text"))
        if what == "network":
            # Every edge is drawn (one path per edge, as on screen), each neuron a circle.
            drawn = [p for p in root.iter(f"{SVG}path") if p.get("data-edge")]
            assert len(drawn) == edges
            assert len(list(root.iter(f"{SVG}circle"))) == sum(sizes)
            assert f"step {step}" in texts and "edges: backward contribution" in texts
        else:
            assert f"step {step}" in texts

    name, data = download(page, "tensors", "json", tmp_path)
    assert name == f"backprop-viz-step-{step}-tensors.json"
    doc = json.loads(data)
    f = frame_value(page, "f")
    assert doc["step"] == step and doc["sizes"] == sizes
    assert doc["probe"]["index"] == f["probe"]["index"]
    assert doc["input"]["a"] == f["input"]["a"]
    for mine, theirs in zip(doc["layers"], f["layers"], strict=True):
        for key in ("l", "z", "a", "delta", "w", "b", "grad_w", "grad_b"):
            assert mine[key] == theirs[key], (mine["l"], key)

    name, data = download(page, "tensors", "csv", tmp_path)
    assert name.endswith("-probe.csv")
    rows = list(csv.DictReader(io.StringIO(data.decode())))
    assert list(rows[0].keys()) == ["layer", "neuron", "z", "a", "delta"]
    assert len(rows) == sum(sizes)
    for r in rows:
        l, j = int(r["layer"]), int(r["neuron"]) - 1  # noqa: E741
        if l == 1:
            assert float(r["a"]) == f["input"]["a"][j] and r["z"] == r["delta"] == ""
            continue
        layer = f["layers"][l - 2]
        assert (float(r["z"]), float(r["a"]), float(r["delta"])) == (
            layer["z"][j],
            layer["a"][j],
            layer["delta"][j],
        )
    ARTIFACTS.mkdir(exist_ok=True)
    page.click("#downloads summary")
    page.screenshot(path=str(ARTIFACTS / "downloads-menu-1280x720.png"))
    page.keyboard.press("Escape")
    assert page.locator("#downloads").get_attribute("open") is None


@pytest.mark.parametrize(
    ("eta", "says"), [(0.03, "Close to the prediction"), (3, "The step went uphill: η is too big")]
)
def test_predicted_and_actual_change_of_a_step(page, eta: float, says: str) -> None:  # type: ignore[no-untyped-def]
    open_app(page, f"learning_rate={eta}")
    line = page.locator("#loss .loss-prediction")
    assert line.is_hidden()  # no step yet: nothing predicted
    page.click("#step")
    page.wait_for_function("(window.__bpv.store.frame.prediction || {}).step === 1", timeout=10_000)
    line.wait_for()
    p = frame_value(page, "f.prediction")
    predicted = num(line.locator("[data-predicted]").inner_text())
    actual = num(line.locator("[data-actual]").inner_text())
    assert predicted == pytest.approx(p["predicted"], rel=1e-3)
    assert actual == pytest.approx(p["actual"], rel=1e-3)
    # What the numbers on the page say, read as a learner would: a cost that rose although the
    # slope said it falls, or a change within half the prediction.
    text = line.inner_text()
    assert says in text
    if eta == 3:
        assert predicted < 0 < actual
    else:
        assert abs(actual - predicted) <= 0.5 * abs(predicted)
