"""Downloads for a report (static/js/downloads.js, figure_export.js): every figure as PNG and
SVG, and the frame's numbers as JSON and CSV. Each file is read as a reader's program would
(PNG header and pixels, SVG as XML, JSON, CSV) and compared with what the page shows: the
CSV's every row against the run's REST frame (GET /api/runs/{id}/frame), exactly, and every
number of that frame found in it; on the digits, the Output panel's images (the page's own
canvas pixels) against the downloaded SVG's squares and the PNG's pixels.
The predicted and actual ΔC beside the loss are the frame's, and say when η is too big."""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
import struct
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

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


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=20) as r:
        return json.loads(r.read())


# Where each of a REST frame's tensors goes in the CSV (README, "Downloads"): frame key ->
# (quantity, over). Written from the README's table, not from downloads.js.
LAYER_VECTORS = {
    "z": ("z", "probe"),
    "a": ("a", "probe"),
    "delta": ("delta", "probe"),
    "sigma_prime": ("sigma_prime", "probe"),
    "b": ("b", ""),
    "grad_b": ("dC/db", "batch mean"),
    "true_delta": ("true_delta", "probe"),
    "true_grad_b": ("true_dC/db", "batch mean"),
}
LAYER_MATRICES = {
    "w": ("w", ""),
    "grad_w": ("dC/dw", "batch mean"),
    "true_grad_w": ("true_dC/dw", "batch mean"),
}
EDGE_TERMS = {"forward": "w*a", "backward": "w*delta", "gradient": "a*delta"}
NOT_TENSORS = {"l", "activation", "norms", "alignment"}  # names and per-layer summaries


def frame_numbers(f: dict[str, Any]) -> dict[tuple[str, str, str, str, str], float]:
    """Every number of a REST frame's tensors, keyed as the CSV's columns say (1-based j, k)."""
    out: dict[tuple[str, str, str, str, str], float] = {}

    def vec(q: str, over: str, l: int | str, v: list[float]) -> None:  # noqa: E741
        for j, x in enumerate(v):
            out[(q, over, str(l), str(j + 1), "")] = x

    def mat(q: str, over: str, l: int, m: list[list[float]]) -> None:  # noqa: E741
        for j, row in enumerate(m):
            for k, x in enumerate(row):
                out[(q, over, str(l), str(j + 1), str(k + 1))] = x

    vec("a", "probe", 1, f["input"]["a"])
    vec("a", "batch mean", 1, f["input"]["mean_a"])
    for layer in f["layers"]:
        l = layer["l"]  # noqa: E741
        covered = set(NOT_TENSORS)
        for key, (q, over) in LAYER_VECTORS.items():
            if layer.get(key) is not None:
                vec(q, over, l, layer[key])
                covered.add(key)
        for key, (q, over) in LAYER_MATRICES.items():
            if layer.get(key) is not None:
                mat(q, over, l, layer[key])
                covered.add(key)
        for key, x in layer["mean"].items():
            vec(key, "batch mean", l, x)
        covered.add("mean")
        for over, name in (("probe", "probe"), ("mean", "batch mean")):
            assert set(layer["edges"][over]) == set(EDGE_TERMS)
            for key, q in EDGE_TERMS.items():
                mat(q, name, l, layer["edges"][over][key])
        covered.add("edges")
        # A tensor the frame carries and the CSV does not would be missed here: none is.
        assert set(layer) <= covered, set(layer) - covered
    vec("y", "probe", len(f["sizes"]), f["probe"]["y"])
    out[("C", "probe", "", "", "")] = f["probe"]["cost"]
    out[("C", "batch mean", "", "", "")] = f["batch_cost"]
    return out


def check_csv(data: bytes, f: dict[str, Any]) -> int:
    """The CSV's rows re-read into numbers are exactly the REST frame's, all of them, each
    once. Returns the number of rows."""
    rows = list(csv.DictReader(io.StringIO(data.decode())))
    assert list(rows[0].keys()) == ["quantity", "over", "layer", "j", "k", "value"]
    want = frame_numbers(f)
    got: dict[tuple[str, str, str, str, str], float] = {}
    for r in rows:
        key = (r["quantity"], r["over"], r["layer"], r["j"], r["k"])
        assert key not in got, key
        got[key] = float(r["value"])
    assert set(got) == set(want), set(got) ^ set(want)
    for key, x in want.items():
        # exactly the same double (and the same sign of a zero): no digit rounded away
        same_sign = math.copysign(1, got[key]) == math.copysign(1, x)
        assert got[key] == x and same_sign, (key, got[key], x)
    return len(rows)


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    assert data[12:16] == b"IHDR"
    w, h = struct.unpack(">II", data[16:24])
    return int(w), int(h)


