"""The data controls follow the data: a CSV's name goes with it; controls that cannot apply
to a CSV (noise; features from 2 columns when it has d ≠ 2) are disabled and say why."""

from __future__ import annotations

import pytest

from tests.browser.conftest import open_app
from tests.browser.test_truth import three_input_csv, upload_csv

pytestmark = pytest.mark.browser


def test_three_column_csv_then_circle(page) -> None:
    open_app(page)
    feats = page.locator("#features input")
    assert feats.count() > 2 and all(feats.nth(i).is_enabled() for i in range(feats.count()))
    upload_csv(page, "three.csv", three_input_csv())
    page.wait_for_function("window.__bpv.store.frame.sizes[0] === 3", timeout=10_000)
    assert page.locator("#csv-name").inner_text() == "three.csv"
    assert not any(feats.nth(i).is_enabled() for i in range(feats.count()))
    note = page.locator("#features-note")
    assert note.is_visible() and "this CSV has 3" in note.inner_text()
    assert page.locator("#noise").is_disabled()
    assert "CSV" in (page.locator("label[data-control=noise]").get_attribute("title") or "")

    page.click(".ds[data-dataset=circle]")
    page.wait_for_function(
        "(s => s.frame.sizes[0] === 2 && s.data.train.points[0].length === 2)(window.__bpv.store)",
        timeout=10_000,
    )
    assert page.locator("#csv-name").inner_text() == ""
    assert all(feats.nth(i).is_enabled() for i in range(feats.count()))
    assert not note.is_visible()
    assert page.locator("#noise").is_enabled()
