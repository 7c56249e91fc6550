"""Every σ′ row of the BP2 panel says "σ′(z) = value", whatever the activation, and that value
is the σ′ the δ line below multiplies by (read back from the page's text)."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import num, open_app
from tests.browser.test_explain import arith, click_neuron

pytestmark = pytest.mark.browser


# make test: σ' from a (tanh), piecewise (relu) and from z alone (gelu); make test-slow adds
# swish (also from z) and linear (σ' = 1).
@pytest.mark.parametrize(
    "act",
    [
        pytest.param("swish", marks=pytest.mark.slow),
        "gelu",
        pytest.param("linear", marks=pytest.mark.slow),
        "relu",
        "tanh",
    ],
)
def test_sigma_prime_row_states_its_value(page, act: str) -> None:  # type: ignore[no-untyped-def]
    open_app(page, f"hidden_activation={act}&hidden=3&dataset=xor")
    page.click("#step")
    page.wait_for_function("window.__bpv.store.frame.step >= 1", timeout=20_000)
    click_neuron(page, 2, 1)
    page.wait_for_selector("#explain .arith[data-eq='bp2-delta']", timeout=20_000)
    row = page.locator("#explain tr[data-sigma-prime-row] td").nth(1).text_content() or ""
    flat = re.sub(r"\s+", "", row)
    # "σ′(z²₂) = value" is written in the row itself, not only in the line below (tanh: the
    # value ends its formula on a; others: "σ′(z) = value at z = …" or "z > 0, so σ′(z) = 1")
    m = re.search(r"σ′\(z\d+\)=([−\-]?[\d.]+(?:e[−\-]?\d+)?)(at|$)", flat) or re.search(
        r"σ′\(z\d+\)=.*=([−\-]?[\d.]+(?:e[−\-]?\d+)?)$", flat
    )
    assert m, row
    value = num(m.group(1))
    delta_line = re.sub(r"\s+", "", arith(page, "bp2-delta"))
    sigma_prime_in_delta = num(re.split("[·=≈]", delta_line)[0].strip("()"))
    assert value == sigma_prime_in_delta, (row, delta_line)
    if act == "relu":
        assert re.search(r"z\d+(>|≤)0,soσ′\(z\d+\)=[01]$", flat), row
