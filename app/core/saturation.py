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

import functools
from dataclasses import dataclass
from itertools import accumulate
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from app.core.activations import get_activation
from app.core.forward import Feedforward
from app.core.network import Network

Array = NDArray[np.float64]

SATURATED = 0.01  # σ'(z) / max σ' below this: saturated at that example
MOST = 0.5  # ... for at least this share of the training examples
ALARM = 0.5  # the page warns when more than this share of the hidden units is affected,
# or when every output unit is saturated
WRONG = 0.25  # an output is stuck when saturated and wrong on at least this share


class LayerHealth(NamedTuple):
    l: int  # noqa: E741
    n: int
    saturated: int
    dead: int
    output: bool = False


@functools.cache
def saturated_beyond(name: str) -> float:
    """The |z| beyond which a saturating activation's unit is saturated at an example:
    ``σ'(z) < SATURATED · prime_max`` exactly where ``|z| > saturated_beyond``, because σ' of
    each saturating activation (tanh, sigmoid) is even and falls as |z| grows (the tests
    check this on a dense grid for every one the registry has). Found once per activation by
    bisection on the registry's own ``prime``, so that a count compares z alone."""
    act = get_activation(name)
    if act.prime_max is None:
        raise ValueError(f"{name} does not saturate")
    limit = SATURATED * act.prime_max

    def low(z: float) -> bool:
        zs = np.array([z])
        return bool(act.prime(zs, act.fn(zs))[0] < limit)

    lo, hi = 0.0, 1.0
    while not low(hi):
        lo, hi = hi, 2.0 * hi
    for _ in range(200):  # to the last bit of a double
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        lo, hi = (lo, mid) if low(mid) else (mid, hi)
    return lo


def layer_health(net: Network, x: Array, y: Array, cancels: bool = False) -> list[LayerHealth]:
    """:func:`count` over ``x`` ``(N, n_1)`` and ``y`` ``(N, n_L)`` (the training set), after
    one pass of the core forward (:class:`app.core.forward.Feedforward`, its dtype)."""
    fwd = Feedforward(net.sizes, net.activations, x)
    fwd.set_network(net)
    fwd.run()
    return count(fwd, y, cancels)


def count(
    fwd: Feedforward, y: NDArray[Any], cancels: bool = False, n: int | None = None
) -> list[LayerHealth]:
    """Per layer ``l = 2..L`` (the output layer only when σ' does not ``cancels`` in BP1):
    how many units are saturated or dead over the first ``n`` points (all by default) of
    ``fwd``'s last :meth:`~app.core.forward.Feedforward.run`; ``y`` ``(≥ n, n_L)``, their
    targets, one per row. A unit is saturated at an example where ``|z| >``
    :func:`saturated_beyond` (σ' below ``SATURATED`` of its largest value), dead where
    ``z ≤ 0`` everywhere, read from the pass's ``z^l`` and ``a^l`` ``(n_l, n)``: no second
    forward pass.

    Consecutive layers of one activation (the hidden layers, and the output when it has the
    same σ) are counted as one block of rows (:meth:`~app.core.forward.Feedforward.z_rows`,
    a view): every unit is its own row, each test is elementwise or per row, so stacking the
    rows changes no value and no count; it makes a fixed number of NumPy calls per
    activation instead of per layer (each call costs about as much as its arithmetic on a
    small network)."""
    n = fwd.n_points if n is None else n
    sizes = fwd.sizes
    L = len(sizes)
    ls = range(2, L if cancels else L + 1)
    saturated, dead = [0] * (L + 1), [0] * (L + 1)
    with np.errstate(all="ignore"):  # a diverged run's z and a are ±inf or NaN: counted as is
        i = 0
        while i < len(ls):
            act = fwd.acts[ls[i] - 2]
            j = i + 1
            while j < len(ls) and fwd.acts[ls[j] - 2].name == act.name:
                j += 1
            first, last, i = ls[i], ls[j - 1], j
            if act.prime_max is None and not act.dies:
                continue
            z = fwd.z_rows(first, last)[:, :n]
            if act.prime_max is not None:
                low = np.abs(z) > saturated_beyond(act.name)
                per_unit = np.add.reduce(low, axis=1) >= MOST * n
                if last == L and act.bounds is not None:  # the output: saturated *and* wrong
                    n_L = sizes[-1]
                    half = 0.5 * (act.bounds[1] - act.bounds[0])
                    wrong = np.abs(fwd.a(L)[:, :n] - y[:n].T) > half
                    per_unit[-n_L:] &= np.add.reduce(wrong, axis=1) >= WRONG * n
                into = saturated
            else:
                per_unit = (z <= 0).all(axis=1)
                into = dead
            if first == last:
                into[first] = int(np.count_nonzero(per_unit))
            else:
                starts = list(accumulate(sizes[first - 1 : last - 1], initial=0))
                counts = np.add.reduceat(per_unit, starts, dtype=np.intp).tolist()
                into[first : last + 1] = counts
    return [LayerHealth(k, sizes[k - 1], saturated[k], dead[k], k == L) for k in ls]


def share(layers: list[LayerHealth]) -> tuple[float, float]:
    """(saturated share, dead share) of the hidden units; (0, 0) without hidden layers."""
    total = saturated = dead = 0
    for h in layers:
        if not h.output:
            total += h.n
            saturated += h.saturated
            dead += h.dead
    if not total:
        return 0.0, 0.0
    return saturated / total, dead / total


def output_saturated(layers: list[LayerHealth]) -> bool:
    """Every output unit saturated (never true when σ' cancels: the layer is not listed)."""
    return any(h.output and h.saturated == h.n for h in layers)


def alarming(layers: list[LayerHealth]) -> bool:
    """More than ``ALARM`` of the hidden units saturated or dead, or the output saturated."""
    return summary(layers).alarm


@dataclass(frozen=True)
class Summary:
    """What a frame's ``health`` says about ``layers`` (:func:`count`), each rule applied once:
    the hidden units' shares (:func:`share`), :func:`output_saturated`, the alarm
    (:func:`alarming`), and whether the alarm is mostly for dead units (more than ``ALARM``
    of the hidden units affected, at least as many dead as saturated)."""

    saturated_share: float
    dead_share: float
    output_saturated: bool
    alarm: bool
    mostly_dead: bool


def summary(layers: list[LayerHealth]) -> Summary:
    """:class:`Summary` of ``layers``: one pass over them (a frame's hot path)."""
    s, d = share(layers)
    out = output_saturated(layers)
    many = s + d > ALARM
    return Summary(s, d, out, many or out, many and d >= s)
