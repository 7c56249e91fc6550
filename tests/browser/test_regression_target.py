"""Regression BP1: the target y is a float like any other, written with the digits its
equation needs (not all 16-17 of a float64), and every "=" still holds to the digits shown."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import frame_value, open_app
from tests.browser.test_explain import click_neuron
from tests.browser.test_numbers import check_equation, shown

pytestmark = pytest.mark.browser


def significant(text: str) -> int:
    mant = text.replace("−", "-").split("e")[0].lstrip("-")
    return len(re.sub(r"^[0.]*", "", mant).replace(".", ""))


def test_regression_target_has_the_digits_its_equation_needs(page) -> None:  # type: ignore[no-untyped-def]
    open_app(page, "dataset=plane&hidden=3")
    page.click("#step")
    page.wait_for_function("window.__bpv.store.frame.step >= 1", timeout=20_000)
    L = len(frame_value(page, "f.sizes"))
    click_neuron(page, L, 0)
    page.wait_for_selector("#explain .arith[data-eq^='bp1']", timeout=20_000)
    checked = 0
    for el in page.locator("#explain .arith[data-eq^='bp1']").element_handles():
        text = el.text_content() or ""
        ok, why = check_equation(text)
        assert ok, why
        checked += 1
    assert checked >= 1
    y_cells = page.locator("#explain .arith[data-eq^='bp1'] [data-term='y']")
    assert y_cells.count() >= 1
    y_text = y_cells.first.text_content() or ""
    y_true = float(y_cells.first.get_attribute("data-v") or "nan")
    assert not float(y_true).is_integer()  # a regression target, not a class label
    value, half = shown(y_text)
    assert half is not None and abs(float(value) - y_true) <= float(half), (y_text, y_true)
    # an equation between 4-digit numbers needs a few digits of y, never a float64's 16-17
    assert significant(y_text) <= 10, y_text
