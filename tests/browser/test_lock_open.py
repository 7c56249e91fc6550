"""A teacher's lock= holds against Open…, and a locked control says why it is disabled.

With ``lock=`` in the link, Open… refuses a saved run whose locked (or hidden) settings are
not the page's, says so in the banner and keeps the run; a document that matches opens.
``lock=open`` disables Open… itself (Save still works). Every locked control's title and
aria-description name the link's lock.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import ARTIFACTS, frame_value, open_app

pytestmark = pytest.mark.browser

LINK = "dataset=xor&hidden=4,4&learning_rate=0.1&hide=dataset,features&lock=layers,learning_rate"


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


def saved_run(base: str, tmp_path: Path, name: str, **config: Any) -> Path:
    """A document as Save writes it, of a new run with these settings (the server's export)."""
    req = urllib.request.Request(
        f"{base}/api/runs",
        data=json.dumps(config).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        run = json.loads(r.read())
    path = tmp_path / name
    path.write_text(json.dumps(get_json(f"{base}/api/runs/{run['id']}/export")))
    return path


def test_open_cannot_undo_the_links_locks(page, tmp_path) -> None:  # type: ignore[no-untyped-def]
    open_app(page, LINK)
    run = page.evaluate("window.__bpv.store.run.id")
    other = saved_run(
        page.base, tmp_path, "other.json", dataset="spiral", hidden=[8, 8, 8], learning_rate=0.03
    )
    page.set_input_files("#open-run input[type=file]", str(other))
    msg = page.locator("#banner [data-banner=open]")
    msg.wait_for(timeout=10_000)
    text = msg.inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "open-locked-refused-1280x720.png"))
    assert "other.json was not opened" in text
    assert "lock=layers,learning_rate" in text and "hide=dataset,features" in text
    assert "hidden layers [8, 8, 8] (here [4, 4])" in text
    assert "learning rate η 0.03 (here 0.1)" in text
    assert "data set spiral (here xor)" in text
    assert "Nothing was changed" in text
    # The page and the server still have the teacher's network.
    assert page.evaluate("window.__bpv.store.run.id") == run
    assert frame_value(page, "f.run_id") == run
    assert page.locator("#n-hidden").inner_text() == "2"
    assert page.locator("#learning_rate").input_value() == "0.1"
    assert frame_value(page, "f.layers.map(l => l.w.length)") == [4, 4, 1]
    info = get_json(f"{page.base}/api/runs/{run}")
    assert info["sizes"] == [2, 4, 4, 1]
    assert info["config"]["learning_rate"] == 0.1 and info["config"]["dataset"] == "xor"

    # A run saved with the same locked and hidden settings opens (its momentum is its own).
    same = saved_run(
        page.base, tmp_path, "same.json", dataset="xor", hidden=[4, 4], learning_rate=0.1,
        momentum=0.9,
    )  # fmt: skip
    page.set_input_files("#open-run input[type=file]", str(same))
    page.wait_for_function(
        f"window.__bpv.store.run.id !== '{run}'"
        " && window.__bpv.store.frame.run_id === window.__bpv.store.run.id",
        timeout=20_000,
    )
    assert "Opened same.json" in msg.inner_text()
    assert page.locator("#momentum").input_value() == "0.9"
    assert page.locator("#learning_rate").input_value() == "0.1"
    # The locks still hold on the opened run.
    assert page.locator("#layer-add").is_disabled()
    assert page.locator("#learning_rate").is_disabled()


def test_lock_open_disables_open_but_not_save(page) -> None:  # type: ignore[no-untyped-def]
    open_app(page, "lock=open")
    assert page.locator("#open-run input[type=file]").is_disabled()
    assert page.locator("#open-run").get_attribute("title") == (
        "Locked by this page's link (lock=open)"
    )
    assert page.locator("#save-run").is_enabled()


def test_every_locked_control_says_it_is_locked(page) -> None:  # type: ignore[no-untyped-def]
    open_app(page, LINK + ",noise,regenerate")
    for sel, name in [
        ("#layer-add", "layers"), ("#layer-remove", "layers"),
        ("#learning_rate", "learning_rate"), ("#noise", "noise"),
        ("label[data-control=noise]", "noise"), ("#regenerate", "regenerate"),
    ]:  # fmt: skip
        note = f"Locked by this page's link (lock={name})"
        el = page.locator(sel)
        assert el.get_attribute("title") == note, sel
        assert el.get_attribute("aria-description") == note, sel
    # An unlocked control keeps its own title.
    assert page.locator("#reset").get_attribute("title").startswith("Reset the network")

    # lock=all: every control there is disabled and says so, after a few frames too.
    page.goto(f"{page.base}/#lock=all")
    page.wait_for_function("window.__bpv && window.__bpv.stats.applied >= 1", timeout=60_000)
    untold = page.evaluate(
        """() => [...document.querySelectorAll('[data-control]')].flatMap((el) =>
          [el, ...el.querySelectorAll('button, select, input')]
            .filter((x) => x.title !== "Locked by this page's link (lock=all)"
              || x.getAttribute('aria-description') !== x.title)
            .map((x) => x.id || x.outerHTML.slice(0, 60)))"""
    )
    assert untold == []
