"""The cost registry, and BP1, the output error ``δ^L``.

Every cost is the mean over the batch of a per-example cost ``C_x``. Arrays are batches,
row = example: ``z_L``, ``a_L`` and ``y`` have shape ``(m, n_L)``. Each :class:`Cost` knows
``C_x``, its gradient ``∇_a C_x``, the output activations it pairs with and the one (if any)
on which σ' cancels in BP1, leaving ``δ^L = a^L − y``:

- quadratic ``C_x = ½‖y − a^L‖²``: ``∇_a C = a^L − y``, ``δ^L = (a^L − y) ⊙ σ'(z^L)``; any
  elementwise output
- cross-entropy ``C_x = −Σ_j [y_j ln a_j + (1 − y_j) ln(1 − a_j)]``:
  ``∇_a C = (a − y) / (a(1 − a))``; with a sigmoid output σ' = a(1 − a) cancels
- log-likelihood ``C_x = −Σ_j y_j ln a_j``: ``∇_a C = −y / a``; with a softmax output (and
  one-hot y) the Jacobian of softmax turns it into ``a − y``

The API's enums, ``/api/options`` and the link grammar are derived from :data:`COSTS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from app.core.activations import ACTIVATIONS

Array = NDArray[np.float64]


def _softplus(x: Array) -> Array:
    """``ln(1 + e^x)`` without overflow."""
    return np.logaddexp(0.0, x)


def _quadratic(z_L: Array, a_L: Array, y: Array) -> Array:
    d = a_L - y
    np.multiply(d, d, out=d)
    # ufunc calls, not np.einsum: its Python wrapper parses the subscripts on every call
    # (4.2 against 2.9 µs of CPU for a frame's 1+m examples, measured here)
    out: Array = np.add.reduce(d, axis=1)
    out *= 0.5
    return out


def _quadratic_grad(a_L: Array, y: Array) -> Array:
    return a_L - y


def _cross_entropy(z_L: Array, a_L: Array, y: Array) -> Array:
    # ln a = −softplus(−z), ln(1 − a) = −softplus(z): finite even when a rounds to 0 or 1.
    out: Array = np.sum(y * _softplus(-z_L) + (1.0 - y) * _softplus(z_L), axis=1)
    return out


def _cross_entropy_grad(a_L: Array, y: Array) -> Array:
    out: Array = (a_L - y) / (a_L * (1.0 - a_L))
    return out


def _log_likelihood(z_L: Array, a_L: Array, y: Array) -> Array:
    shifted = z_L - z_L.max(axis=1, keepdims=True)
    log_a = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    out: Array = -np.sum(y * log_a, axis=1)
    return out


def _log_likelihood_grad(a_L: Array, y: Array) -> Array:
    out: Array = -y / a_L
    return out


# C_x written in a^L alone, (a_L, y) -> (m,): what a nudge of a^L changes (per_example reads
# z^L where that is the stable way, so it cannot be handed a nudged a^L).
def _quadratic_a(a_L: Array, y: Array) -> Array:
    return _quadratic(a_L, a_L, y)


def _cross_entropy_a(a_L: Array, y: Array) -> Array:
    out: Array = -np.sum(y * np.log(a_L) + (1.0 - y) * np.log1p(-a_L), axis=1)
    return out


def _log_likelihood_a(a_L: Array, y: Array) -> Array:
    out: Array = -np.sum(y * np.log(a_L), axis=1)
    return out


def _tokens(formula: str) -> tuple[str, ...]:
    """A formula's tokens, written with a space between each two."""
    return tuple(formula.split(" "))


@dataclass(frozen=True)
class Cost:
    """A cost ``C_x`` (per example, shape ``(m,)``) and the output activations it pairs with.

    ``cancels_on``: the output activation on which σ' cancels in BP1 (then it is the only
    one in ``outputs``), or None. ``of_a``: ``C_x`` written in ``a^L`` alone (a nudge of
    ``a^L`` changes nothing else); ``a_domain``: the open interval its logarithm needs
    ``a^L`` in, or None. ``grad_formula``: ``∂C_x/∂a_j`` as arithmetic on ``a`` and ``y``
    (one output's): the tokens the page writes BP1 with (``/api/options``; the tests hold
    them to ``grad``).
    """

    name: str
    label: str
    per_example: Callable[[Array, Array, Array], Array]  # (z_L, a_L, y) -> C_x, (m,)
    grad: Callable[[Array, Array], Array]  # (a_L, y) -> ∇_a C_x, (m, n_L)
    outputs: tuple[str, ...]
    cancels_on: str | None = None
    of_a: Callable[[Array, Array], Array] = field(kw_only=True)  # (a_L, y) -> C_x, (m,)
    grad_formula: tuple[str, ...] = field(kw_only=True)  # ∂C_x/∂a_j, tokens for the page
    # The open interval a^L must stay inside (the cost takes its logarithm), or None.
    a_domain: tuple[float, float] | None = field(default=None, kw_only=True)

    @property
    def sigma_prime_cancels(self) -> bool:
        """σ' cancels in BP1 on the output this cost pairs with: ``δ^L = a^L − y``."""
        return self.cancels_on is not None

    def grad_a(self, a_L: Array, y: Array) -> Array:
        """``∇_a C_x``, shape ``(m, n_L)``."""
        return self.grad(a_L, y)

    def delta_L(self, a_L: Array, y: Array, sigma_prime_L: Array) -> Array:
        """BP1: ``δ^L = ∇_a C ⊙ σ'_L(z^L)``, shape ``(m, n_L)``; ``a^L − y`` where σ' cancels."""
        if self.sigma_prime_cancels:
            return a_L - y
        return self.grad(a_L, y) * sigma_prime_L


_ELEMENTWISE = tuple(n for n, a in ACTIVATIONS.items() if a.elementwise and a.output_ok)
_SIGMOID, _SOFTMAX = ("sigmoid",), ("softmax",)

COSTS: dict[str, Cost] = {
    c.name: c
    for c in (
        Cost(
            "quadratic",
            "quadratic",
            _quadratic,
            _quadratic_grad,
            _ELEMENTWISE,
            of_a=_quadratic_a,
            grad_formula=_tokens("a − y"),
        ),
        Cost(
            "cross_entropy",
            "cross-entropy",
            _cross_entropy,
            _cross_entropy_grad,
            _SIGMOID,
            *_SIGMOID,
            of_a=_cross_entropy_a,
            grad_formula=_tokens("( a − y ) / ( a · ( 1 − a ) )"),
            a_domain=(0.0, 1.0),
        ),
        Cost(
            "log_likelihood",
            "log-likelihood",
            _log_likelihood,
            _log_likelihood_grad,
            _SOFTMAX,
            *_SOFTMAX,
            of_a=_log_likelihood_a,
            grad_formula=_tokens("− y / a"),
            a_domain=(0.0, float("inf")),
        ),
    )
}
NAMES: tuple[str, ...] = tuple(COSTS)


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