def test_every_figure_and_the_frame_numbers_download(page, tmp_path) -> None:  # type: ignore[no-untyped-def]
    open_app(page, "hidden=4,2&feedback=random&regulariser=l2&lambda=0.1")
    page.evaluate("window.__bpv.send({type: 'step', steps: 25})")
    page.wait_for_function("window.__bpv.store.frame.step === 25", timeout=20_000)
    step = 25
    sizes = frame_value(page, "f.sizes")
    edges = sum(a * b for a, b in itertools.pairwise(sizes))

    for what, file in (("network", "network"), ("output", "boundary"), ("loss", "loss")):
        name, data = download(page, what, "png", tmp_path)
        assert name == f"backprop-viz-step-{step}-{file}.png"
        w, h = png_size(data)
        assert w >= 300 and h >= 240, (what, w, h)
        name, data = download(page, what, "svg", tmp_path)
        assert name.endswith(f"-{file}.svg")
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

    # The CSV: every number of the run's REST frame at this step, exactly, one a row. The
    # rule is random feedback with L2, so the frame has true_* and dC/dw ≠ mean a·δ.
    name, data = download(page, "tensors", "csv", tmp_path)
    assert name == f"backprop-viz-step-{step}-tensors.csv"
    rest = get_json(f"{page.base}/api/runs/{f['run_id']}/frame?grid=false")
    assert rest["step"] == step and rest["layers"][0].get("true_delta") is not None
    n = check_csv(data, rest)
    # 2-4-2-1: 2 + 2 inputs; per layer 10·n + 8·n·n' (+ true_*: 2·n + n·n'); y, C twice.
    per_layer = [(4, 2), (2, 4), (1, 2)]
    assert n == 4 + sum(10 * a + 8 * a * b + 2 * a + a * b for a, b in per_layer) + 1 + 2
    ARTIFACTS.mkdir(exist_ok=True)
    page.click("#downloads summary")
    page.screenshot(path=str(ARTIFACTS / "downloads-menu-1280x720.png"))
    page.keyboard.press("Escape")
    assert page.locator("#downloads").get_attribute("open") is None


BOOK_DIGITS = (
    "dataset=digits&noise=0&train_share=0.8&hidden=30&hidden_activation=sigmoid"
    "&output_activation=auto&cost=auto&init=xavier&learning_rate=0.5&batch_size=10"
    "&regulariser=none&lambda=0&momentum=0"
)
# The page's images on the digits, each as its canvas's 64 [r, g, b] (what the learner sees).
PAGE_IMAGES = """(() => {
  const px = (c) => { const d = c.getContext('2d').getImageData(0, 0, 8, 8).data;
    return Array.from({length: 64}, (_, k) => [d[4 * k], d[4 * k + 1], d[4 * k + 2]]); };
  const out = {input: px(document.querySelector('#digits [data-img=input]')),
               back: px(document.querySelector('#digits [data-img=back]'))};
  for (const c of document.querySelectorAll('#digits canvas[data-j]'))
    out['w' + c.dataset.j] = px(c);
  return out; })()"""


def svg_images(root: ET.Element) -> dict[str, list[tuple[float, float, float, list[int]]]]:
    """The SVG's images: name -> 64 squares (x, y, side, [r, g, b]) in pixel order k."""
    out = {}
    for g in root.iter(f"{SVG}g"):
        tag = g.get("data-img")
        if tag is None:
            continue
        name = f"w{g.get('data-j')}" if tag == "w" else tag
        cells = [r for r in g.iter(f"{SVG}rect") if r.get("data-k") is not None]
        assert [int(r.get("data-k") or -1) for r in cells] == list(range(64)), name
        squares = []
        for r in cells:
            fill = r.get("fill") or ""
            assert fill.startswith("rgb("), fill
            rgb = [int(c) for c in fill[4:-1].split(",")]
            side = float(r.get("width") or 0)
            assert side == float(r.get("height") or -1) and side > 0
            squares.append((float(r.get("x") or 0), float(r.get("y") or 0), side, rgb))
        out[name] = squares
    return out


