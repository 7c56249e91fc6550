"""The engine's forward pass over a fixed set of points: what metrics and the grid show.

:func:`app.core.network.feedforward` is the readable reference (one example per row, the
bias added separately); this is the same arithmetic laid out for speed, and the tests hold
the two together (1e-12 in float64) for every registered activation.

Layout (shared with :mod:`app.core.fast_step`): one column per point, and every layer's
parameters as one augmented matrix ``[w^l | b^l]`` ``(n_l, n_{l-1} + 1)``; the layer below
carries a row of ones, ``[a^{l-1}; 1]`` ``(n_{l-1} + 1, N)``, so ``z^l`` is one ``np.dot``
and every per-layer array is a C-contiguous ``(n_l, N)`` block.

The dtype is chosen here, once: :data:`DTYPE` is float32. Metrics and the grid are shown
to 4 significant digits (float32 carries about 7), and a float32 pass is 2.3-6x faster
than float64 on this machine (2-8-8-1 tanh over the 4,352 grid points: 93 against 429 µs;
64-30-10 sigmoid over 1,797 points: 418 against 961 µs). Training stays float64.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
from numpy.typing import DTypeLike, NDArray

from app.core.activations import get_activation
from app.core.network import Network, n_params

DTYPE = np.float32


def theta_layers(theta: NDArray[Any], sizes: list[int]) -> list[NDArray[Any]]:
    """Views ``[w^l | b^l]`` ``(n_l, n_{l-1} + 1)`` of a flat parameter vector θ (any dtype),
    layer by layer, row-major: the layout of :class:`app.core.training.Trainer`'s θ."""
    out, offset = [], 0
    for n, k in zip(sizes[1:], sizes[:-1], strict=True):
        out.append(theta[offset : offset + n * (k + 1)].reshape(n, k + 1))
        offset += n * (k + 1)
    if offset != theta.size:
        raise ValueError(f"θ has {theta.size} entries, sizes {sizes} need {offset}")
    return out


class Feedforward:
    """``z^l`` and ``a^l`` of every layer for the fixed points ``x`` ``(N, n_1)``.

    Load parameters with :meth:`set_theta` or :meth:`set_network` (cast to ``dtype``), then
    :meth:`run`. Afterwards ``z(l)`` and ``a(l)`` are ``(n_l, N)``, one column per point
    (``a(1)`` is the input); the buffers are reused by the next run.
    """

    def __init__(
        self, sizes: list[int], activations: list[str], x: NDArray[Any], dtype: DTypeLike = DTYPE
    ) -> None:
        x = np.asarray(x)
        if x.ndim != 2 or x.shape[1] != sizes[0]:
            raise ValueError(f"x must have shape (N, {sizes[0]}), got {x.shape}")
        self.sizes = list(sizes)
        self.acts = [get_activation(name) for name in activations]
        self.dtype = np.dtype(dtype)
        n = len(x)
        self.theta = np.zeros(n_params(self.sizes), self.dtype)
        self.w_aug = theta_layers(self.theta, self.sizes)
        # [a^l; 1] for the input and hidden layers; a^L has no row of ones.
        self._blocks = [np.ones((k + 1, n), self.dtype) for k in self.sizes[:-1]]
        self._blocks[0][:-1] = x.T
        self._a = [blk[:-1] for blk in self._blocks] + [np.empty((self.sizes[-1], n), self.dtype)]
        # every z^l in one (Σ n_l, N) block, layer after layer: consecutive layers' rows are
        # one view of it (:meth:`z_rows`), for counts over them without a copy
        self._z_all = np.empty((sum(self.sizes[1:]), n), self.dtype)
        rows = np.cumsum([0, *self.sizes[1:]]).tolist()
        self._z_start = rows
        self._z = [self._z_all[r0:r1] for r0, r1 in itertools.pairwise(rows)]
        # a^l = σ_l(z^l) as the registry's fast-path calls on these buffers, with constants of
        # the pass's dtype (a float64 constant would make a float32 pass compute in float64)
        self._activate = [
            act.forward_ops(z, a, 0)
            for act, z, a in zip(self.acts, self._z, self._a[1:], strict=True)
        ]

    @property
    def n_points(self) -> int:
        return int(self._blocks[0].shape[1])

    # A diverging run's parameters overflow the dtype: the values become ±inf or NaN, which
    # the callers report (as divergence, or clipped), so NumPy's warnings are silenced.

    def set_theta(self, theta: NDArray[Any]) -> None:
        """Parameters from a flat θ in :func:`theta_layers`' layout (cast to ``dtype``)."""
        with np.errstate(all="ignore"):
            np.copyto(self.theta, theta, casting="same_kind")

    def set_network(self, net: Network) -> None:
        """Parameters from ``net.weights`` and ``net.biases`` (cast to ``dtype``)."""
        with np.errstate(all="ignore"):
            for w_aug, w, b in zip(self.w_aug, net.weights, net.biases, strict=True):
                np.copyto(w_aug[:, :-1], w, casting="same_kind")
                np.copyto(w_aug[:, -1], b, casting="same_kind")

    def run(self, layers: int | None = None) -> None:
        """Forward through the first ``layers`` weight layers (all of them by default):
        ``z^l = [w^l | b^l] [a^{l-1}; 1]``, ``a^l = σ_l(z^l)``."""
        count = len(self.w_aug) if layers is None else layers
        with np.errstate(all="ignore"):
            for i in range(count):
                z = self._z[i]
                np.dot(self.w_aug[i], self._blocks[i], out=z)
                for f, args in self._activate[i]:
                    f(*args)

    def z(self, l: int) -> NDArray[Any]:  # noqa: E741
        """``z^l`` ``(n_l, N)``, l = 2..L."""
        return self._z[l - 2]

    def z_rows(self, first: int, last: int) -> NDArray[Any]:
        """``z^first`` to ``z^last`` stacked ``(n_first + … + n_last, N)``: a view, no copy."""
        return self._z_all[self._z_start[first - 2] : self._z_start[last - 1]]

    def a(self, l: int) -> NDArray[Any]:  # noqa: E741
        """``a^l`` ``(n_l, N)``, l = 1..L (``a^1`` is the input)."""
        return self._a[l - 1]
