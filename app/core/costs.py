"""Cost functions and BP1, the output error ``δ^L``.

Every cost is the mean over the batch of a per-example cost ``C_x``. Arrays are batches,
row = example: ``z_L``, ``a_L`` and ``y`` have shape ``(m, n_L)``.

- quadratic ``C_x = ½‖y − a^L‖²``: ``∇_a C = a^L − y``, ``δ^L = (a^L − y) ⊙ σ'(z^L)``
- cross-entropy (sigmoid output) ``C_x = −Σ_j [y_j ln a_j + (1 − y_j) ln(1 − a_j)]``:
  ``δ^L = a^L − y`` (σ' cancels)
- log-likelihood (softmax output) ``C_x = −Σ_j y_j ln a_j``: ``δ^L = a^L − y``
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]


def _softplus(x: Array) -> Array:
    """``ln(1 + e^x)`` without overflow."""
    return np.logaddexp(0.0, x)


def _quadratic(z_L: Array, a_L: Array, y: Array) -> Array:
    d = a_L - y
    out: Array = 0.5 * np.einsum("ij,ij->i", d, d)
    return out


def _cross_entropy(z_L: Array, a_L: Array, y: Array) -> Array:
    # ln a = −softplus(−z), ln(1 − a) = −softplus(z): finite even when a rounds to 0 or 1.
    out: Array = np.sum(y * _softplus(-z_L) + (1.0 - y) * _softplus(z_L), axis=1)
    return out


def _log_likelihood(z_L: Array, a_L: Array, y: Array) -> Array:
    shifted = z_L - z_L.max(axis=1, keepdims=True)
    log_a = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    out: Array = -np.sum(y * log_a, axis=1)
    return out


@dataclass(frozen=True)
class Cost:
    """A cost ``C_x`` (per example, shape ``(m,)``) and the output activations it pairs with."""

    name: str
    per_example: Callable[[Array, Array, Array], Array]
    outputs: tuple[str, ...]
    sigma_prime_cancels: bool

    def grad_a(self, a_L: Array, y: Array) -> Array:
        """``∇_a C_x`` for the quadratic cost; the other costs are given straight as δ^L."""
        return a_L - y

    def delta_L(self, a_L: Array, y: Array, sigma_prime_L: Array) -> Array:
        """BP1: ``δ^L = ∇_a C ⊙ σ'_L(z^L)``, shape ``(m, n_L)``; ``a^L − y`` where σ' cancels."""
        if self.sigma_prime_cancels:
            return a_L - y
        return self.grad_a(a_L, y) * sigma_prime_L


_ELEMENTWISE = ("sigmoid", "tanh", "relu", "leaky_relu", "linear")

COSTS: dict[str, Cost] = {
    "quadratic": Cost("quadratic", _quadratic, _ELEMENTWISE, sigma_prime_cancels=False),
    "cross_entropy": Cost("cross_entropy", _cross_entropy, ("sigmoid",), sigma_prime_cancels=True),
    "log_likelihood": Cost(
        "log_likelihood", _log_likelihood, ("softmax",), sigma_prime_cancels=True
    ),
}


def get_cost(name: str, output_activation: str) -> Cost:
    """The named cost, checked against the output activation it must pair with."""
    try:
        cost = COSTS[name]
    except KeyError:
        raise ValueError(f"unknown cost {name!r}; choose one of {sorted(COSTS)}") from None
    if output_activation not in cost.outputs:
        raise ValueError(
            f"cost {name!r} cannot be paired with a {output_activation!r} output layer; "
            f"it needs one of {list(cost.outputs)}"
        )
    return cost
