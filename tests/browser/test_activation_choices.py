"""The activations as a learner meets them: named as people name them, swish and GELU among
them, and GELU's σ′ in the explain panel the derivative of GELU at the z it shows."""

from __future__ import annotations

import math
import re

import pytest

from tests.browser.conftest import num, open_app
from tests.browser.test_explain import arith, click_neuron
from tests.browser.test_numbers import check_equation

pytestmark = pytest.mark.browser

# The names people use (Playground's and the papers'), not the wire's snake_case.
HIDDEN_LABELS = ["tanh", "sigmoid", "ReLU", "leaky ReLU", "swish", "GELU", "linear"]


def gelu_prime(z: float) -> float:
    """Φ(z) + z·φ(z), Φ through erfc (the app uses erf)."""
    return 0.5 * math.erfc(-z / math.sqrt(2.0)) + z * math.exp(-0.5 * z * z) / math.sqrt(
        2.0 * math.pi
    )


def test_the_activation_menu_names_every_choice_and_gelu_explains_itself(page) -> None:
    open_app(page, "hidden_activation=gelu&hidden=3&dataset=xor")
    menu = page.locator("#hidden_activation option")
    assert menu.all_text_contents() == HIDDEN_LABELS
    selected = page.eval_on_selector("#hidden_activation", "s => s.selectedOptions[0].text")
    assert selected == "GELU"
    click_neuron(page, 2, 1)
    page.wait_for_selector(".explain-title:has-text('(GELU)')")
    page.wait_for_selector("#explain .arith[data-eq='bp2-delta']")
    text = arith(page, "bp2-delta")  # σ′ · Σ = δ, as written
    ok, why = check_equation(text)
    assert ok, why
    sigma_prime = num(re.split("[·=≈]", text)[0].strip("()"))
    # the σ′ row writes z^l_k = …: GELU′ of that z, to the digits shown
    row = page.locator("#explain tr", has_text="σ′").first.inner_text()
    z = num(row.rsplit("=", 1)[-1].split()[0])
    assert sigma_prime == pytest.approx(gelu_prime(z), rel=2e-3, abs=2e-3)
