"""Every setting lives in the URL hash and round-trips; user text from it stays inert."""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest

from tests.browser.conftest import open_app

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
