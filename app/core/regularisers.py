"""Weight regularisation in Nielsen's convention (ch. 3): ``n`` is the training-set size.

- L2: cost term ``λ/(2n)·Σw²``, gradient ``λ/n·w``
- L1: cost term ``λ/n·Σ|w|``, gradient ``λ/n·sgn(w)``

Biases are never regularised.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]

REGULARISERS = ("none", "l1", "l2")


def check_regulariser(name: str) -> str:
    if name not in REGULARISERS:
        raise ValueError(f"unknown regulariser {name!r}; choose one of {list(REGULARISERS)}")
    return name


def penalty(name: str, lmbda: float, n: int, weights: list[Array]) -> float:
    """The regularisation term added to the batch cost."""
    if name == "none" or lmbda == 0.0:
        return 0.0
    if name == "l2":
        return lmbda / (2.0 * n) * float(sum(np.sum(w * w) for w in weights))
    return lmbda / n * float(sum(np.sum(np.abs(w)) for w in weights))


def penalty_grad(name: str, lmbda: float, n: int, w: Array) -> Array | None:
    """``∂(penalty)/∂w`` for one weight matrix, or None when there is no penalty."""
    if name == "none" or lmbda == 0.0:
        return None
    if name == "l2":
        out: Array = (lmbda / n) * w
        return out
    sign: Array = (lmbda / n) * np.sign(w)
    return sign
