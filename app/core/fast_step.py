"""The fast training path: one SGD step as a fixed list of NumPy calls on preallocated buffers.

Used by :meth:`app.core.training.Trainer.train` for the many steps between two displayed
frames. It keeps no per-example tensors; :func:`app.core.network.backprop` is the readable,
instrumented version of the same arithmetic, and the tests hold the two to 1e-12.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np
from numpy.typing import NDArray

from app.core.activations import LEAKY_SLOPE
from app.core.network import Network

Array = NDArray[np.float64]
# One NumPy call of the fast path, its arguments bound once: ``f(*args)``.
Op = tuple[Callable[..., object], tuple[object, ...]]

# Scalars as 0-d arrays: a ufunc converts a Python float on every call, which costs about
# as much as the arithmetic on a 10 × 8 array.
_ONE, _HALF, _ZERO, _SLOPE = (np.array(v) for v in (1.0, 0.5, 0.0, LEAKY_SLOPE))


def _activation_ops(name: str, z: Array, a: Array, m: int) -> list[Op]:
    """``a = σ(z)`` as fast-path calls; ``z``, ``a`` are ``(n_l, m)``, one column per example.

    The formulas of :mod:`app.core.activations` (sigmoid in the same order of operations), so
    both paths round alike. ``np.maximum`` takes ``out`` by keyword only.
    """
    if name == "tanh":
        return [(np.tanh, (z, a))]
    if name == "sigmoid":  # ½(1 + tanh(z/2))
        mul = np.multiply
        return [
            (mul, (z, _HALF, a)),
            (np.tanh, (a, a)),
            (np.add, (a, _ONE, a)),
            (mul, (a, _HALF, a)),
        ]
    if name == "relu":
        return [(partial(np.maximum, out=a), (z, _ZERO))]
    if name == "leaky_relu":  # max(z, slope·z)
        return [(np.multiply, (z, _SLOPE, a)), (partial(np.maximum, out=a), (z, a))]
    if name == "linear":
        return [] if z is a else [(np.copyto, (a, z))]
    if name == "softmax":  # over the neurons of each column, shifted by the column's max
        top, total = np.empty((1, m)), np.empty((1, m))
        return [
            (np.maximum.reduce, (z, 0, None, top, True)),
            (np.subtract, (z, top, a)),
            (np.exp, (a, a)),
            (np.add.reduce, (a, 0, None, total, True)),
            (np.divide, (a, total, a)),
        ]
    raise ValueError(f"no fast path for activation {name!r}")


def _prime_ops(name: str, a: Array, p: Array) -> list[Op]:
    """``p = σ'(z)`` from ``a = σ(z)`` (same values as ``Activation.prime``), any shape."""
    if name == "tanh":  # 1 − a²
        return [(np.multiply, (a, a, p)), (np.subtract, (_ONE, p, p))]
    if name == "sigmoid":  # a(1 − a)
        return [(np.subtract, (_ONE, a, p)), (np.multiply, (p, a, p))]
    if name == "relu":  # a > 0 exactly where z > 0, and a ≥ 0, so sgn(a) is 1 or 0
        return [(np.sign, (a, p))]
    if name == "leaky_relu":  # sgn(a) is 1, 0 or −1; z ≤ 0 must give the slope
        return [(np.sign, (a, p)), (partial(np.maximum, out=p), (p, _SLOPE))]
    raise ValueError(f"no fast σ' for activation {name!r}")


