"""Every setting lives in the URL hash and round-trips; user text from it stays inert."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest

from tests.browser.conftest import ARTIFACTS, open_app

pytestmark = pytest.mark.browser

SETTINGS = {
    "dataset": "xor",
    "noise": "0.2",
    "train_share": "0.7",
    "seed": "42",
    "features": "x1,x2,x1x2",
    "hidden": "3,5",
    "hidden_activation": "relu",
    "init": "xavier",
    "learning_rate": "0.1",
    "batch_size": "20",
    "regulariser": "l2",
    "lambda": "0.003",
    "speed": "5",
    "color": "gradient",
    "over": "mean",
    "fill": "a",
    "test": "true",
    "discretize": "true",
}


def hash_dict(pg) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return dict(parse_qsl(pg.evaluate("location.hash.slice(1)"), keep_blank_values=True))


def test_url_hash_round_trips_every_setting(page) -> None:
    open_app(page, "&".join(f"{k}={v}" for k, v in SETTINGS.items()))
    h = hash_dict(page)
    for k, v in SETTINGS.items():
        assert h[k] == v, k
    config = page.evaluate("window.__bpv.store.run.config")
    assert config["dataset"] == "xor" and config["hidden"] == [3, 5] and config["seed"] == 42
    assert config["features"] == ["x1", "x2", "x1x2"] and config["regulariser"] == "l2"
    assert page.evaluate("window.__bpv.store.frame.sizes") == [3, 3, 5, 1]
    # The controls show it.
    assert page.locator("#learning_rate").input_value() == "0.1"
    assert page.locator("#hidden_activation").input_value() == "relu"
    assert page.locator("#color").input_value() == "gradient"
    assert page.locator("#test").is_checked() and page.locator("#discretize").is_checked()
    assert page.locator("#noise-out").inner_text() == "20 %"
    # A change made on the page lands in the hash, and a fresh tab opening that link agrees.
    page.select_option("#learning_rate", "0.3")
    page.wait_for_function("window.__bpv.store.frame.hyper.learning_rate === 0.3", timeout=10_000)
    link = page.evaluate("location.hash.slice(1)")
    assert hash_dict(page)["learning_rate"] == "0.3"
    other = page.context.new_page()
    other.base = page.base
    open_app(other, link)
    assert hash_dict(other) == hash_dict(page)
    assert other.evaluate("window.__bpv.store.run.id") != page.evaluate("window.__bpv.store.run.id")
    assert other.evaluate("window.__bpv.store.run.config.learning_rate") == 0.3
    other.close()


def test_hide_and_lock_flags(page) -> None:
    open_app(page, "hide=lr,dataset,noise&lock=activation")
    assert page.locator("[data-control=learning_rate]").is_hidden()
    assert page.locator("[data-control=dataset]").is_hidden()
    assert page.locator("[data-control=noise]").is_hidden()
    assert page.locator("#hidden_activation").is_disabled()
    assert page.locator("#regulariser").is_enabled()
    # Short names are kept in the hash under their setting's name.
    assert hash_dict(page)["hide"] == "learning_rate,dataset,noise"
    assert hash_dict(page)["lock"] == "hidden_activation"


def test_user_text_in_the_hash_cannot_inject_markup(page, page_probe) -> None:
    evil = '<img src=x onerror="alert(1)">'
    script = "<script>alert(2)</script>"
    open_app(page, f"dataset={evil}&hidden_activation={script}&{evil}=1&hide={evil}")
    page.wait_for_timeout(500)
    assert page_probe.dialogs == []
    assert page.locator("img[src=x]").count() == 0
    assert page.evaluate("document.querySelectorAll('[onerror]').length") == 0
    scripts = "[...document.scripts].filter(s => s.textContent.includes('alert')).length"
    assert page.evaluate(scripts) == 0
    # The refused text is shown, literally, as text.
    banner = page.locator("#banner [data-banner=hash]")
    assert evil in banner.inner_text()
    # The run uses the defaults instead.
    assert page.evaluate("window.__bpv.store.run.config.dataset") == "circle"


# The same table of links as the server's parser tests (tests/api/test_presets.py).
CASES = json.loads((Path(__file__).resolve().parents[1] / "hash_cases.json").read_text())["cases"]
BROWSER_CASES = [c for c in CASES if c.get("browser")]


@pytest.mark.parametrize("case", BROWSER_CASES, ids=[c["name"] for c in BROWSER_CASES])
def test_the_page_opens_the_shared_link_cases(page, case: dict[str, Any]) -> None:
    open_app(page, case["hash"].removeprefix("#"))
    config = page.evaluate("window.__bpv.store.run.config")
    settings = page.evaluate("window.__bpv.store.settings")
    for key, value in case["config"].items():
        assert config[key] == value, key  # the run the server made
        assert settings[key] == value, key  # and what the page's controls hold
    for key, value in case["view"].items():
        assert settings[key] == value, key
    banner = page.locator("#banner [data-banner=hash]")
    if case["ignored"]:
        text = banner.inner_text()
        assert all(f"{k}=" in text for k in case["ignored"]), text
    else:
        assert banner.count() == 0
    # The page's own link reads back to the same run settings.
    link = page.evaluate("location.hash.slice(1)")
    back = page.request.get(f"{page.base}/api/preset", params={"hash": link}).json()["hash"]
    assert back["ignored"] == []
    assert all(back["config"][k] == v for k, v in case["config"].items())


def test_lambda_convention_is_said_and_playground_rates_are_converted(page) -> None:
    # Playground's rate 0.01 on the circle (250 training examples) is Nielsen's λ = 2.5.
    open_app(page, "regularization=L2&regularizationRate=0.01")
    assert page.evaluate("window.__bpv.store.run.config.lambda") == 2.5
    assert page.locator("#lambda").input_value() == "2.5"
    note = page.locator("#lambda-note").inner_text()
    assert "Nielsen" in note and "(λ/2n)" in note and "n = 250" in note
    assert "0.01" in note  # the same experiment's Playground rate, λ/n
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "lambda-note-1280x720.png"))
