"""The network's colour bars after switching data sets: the run is rebuilt at step 0, and the
edge and neuron ranges must be those of a fresh load of the new data set. Switching circle →
regression (plane) at step 0 kept circle's ±0.3 / ±1 over plane's ±0.015 / ±0.07 values, and
drew the network almost white for steps (the scales settled only when the step went down)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import ARTIFACTS, DELETE_RUN, close_page, open_app, rebuilt_with

pytestmark = pytest.mark.browser

# What a reader sees of each colour bar: its title and the tick labels it shows.
BARS = """() => [...document.querySelectorAll('#net .colorbar')].filter(b => !b.hidden).map(b => ({
  name: b.dataset.colorbar, title: b.querySelector('.cb-title').textContent,
  ticks: [...b.querySelectorAll('.cb-ticks span')].map(s => s.textContent),
}))"""


def bars_at_rest(pg: Any) -> Any:
    pg.wait_for_timeout(300)  # the bars are written with the frame's redraw
    return pg.evaluate(BARS)


def test_switching_data_sets_rescales_the_network(page) -> None:  # type: ignore[no-untyped-def]
    open_app(page, "dataset=circle")
    circle = bars_at_rest(page)
    page.select_option("#problem", "regression")
    page.wait_for_function(
        "(() => { const f = window.__bpv.store.frame, d = window.__bpv.store.data;"
        " return f.kind === 'regression' && f.step === 0 && d.kind === 'regression'"
        " && window.__bpv.store.settings.dataset === 'plane'; })()",
        timeout=30_000,
    )
    switched = bars_at_rest(page)
    page.screenshot(path=str(ARTIFACTS / "scale-after-switch-circle-plane.png"))
    other = page.context.new_page()  # a fresh load in its own tab (its own run)
    other.base = page.base
    try:
        open_app(other, "dataset=plane")
        fresh = bars_at_rest(other)
        other.evaluate(DELETE_RUN)
    finally:
        close_page(other)
    assert [b["ticks"] for b in fresh] != [b["ticks"] for b in circle], (
        "circle and plane need other ranges (else this test shows nothing)",
        circle,
        fresh,
    )
    assert switched == fresh, f"after the switch {switched}; a fresh load of plane {fresh}"


DIGIT_BARS = """() => [...document.querySelectorAll('#digits [data-colorbar]')].map(b => ({
  name: b.dataset.colorbar, range: b.dataset.range,
  ticks: [...b.querySelectorAll('.cb-ticks span')].map(s => s.textContent),
}))"""


def test_the_digits_views_rescale_when_the_run_is_rebuilt(page) -> None:  # type: ignore[no-untyped-def]
    """The digits' weight images and pixel map have colour scales of their own: a rebuild at
    step 0 (here Xavier's ±0.25 weights after Playground's ±0.5) starts them again."""
    digits = "dataset=digits&hidden=30&output_activation=sigmoid&cost=quadratic"
    open_app(page, f"{digits}&init=playground")
    page.wait_for_function("!document.querySelector('#digits').hidden", timeout=30_000)
    before = (page.wait_for_timeout(300), page.evaluate(DIGIT_BARS))[1]
    rebuilt_with(page, {"init": "xavier"})
    page.wait_for_timeout(500)
    switched = page.evaluate(DIGIT_BARS)
    other = page.context.new_page()
    other.base = page.base
    try:
        open_app(other, f"{digits}&init=xavier")
        other.wait_for_function("!document.querySelector('#digits').hidden", timeout=30_000)
        other.wait_for_timeout(300)
        fresh = other.evaluate(DIGIT_BARS)
        other.evaluate(DELETE_RUN)
    finally:
        close_page(other)
    w = {b["name"]: b for b in before}["w2"]
    assert w != {b["name"]: b for b in fresh}["w2"], (before, fresh)  # else this shows nothing
    assert switched == fresh, f"after the rebuild {switched}; a fresh load {fresh}"
