"""Saturated and dead hidden units: when most of them are, gradients vanish and the loss stalls.

Which units can saturate or die is the activation registry's to say
(:mod:`app.core.activations`: ``prime_max``, ``bounds``, ``dies``).

- A unit of a saturating activation (tanh, sigmoid) is **saturated** when ``σ'(z)`` is
  below ``SATURATED`` of its largest value ``prime_max`` (tanh: 1, sigmoid: ¼) for at least
  ``MOST`` of the training examples: it passes almost no error back (BP2 multiplies by σ')
  and its incoming weights almost stop learning (BP4). Output units count too, unless σ'
  cancels in BP1 (cross-entropy + sigmoid), when they are also *wrong* (|a − y| over half
  the activation's range) on at least ``WRONG`` of the examples: a saturated output
  multiplies every δ by a tiny σ', so a wrong answer can no longer be corrected (a
  saturated output that is right is a good fit).
- A unit of an activation that ``dies`` (ReLU) is **dead** when ``z ≤ 0`` for every
  training example: σ' = 0 everywhere, so it never learns again.
Other units (leaky ReLU, swish, GELU, linear) never count.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from app.core.network import Network, feedforward

Array = NDArray[np.float64]

SATURATED = 0.01  # σ'(z) / max σ' below this: saturated at that example
MOST = 0.5  # ... for at least this share of the training examples
ALARM = 0.5  # the page warns when more than this share of the hidden units is affected,
# or when every output unit is saturated
WRONG = 0.25  # an output is stuck when saturated and wrong on at least this share


@dataclass(frozen=True)
class LayerHealth:
    l: int  # noqa: E741
    n: int
    saturated: int
    dead: int
    output: bool = False


def layer_health(net: Network, x: Array, y: Array, cancels: bool = False) -> list[LayerHealth]:
    """Per layer ``l = 2..L`` (the output layer only when σ' does not ``cancels`` in BP1):
    how many units are saturated or dead over ``x`` ``(N, n_1)``, ``y`` ``(N, n_L)`` (the
    training set)."""
    fwd = feedforward(net, x)
    out = []
    last = net.L - 2
    for i, act in enumerate(net.layer_activations):
        if i == last and cancels:
            break
        z, a = fwd.z[i], fwd.a[i + 1]
        n = z.shape[1]
        saturated = dead = 0
        if act.prime_max is not None:
            with np.errstate(all="ignore"):
                low = act.prime(z, a) / act.prime_max < SATURATED
            stuck = low.mean(axis=0) >= MOST
            if i == last and act.bounds is not None:  # the output: saturated *and* wrong
                wrong = np.abs(a - y) > 0.5 * (act.bounds[1] - act.bounds[0])
                stuck &= wrong.mean(axis=0) >= WRONG
            saturated = int(np.count_nonzero(stuck))
        elif act.dies:
            dead = int(np.count_nonzero((z <= 0).all(axis=0)))
        out.append(LayerHealth(i + 2, n, saturated, dead, output=i == last))
    return out


def share(layers: list[LayerHealth]) -> tuple[float, float]:
    """(saturated share, dead share) of the hidden units; (0, 0) without hidden layers."""
    hidden = [h for h in layers if not h.output]
    total = sum(h.n for h in hidden)
    if not total:
        return 0.0, 0.0
    return sum(h.saturated for h in hidden) / total, sum(h.dead for h in hidden) / total


def output_saturated(layers: list[LayerHealth]) -> bool:
    """Every output unit saturated (never true when σ' cancels: the layer is not listed)."""
    return any(h.output and h.saturated == h.n for h in layers)


def alarming(layers: list[LayerHealth]) -> bool:
    """More than ``ALARM`` of the hidden units saturated or dead, or the output saturated."""
    s, d = share(layers)
    return s + d > ALARM or output_saturated(layers)
