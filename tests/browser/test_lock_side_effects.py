"""A teacher's lock= holds against the unlocked controls that change settings as a side effect.

Picking a data set applies its own settings (the digits' 64-30-10 network) but keeps every
locked one; a data set that cannot work with a locked value is refused in the banner and
nothing changes. Problem type, which only picks another data set, is locked with the data set.
Step through's "Train this batch" is the step button: locked with it.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest

from tests.browser.conftest import ARTIFACTS, frame_value, open_app

pytestmark = pytest.mark.browser

REVIEWER = (
    "dataset=blobs3&learning_rate=0.03&output_activation=sigmoid&cost=quadratic"
    "&lock=learning_rate,hidden_activation,layers,init,output_activation,cost"
)


def run_info(page) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    run = page.evaluate("window.__bpv.store.run.id")
    with urllib.request.urlopen(f"{page.base}/api/runs/{run}", timeout=10) as r:
        return json.loads(r.read())  # type: ignore[no-any-return]


def wait_frame(page, cond: str) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_function(
        f"(() => {{ const f = window.__bpv.store.frame; return f && ({cond}); }})()",
        timeout=20_000,
    )


def test_digits_keep_the_locked_settings(page) -> None:  # type: ignore[no-untyped-def]
    open_app(page, REVIEWER)
    assert frame_value(page, "f.sizes") == [2, 4, 2, 3]
    page.click(".ds[data-dataset=digits]")
    wait_frame(page, "f.sizes[0] === 64")
    # The page: every locked select still shows the link's value, and stays locked.
    for sel, value in [
        ("#learning_rate", "0.03"), ("#hidden_activation", "tanh"), ("#init", "playground"),
        ("#output_activation", "sigmoid"), ("#cost", "quadratic"),
    ]:  # fmt: skip
        assert page.locator(sel).input_value() == value, sel
        assert page.locator(sel).is_disabled(), sel
    assert page.locator("#n-hidden").inner_text() == "2"
    # The frame the page drew: the network and its hyper-parameters.
    assert frame_value(page, "f.sizes") == [64, 4, 2, 10]
    assert frame_value(page, "f.activations") == ["tanh", "tanh", "sigmoid"]
    assert frame_value(page, "f.cost_name") == "quadratic"
    assert frame_value(page, "f.hyper.learning_rate") == 0.03
    # The server's run: the digits, with the teacher's locked settings.
    info = run_info(page)
    c = info["config"]
    assert c["dataset"] == "digits" and info["sizes"] == [64, 4, 2, 10]
    assert c["learning_rate"] == 0.03 and c["hidden"] == [4, 2]
    assert c["hidden_activation"] == "tanh" and c["init"] == "playground"
    assert c["output_activation"] == "sigmoid" and c["cost"] == "quadratic"
    # The rest of the digits' settings came with them (unlocked).
    assert c["train_share"] == 0.8 and c["noise"] == 0.0
    assert not page.locator("#banner [data-banner=locked]").count()


def test_digits_refused_when_a_lock_cannot_hold(page) -> None:  # type: ignore[no-untyped-def]
    """Locked input features cannot be the digits' 64 pixels: the pick is refused."""
    open_app(page, "dataset=blobs3&learning_rate=0.1&lock=features,learning_rate")
    page.click(".ds[data-dataset=digits]")
    msg = page.locator("#banner [data-banner=locked]")
    msg.wait_for(timeout=10_000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "lock-digits-refused-1280x720.png"))
    text = msg.inner_text()
    assert "was not picked" in text and "64 pixels" in text and "lock=features" in text
    assert "Nothing was changed" in text
    page.wait_for_timeout(500)  # a set would have been answered by now
    assert frame_value(page, "f.sizes") == [2, 4, 2, 3]
    assert page.locator(".ds.selected").get_attribute("data-dataset") == "blobs3"
    c = run_info(page)["config"]
    assert c["dataset"] == "blobs3" and c["learning_rate"] == 0.1 and c["hidden"] == [4, 2]


