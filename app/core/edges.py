"""The three numbers on an edge ``k (layer l-1) → j (layer l)`` (notation.md).

- forward contribution ``w^l_jk · a^{l-1}_k``: this edge's share of ``z^l_j``
- backward contribution ``w^l_jk · δ^l_j``: this edge's share of the error sent back to k;
  summed over j it is ``((w^l)^T δ^l)_k``, and times ``σ'(z^{l-1}_k)`` it is ``δ^{l-1}_k`` (BP2)
- gradient ``a^{l-1}_k · δ^l_j``: ``∂C/∂w^l_jk`` (BP4, unregularised)

Each is a matrix of the weight's shape ``(n_l, n_{l-1})``, row j, column k.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from app.core.network import Network, Trace

Array = NDArray[np.float64]


@dataclass(frozen=True)
class EdgeQuantities:
    forward: Array
    backward: Array
    gradient: Array


def for_example(w: Array, a_prev: Array, delta: Array) -> EdgeQuantities:
    """One example: ``a_prev`` of shape ``(n_{l-1},)``, ``delta`` of shape ``(n_l,)``."""
    return EdgeQuantities(
        forward=w * a_prev[None, :],
        backward=w * delta[:, None],
        gradient=np.outer(delta, a_prev),
    )


def batch_mean(w: Array, a_prev: Array, delta: Array) -> EdgeQuantities:
    """Means over a batch: ``a_prev`` ``(m, n_{l-1})``, ``delta`` ``(m, n_l)``.

    The forward and backward contributions are linear in ``a`` and ``δ``, so their means
    are ``w`` times the mean activation / error; the gradient mean is ``δᵀa / m``.
    """
    m = a_prev.shape[0]
    return EdgeQuantities(
        forward=w * a_prev.mean(axis=0)[None, :],
        backward=w * delta.mean(axis=0)[:, None],
        gradient=delta.T @ a_prev / m,
    )


def edges(net: Network, trace: Trace, example: int | None = None) -> list[EdgeQuantities]:
    """Per layer ``l = 2..L``: the edge quantities of one example, or batch means if None."""
    out = []
    for i, w in enumerate(net.weights):
        a_prev, delta = trace.a[i], trace.delta[i]
        if example is None:
            out.append(batch_mean(w, a_prev, delta))
        else:
            out.append(for_example(w, a_prev[example], delta[example]))
    return out
