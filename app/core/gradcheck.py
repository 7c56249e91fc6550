"""Gradient checking: backprop against central finite differences, parameter by parameter.

``∂C/∂θ ≈ (C(θ + ε) − C(θ − ε)) / 2ε`` for every weight and bias. Used by the tests and
by the UI's "check my gradients" button.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from app.core.costs import get_cost
from app.core.network import Network, backprop, cost_value

Array = NDArray[np.float64]


@dataclass(frozen=True)
class GradCheck:
    max_rel_error: float
    numeric_w: list[Array]
    numeric_b: list[Array]
    backprop_w: list[Array]
    backprop_b: list[Array]


def relative_error(a: Array, b: Array, floor: float = 1e-4) -> float:
    """``max |a − b| / max(|a|, |b|, floor)``.

    Gradients smaller than ``floor`` are compared on the floor's scale: a central difference
    in float64 is itself only accurate to about 1e-11, so relative errors of gradients near
    zero (a dead ReLU's, say) measure the finite difference's rounding, not backprop.
    """
    denom = np.maximum(np.maximum(np.abs(a), np.abs(b)), floor)
    return float(np.max(np.abs(a - b) / denom)) if a.size else 0.0


def gradient_check(
    net: Network,
    cost_name: str,
    x: Array,
    y: Array,
    regulariser: str = "none",
    lmbda: float = 0.0,
    n: int | None = None,
    eps: float = 1e-5,
) -> GradCheck:
    """Compare backprop's ``∂C/∂w``, ``∂C/∂b`` with central differences on a copy of ``net``.

    ``ε = 1e-5`` balances the difference's truncation error (``~ε²``) against its rounding
    error (``~1e-16/ε``). A parameter whose ``z`` sits within ``ε`` of a ReLU kink, or an L1
    weight within ``ε`` of 0, has no derivative there and is not a fair test.
    """
    probe = net.copy()
    cost = get_cost(cost_name, net.activations[-1])
    trace = backprop(probe, cost_name, x, y, regulariser, lmbda, n)

    def c() -> float:
        return cost_value(probe, cost, x, y, regulariser, lmbda, n)

    numeric: list[list[Array]] = [[], []]
    for slot, params in enumerate((probe.weights, probe.biases)):
        for p in params:
            g = np.zeros_like(p)
            flat, gflat = p.reshape(-1), g.reshape(-1)
            for idx in range(flat.size):
                keep = flat[idx]
                flat[idx] = keep + eps
                c_plus = c()
                flat[idx] = keep - eps
                c_minus = c()
                flat[idx] = keep
                gflat[idx] = (c_plus - c_minus) / (2 * eps)
            numeric[slot].append(g)
    errors = [
        relative_error(bp, nm)
        for bp, nm in zip(trace.grad_w + trace.grad_b, numeric[0] + numeric[1], strict=True)
    ]
    return GradCheck(max(errors), numeric[0], numeric[1], trace.grad_w, trace.grad_b)
