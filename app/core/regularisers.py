"""The regulariser registry, in Nielsen's convention (ch. 3): ``n`` is the training-set size.

Each :class:`Regulariser` knows its term ``r(w)`` and gradient ``r'(w)``; the cost adds
``λ/n·Σ r(w)`` over every weight and the gradient ``λ/n·r'(w)``:

- L2: ``r(w) = ½w²``, ``r'(w) = w`` (the cost term ``λ/(2n)·Σw²``)
- L1: ``r(w) = |w|``, ``r'(w) = sgn(w)``
- none: no term.

Biases are never regularised. The API's enum, ``/api/options`` and the link grammar are
derived from :data:`REGULARISERS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from app.core.activations import Op

Array = NDArray[np.float64]


@dataclass(frozen=True)
class Regulariser:
    """``term(w)``: ``Σ r(w)`` over one weight matrix; ``grad(w)``: ``r'(w)``, ``w``'s shape.

    ``grad_ops(w, tmp)``: NumPy calls that make ``r'(w)``, and the array that then holds it
    (``w`` itself for L2, ``tmp`` for L1), for the fast path's update. ``grad_formula``:
    ``r'(w)`` as arithmetic on ``w``, the tokens the page writes the update with
    (``/api/options``; the tests hold it to ``grad``); None for no regulariser.
    """

    name: str
    label: str
    term: Callable[[Array], float]
    grad: Callable[[Array], Array]
    grad_ops: Callable[[Array, Array], tuple[list[Op], Array]]
    grad_formula: tuple[str, ...] | None

    @property
    def active(self) -> bool:
        return self.name != "none"


def _l2_term(w: Array) -> float:
    return 0.5 * float(np.sum(w * w))


def _l1_term(w: Array) -> float:
    return float(np.sum(np.abs(w)))


def _identity(w: Array) -> Array:
    return w


def _sign(w: Array) -> Array:
    out: Array = np.sign(w)
    return out


REGULARISERS: dict[str, Regulariser] = {
    r.name: r
    for r in (
        Regulariser("none", "None", lambda w: 0.0, np.zeros_like, lambda w, tmp: ([], tmp), None),
        Regulariser(
            "l1",
            "L1",
            _l1_term,
            _sign,
            lambda w, tmp: ([(np.sign, (w, tmp))], tmp),
            ("sgn", "(", "w", ")"),
        ),
        Regulariser("l2", "L2", _l2_term, _identity, lambda w, tmp: ([], w), ("w",)),
    )
}
NAMES: tuple[str, ...] = tuple(REGULARISERS)


def get_regulariser(name: str) -> Regulariser:
    try:
        return REGULARISERS[name]
    except KeyError:
        raise ValueError(f"unknown regulariser {name!r}; choose one of {list(NAMES)}") from None


def check_regulariser(name: str) -> str:
    get_regulariser(name)
    return name


def penalty(name: str, lmbda: float, n: int, weights: list[Array]) -> float:
    """The regularisation term added to the batch cost: ``λ/n·Σ r(w)`` over every weight."""
    reg = get_regulariser(name)
    if not reg.active or lmbda == 0.0:
        return 0.0
    return lmbda / n * sum(reg.term(w) for w in weights)


def penalty_grad(name: str, lmbda: float, n: int, w: Array) -> Array | None:
    """``∂(penalty)/∂w = λ/n·r'(w)`` for one weight matrix, or None when there is no penalty."""
    reg = get_regulariser(name)
    if not reg.active or lmbda == 0.0:
        return None
    out: Array = (lmbda / n) * reg.grad(w)
    return out