def test_problem_type_is_locked_with_the_data_set(page) -> None:  # type: ignore[no-untyped-def]
    open_app(page, "dataset=circle&lock=dataset")
    problem = page.locator("#problem")
    assert problem.is_disabled()
    title = problem.get_attribute("title") or ""
    assert title.startswith("Locked by this page's link (lock=dataset)")
    assert "data set" in title[len("Locked by this page's link (lock=dataset)") :]
    assert problem.get_attribute("aria-description") == title
    # Even a change that reaches it (a script, an old page) changes nothing.
    page.evaluate(
        "(() => { const s = document.querySelector('#problem'); s.value = 'regression';"
        " s.dispatchEvent(new Event('change')); })()"
    )
    page.locator("#banner [data-banner=locked]").wait_for(timeout=10_000)
    page.wait_for_timeout(500)
    assert problem.input_value() == "classification"
    assert frame_value(page, "f.kind") == "classification"
    assert run_info(page)["config"]["dataset"] == "circle"


def test_problem_type_keeps_a_locked_output_and_cost(page) -> None:  # type: ignore[no-untyped-def]
    open_app(
        page, "dataset=circle&output_activation=sigmoid&cost=quadratic&lock=output_activation,cost"
    )
    page.select_option("#problem", "regression")
    wait_frame(page, "f.kind === 'regression'")
    assert page.locator("#output_activation").input_value() == "sigmoid"
    assert page.locator("#cost").input_value() == "quadratic"
    assert frame_value(page, "f.activations.at(-1)") == "sigmoid"
    assert frame_value(page, "f.cost_name") == "quadratic"
    c = run_info(page)["config"]
    assert c["dataset"] == "plane"
    assert c["output_activation"] == "sigmoid" and c["cost"] == "quadratic"


def test_step_through_train_button_respects_lock_step(page) -> None:  # type: ignore[no-untyped-def]
    open_app(page, "lock=play,step,reset")
    assert page.locator("#step").is_disabled()
    page.click("#stepthrough-btn")
    nxt = page.locator("[data-st=next]")
    for _ in range(20):
        if nxt.inner_text().startswith("Train"):
            break
        nxt.click()
    assert nxt.inner_text().startswith("Train this batch")
    assert nxt.is_disabled()
    assert nxt.get_attribute("title") == "Locked by this page's link (lock=step)"
    # A click that reaches it anyway trains nothing.
    page.evaluate("document.querySelector('[data-st=next]').disabled = false")
    nxt.click()
    page.wait_for_timeout(800)
    assert frame_value(page, "f.step") == 0
    assert page.locator("#stepno").inner_text() == "0"
    assert run_info(page)["step"] == 0


def test_own_csv_data_keeps_the_locked_output_and_cost(page) -> None:  # type: ignore[no-untyped-def]
    """Opening a CSV sets output and cost to auto (its labels decide the kind of problem),
    unless the link locks them: then they stay; and a locked hidden layer wider than CSV
    data allows refuses the file."""
    from tests.browser.test_truth import three_input_csv, upload_csv

    open_app(
        page, "dataset=circle&output_activation=sigmoid&cost=quadratic&lock=output_activation,cost"
    )
    upload_csv(page, "three.csv", three_input_csv())
    wait_frame(page, "f.sizes[0] === 3")
    c = run_info(page)["config"]
    assert c["dataset"] == "csv"
    assert (c["output_activation"], c["cost"]) == ("sigmoid", "quadratic"), c
    assert frame_value(page, "[f.activations.at(-1), f.cost_name]") == ["sigmoid", "quadratic"]
    for sel, value in [("#output_activation", "sigmoid"), ("#cost", "quadratic")]:
        assert page.locator(sel).input_value() == value and page.locator(sel).is_disabled(), sel
    # unlocked, the same file puts them on auto
    open_app(page, "dataset=circle&output_activation=sigmoid&cost=quadratic")
    upload_csv(page, "three.csv", three_input_csv())
    wait_frame(page, "f.sizes[0] === 3")
    c = run_info(page)["config"]
    assert (c["output_activation"], c["cost"]) == (None, None), c
    # the digits' 30 hidden neurons, locked: wider than CSV data allows, so the file is refused
    open_app(page, "dataset=digits&hidden=30&lock=layers")
    wait_frame(page, "f.sizes[0] === 64")
    upload_csv(page, "three.csv", three_input_csv())
    page.wait_for_function(
        "document.body.textContent.includes('three.csv was not opened')", timeout=10_000
    )
    assert "lock=layers" in page.locator(".banner").first.inner_text()
    page.wait_for_timeout(500)
    assert run_info(page)["config"]["dataset"] == "digits"
    assert frame_value(page, "f.sizes") == [64, 30, 10]