class FastStep:
    """One SGD step for batch size ``m`` on the fast path: its buffers and its NumPy calls.

    Arrays are stored one column per example, the book's ``z = w a + b``: every per-layer
    array is then C-contiguous ``(n_l, m)`` (a ufunc writing a strided view costs ~3x more).
    Hidden layers carry a row of ones, ``[a^l; 1]``, so ``z^l = [w^l | b^l] [a^{l-1}; 1]`` is
    one ``np.dot``, and so is ``[∂C/∂w^l | ∂C/∂b^l] = δ^l [a^{l-1}; 1]^T`` (BP3 + BP4). All
    activations share one flat buffer, so σ' of a run of layers with the same activation
    costs two calls in all, not two per layer. At these sizes a NumPy call's fixed overhead
    (0.3-0.8 µs) is nearly the whole cost of a step, so the step is counted in calls.

    ``scale`` holds ``η/m``; it multiplies ``δ^L`` once, and by linearity every ``δ^l`` and
    the gradient, which then comes out as ``η∇C`` (without the penalty) in ``g_aug``.
    """

    def __init__(
        self, net: Network, w_aug: list[Array], g_aug: list[Array], m: int, cancels: bool
    ) -> None:
        sizes, names = net.sizes, net.activations
        n = sizes[1:]
        last = len(names) - 1
        rows = [k + 1 for k in n[:-1]] + [n[-1]]  # [a^l; 1] for hidden layers, a^L
        starts = [0, *np.cumsum([r * m for r in rows]).tolist()]
        flat_a, flat_p = np.ones(starts[-1]), np.ones(starts[-1])
        block = [flat_a[s : s + r * m].reshape(r, m) for s, r in zip(starts, rows, strict=False)]
        p_block = [flat_p[s : s + r * m].reshape(r, m) for s, r in zip(starts, rows, strict=False)]
        a = [blk[:k] for blk, k in zip(block, n, strict=True)]  # views: contiguous rows
        p = [blk[:k] for blk, k in zip(p_block, n, strict=True)]
        delta = [np.empty((k, m)) for k in n]
        # Which layers need σ': every hidden one (linear's is 1), the output unless it cancels.
        need = [act != "linear" for act in names]
        need[last] = need[last] and not cancels
        self.scale = np.empty(())

        # Forward (the first layer's dot needs the batch: see __call__)
        forward: list[Op] = []
        z: list[Array] = []
        for i, act in enumerate(names):
            z_i = a[i] if act == "linear" else np.empty((n[i], m))  # linear: dot writes a
            if i > 0:
                forward.append((np.dot, (w_aug[i], block[i - 1], z_i)))
            forward += _activation_ops(act, z_i, a[i], m)
            z.append(z_i)
        # σ'(z^l) of every layer that needs it, one call group per run of equal activations
        i = 0
        while i <= last:
            j = i
            while j < last and need[i] and need[j + 1] and names[j + 1] == names[i]:
                j += 1
            if need[i]:
                s, e = starts[i], starts[j + 1]
                forward += _prime_ops(names[i], flat_a[s:e], flat_p[s:e])
            i = j + 1

        # Backward (BP1's a^L − y needs the batch: see __call__)
        d_L = delta[last]
        backward: list[Op] = []
        if need[last]:  # BP1: δ^L = (a^L − y) ⊙ σ'(z^L)
            backward.append((np.multiply, (d_L, p[last], d_L)))
        backward.append((np.multiply, (d_L, self.scale, d_L)))
        for i in range(last, 0, -1):
            # BP3 + BP4: [∂C/∂w^l | ∂C/∂b^l] = δ^l [a^{l-1}; 1]^T (summed over the batch)
            backward.append((np.dot, (delta[i], block[i - 1].T, g_aug[i])))
            # BP2: δ^{l-1} = (w^l)^T δ^l ⊙ σ'(z^{l-1})
            backward.append((np.dot, (w_aug[i][:, :-1].T, delta[i], delta[i - 1])))
            if need[i - 1]:
                backward.append((np.multiply, (delta[i - 1], p[i - 1], delta[i - 1])))

        self.forward, self.backward = forward, backward
        self.w_0, self.z_0, self.g_0 = w_aug[0], z[0], g_aug[0]
        self.a_L, self.delta_L, self.delta_0 = a[last], d_L, delta[0]

    def __call__(self, x_T: Array, y_T: Array) -> None:
        """Gradient step for ``x_T`` ``(n_1 + 1, m)`` (a row of ones last), ``y_T`` ``(n_L, m)``."""
        np.dot(self.w_0, x_T, self.z_0)
        for f, args in self.forward:
            f(*args)
        np.subtract(self.a_L, y_T, self.delta_L)
        for f, args in self.backward:
            f(*args)
        np.dot(self.delta_0, x_T.T, self.g_0)