def test_digit_views_and_numbers_download(page, tmp_path) -> None:  # type: ignore[no-untyped-def]
    open_app(page, BOOK_DIGITS)
    page.wait_for_function(
        "window.__bpv.store.frame.sizes.join() === '64,30,10'"
        " && !document.querySelector('#digits').hidden",
        timeout=30_000,
    )
    page.evaluate("window.__bpv.send({type: 'step', steps: 60})")
    page.wait_for_function("window.__bpv.store.frame.step === 60", timeout=30_000)
    page.wait_for_timeout(300)  # the panel drawn from that frame
    step = 60
    shown = page.evaluate(PAGE_IMAGES)
    assert len(shown) == 2 + 30
    texts_shown = page.evaluate(
        "[...document.querySelectorAll('#digits .dg-probe, #digits .dg-verdict, #digits .dg-acc,"
        " #digits .dg-out-title, #digits .cb-title')].map(e => e.textContent.trim())"
    )

    # The Output panel's buttons are there on the digits (they were hidden).
    page.click("#downloads summary")
    assert page.locator("#downloads button[data-download=output][data-format=svg]").is_visible()
    page.keyboard.press("Escape")

    name, data = download(page, "output", "svg", tmp_path)
    assert name == f"backprop-viz-step-{step}-digits.svg"
    root = ET.fromstring(data)
    assert root.tag == f"{SVG}svg"
    width, height = float(root.get("width") or 0), float(root.get("height") or 0)
    images = svg_images(root)
    assert set(images) == set(shown)  # the probe, (w²)ᵀδ² and the 30 hidden neurons
    for name_, squares in images.items():
        # 64 touching squares of one size on an 8×8 grid, in the page's colours
        x0, y0, side, _ = squares[0]
        for k, (x, y, s, rgb) in enumerate(squares):
            r, c = divmod(k, 8)
            assert (x, y, s) == (x0 + c * side, y0 + r * side, side), (name_, k)
            assert rgb == shown[name_][k], (name_, k, rgb, shown[name_][k])
        assert x0 >= 0 and y0 >= 0 and x0 + 8 * side <= width and y0 + 8 * side <= height
    # The images differ from one another (not one image drawn 32 times), and the probe's ink
    # is the frame's a¹ (white 0 to black 1) as the page shows it.
    assert len({json.dumps(v) for v in shown.values()}) == 32
    a1 = frame_value(page, "f.input.a")
    assert [c[0] for c in shown["input"]] == [round(255 * (1 - min(1.0, max(0.0, v)))) for v in a1]
    texts = " ".join(t.text or "" for t in root.iter(f"{SVG}text"))
    for t in texts_shown:
        assert t and t in texts, t
    assert f"step {step}" in texts

    name, png = download(page, "output", "png", tmp_path)
    assert name == f"backprop-viz-step-{step}-digits.png"
    assert png_size(png) == (round(2 * width), round(2 * height))
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "download-digits.png").write_bytes(png)
    img = Image.open(io.BytesIO(png)).convert("RGB")
    for name_, squares in images.items():
        for k, (x, y, side, _) in enumerate(squares):
            at = (int(2 * (x + side / 2)), int(2 * (y + side / 2)))
            assert list(img.getpixel(at)) == shown[name_][k], (name_, k)  # type: ignore[arg-type]

    # The CSV: every number of the run's REST frame, exactly (64-30-10: 30·64 weights).
    name, data = download(page, "tensors", "csv", tmp_path)
    assert name == f"backprop-viz-step-{step}-tensors.csv"
    run = frame_value(page, "f.run_id")
    rest = get_json(f"{page.base}/api/runs/{run}/frame?grid=false")
    assert rest["step"] == step
    n = check_csv(data, rest)
    assert n == 64 + 64 + (10 * 30 + 8 * 30 * 64) + (10 * 10 + 8 * 10 * 30) + 10 + 2


@pytest.mark.parametrize(("eta", "level"), [(0.03, "ok"), (0.5, "apart"), (3, "uphill")])
def test_predicted_and_actual_change_of_a_step(page, eta: float, level: str) -> None:  # type: ignore[no-untyped-def]
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
    # slope said it falls, or how many percent of the prediction the two shown numbers differ
    # by, worked out here from them: within 10 % the step agrees with the prediction (η = 0.03
    # falls about 1 % less than predicted), beyond it the line gives the percent (η = 0.5:
    # about 24 % less), never calling that "close".
    text = " ".join(line.inner_text().split())
    verdict = " ".join(line.locator(".verdict").inner_text().split())
    assert verdict in text and line.get_attribute("data-level") == level
    if eta == 3:
        assert predicted < 0 < actual
        assert verdict == "The step went uphill: η is too big."
        return
    assert predicted < actual < 0
    pct = math.floor(100 * (actual - predicted) / abs(predicted) + 0.5)
    by = f"fell {pct} % less than predicted"
    if pct <= 10:
        assert pct > 0 and verdict == f"Agrees with the first-order prediction: {by}.", verdict
    else:
        assert 10 < pct <= 50, pct
        assert verdict == f"{by[0].upper()}{by[1:]} (the cost curves up along the step).", verdict
    assert "close" not in text.lower()
