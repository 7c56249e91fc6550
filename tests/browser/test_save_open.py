"""Save and Open an experiment from the page (static/js/save_open.js, docs/api.md export and
import).

Save downloads the run's document; Open makes a run of it that goes on from the same weights
(the server's own export of the new run holds the same numbers, bit for bit) and the page
switches to it. A document with a broken field is refused with the server's words for that
field, and the run on screen stays as it was.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import ARTIFACTS, frame_value, open_app

pytestmark = pytest.mark.browser


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


def status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return int(r.status)
    except urllib.error.HTTPError as e:
        return int(e.code)


def train(pg, steps: int) -> int:  # type: ignore[no-untyped-def]
    pg.evaluate(f"window.__bpv.send({{type: 'step', steps: {steps}}})")
    pg.wait_for_function(f"window.__bpv.store.frame.step >= {steps}", timeout=30_000)
    return int(frame_value(pg, "f.step"))


def save(pg, tmp_path: Path) -> tuple[str, dict[str, Any]]:  # type: ignore[no-untyped-def]
    with pg.expect_download() as info:
        pg.click("#save-run")
    d = info.value
    path = tmp_path / d.suggested_filename
    d.save_as(path)
    return d.suggested_filename, json.loads(path.read_text())


def test_save_then_open_goes_on_from_the_same_weights(page, tmp_path) -> None:  # type: ignore[no-untyped-def]
    open_app(page, "hidden=4,3&momentum=0.9&learning_rate=0.1&dataset=xor")
    step = train(page, 150)
    old = frame_value(page, "f.run_id")
    name, doc = save(page, tmp_path)
    assert name == f"run-{step}.json"
    assert page.locator("#stepno").inner_text() == f"{step:,}"
    assert doc["step"] == step
    # The file is the server's document of this run.
    assert doc == get_json(f"{page.base}/api/runs/{old}/export")
    old_frame = get_json(f"{page.base}/api/runs/{old}/frame?grid=false")

    page.set_input_files("#open-run input[type=file]", str(tmp_path / name))
    page.wait_for_function(
        f"window.__bpv.store.run.id !== '{old}'"
        " && window.__bpv.store.frame.run_id === window.__bpv.store.run.id",
        timeout=20_000,
    )
    new = frame_value(page, "f.run_id")
    again = get_json(f"{page.base}/api/runs/{new}/export")
    # The same weights, velocity, batch order and generator: bit for bit (JSON floats written
    # in full read back as the same float64s).
    for key in ("parameters", "velocity", "batches", "step", "epoch", "settings"):
        assert again[key] == doc[key], key
    info = get_json(f"{page.base}/api/runs/{new}")
    assert info["step"] == step and info["sizes"] == [2, 4, 3, 1]
    # The page shows the opened run: its step, its weights, its settings in the link.
    assert page.locator("#stepno").inner_text() == f"{step:,}"
    assert frame_value(page, "f.layers.map(l => l.w)") == [
        layer["w"] for layer in old_frame["layers"]
    ]
    link = page.evaluate("location.hash")
    assert "dataset=xor" in link and "momentum=0.9" in link and "hidden=4,3" in link
    assert "Opened" in page.locator("#banner [data-banner=open]").inner_text()
    # The previous run is closed: nothing on the page shows it any more.
    assert status_of(f"{page.base}/api/runs/{old}") == 404
    # And it trains on.
    page.click("#play")
    page.wait_for_function(f"window.__bpv.store.frame.step > {step + 20}", timeout=20_000)
    page.click("#play")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "opened-run-1280x720.png"))


def test_a_broken_document_is_refused_and_the_run_stays(page, page_probe, tmp_path) -> None:  # type: ignore[no-untyped-def]
    page_probe.allow("422")  # Chromium logs the refused POST
    open_app(page, "hidden=3")
    step = train(page, 40)
    run = frame_value(page, "f.run_id")
    _, doc = save(page, tmp_path)
    before = get_json(f"{page.base}/api/runs/{run}/export")

    broken = json.loads(json.dumps(doc))
    broken["parameters"]["weights"][1] = [[0.5, -0.5]]  # w³ of a 2-3-1 network is 1 × 3
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(broken))
    page.set_input_files("#open-run input[type=file]", str(path))
    msg = page.locator("#banner [data-banner=open]")
    msg.wait_for(timeout=10_000)
    text = msg.inner_text()
    # Which field, why, and that nothing changed.
    assert "broken.json" in text
    assert "parameters › weights › 1" in text
    assert "w^3 must be 1 × 3" in text
    assert "Nothing was changed" in text
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "open-refused-1280x720.png"))
    assert frame_value(page, "f.run_id") == run
    assert page.evaluate("window.__bpv.store.run.id") == run
    assert page.locator("#stepno").inner_text() == f"{step:,}"
    assert get_json(f"{page.base}/api/runs/{run}/export") == before

    # A newer format, and a file that is not JSON at all: refused the same way.
    newer = json.loads(json.dumps(doc))
    newer["format_version"] = 99
    path.write_text(json.dumps(newer))
    page.set_input_files("#open-run input[type=file]", str(path))
    banner = "document.querySelector('#banner [data-banner=open]').textContent"
    page.wait_for_function(f"{banner}.includes('format_version')", timeout=10_000)
    path.write_text("{not json")
    page.set_input_files("#open-run input[type=file]", str(path))
    page.wait_for_function(f"{banner}.includes('not JSON')", timeout=10_000)
    assert page.evaluate("window.__bpv.store.run.id") == run
    # The run still trains.
    page.click("#step")
    page.wait_for_function(f"window.__bpv.store.frame.step === {step + 1}", timeout=10_000)
