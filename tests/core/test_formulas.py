"""Every registry entry carries the formula the page writes for it, and the formula is what
its function computes: a cost's ∂C_x/∂a_j, a regulariser's r'(w), an activation's σ' as a
function of a. The tokens are read here as arithmetic, apart from app/core, and compared
with the registry's own function on sample values."""

from __future__ import annotations

import numpy as np
import pytest

from app.core.activations import ACTIVATIONS
from app.core.costs import COSTS
from app.core.regularisers import REGULARISERS

TOKENS = {"a", "y", "w", "1", "+", "−", "·", "/", "(", ")", "sgn"}
A = np.array([[0.12, 0.5, 0.93], [0.7, 0.31, 0.055]])
Y = np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 0.25]])
W = np.array([[-1.5, 0.0, 0.25], [2.0, -0.003, 7.0]])


def evaluate(tokens: tuple[str, ...], **values: np.ndarray) -> np.ndarray:
    """A formula's value, elementwise: its tokens read as Python arithmetic."""
    assert tokens and set(tokens) <= TOKENS, tokens
    py = {"−": "-", "·": "*"}
    text = " ".join(py.get(t, t) for t in tokens)
    return np.asarray(eval(text, {"__builtins__": {}}, {"sgn": np.sign, **values}), float)


@pytest.mark.parametrize("name", list(COSTS))
def test_every_cost_carries_its_gradient_in_a_as_a_formula(name: str) -> None:
    cost = COSTS[name]
    got = evaluate(cost.grad_formula, a=A, y=Y)
    np.testing.assert_allclose(got, cost.grad(A, Y), rtol=1e-12)


@pytest.mark.parametrize("name", list(REGULARISERS))
def test_every_regulariser_carries_its_gradient_as_a_formula(name: str) -> None:
    reg = REGULARISERS[name]
    if not reg.active:  # no penalty: nothing to write
        assert reg.grad_formula is None
        return
    assert reg.grad_formula is not None
    np.testing.assert_allclose(evaluate(reg.grad_formula, w=W), reg.grad(W), rtol=1e-12)


@pytest.mark.parametrize("name", [n for n, a in ACTIVATIONS.items() if a.prime_from_a])
def test_an_activations_sigma_prime_from_a_is_its_derivative(name: str) -> None:
    act = ACTIVATIONS[name]
    z = np.linspace(-3.0, 3.0, 13)
    a = act.fn(z)
    assert act.prime_from_a is not None
    np.testing.assert_allclose(evaluate(act.prime_from_a, a=a), act.prime(z, a), rtol=1e-12)


def test_a_formula_that_is_not_the_function_fails_the_check() -> None:
    """The check can fail: the quadratic's formula is not cross-entropy's gradient."""
    got = evaluate(COSTS["quadratic"].grad_formula, a=A, y=Y)
    assert not np.allclose(got, COSTS["cross_entropy"].grad(A, Y), rtol=1e-12)
