"""Train and test cost and accuracy of a run, one forward pass over all its points."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from app.core.costs import Cost
from app.core.network import Network
from app.runs.rounding import Array, round4


@dataclass(frozen=True)
class Metrics:
    train_cost: float | None
    test_cost: float | None
    train_accuracy: float | None
    test_accuracy: float | None
    finite: bool


def theta_layers(theta: NDArray[Any], sizes: list[int]) -> list[NDArray[Any]]:
    """Views ``[w^l | b^l]`` (n_l, n_{l-1} + 1) of a flat parameter vector θ (any dtype)."""
    out, offset = [], 0
    for n, k in zip(sizes[1:], sizes[:-1], strict=True):
        out.append(theta[offset : offset + n * (k + 1)].reshape(n, k + 1))
        offset += n * (k + 1)
    if offset != theta.size:
        raise ValueError(f"θ has {theta.size} entries, sizes {sizes} need {offset}")
    return out


class Evaluator:
    """Train and test cost (regularised) and accuracy: one forward pass over all points.

    ``x`` (N, n_1), ``y`` (N, n_L), the first ``n_train`` rows are the training set;
    ``theta`` the trainer's parameters. Accuracy is :func:`app.core.datasets.accuracy`'s:
    one output is positive above 0 (0.5 for sigmoid), several outputs are compared by
    argmax. The pass runs in float32 (about twice as fast, for numbers shown to 4 digits),
    one column per point: ``[a^l; 1]`` is ``(n_l + 1, N)``, so ``[w^l | b^l] [a^{l-1}; 1]``
    is ``z^l`` and every activation writes a contiguous block. The result is kept until θ,
    the cost or the penalty change (a paused run asked again).
    """

    def __init__(
        self,
        x: Array,
        y: Array,
        n_train: int,
        kind: str,
        net: Network,
        theta: Array,
    ) -> None:
        self.n_train, self.kind = n_train, kind
        self.y = y.astype(np.float32)
        self.y_T = np.ascontiguousarray(self.y.T)
        self.acts = net.layer_activations
        self.theta = theta
        self.theta32 = np.empty(theta.size, dtype=np.float32)
        self.w_aug = theta_layers(self.theta32, net.sizes)
        n = len(x)
        self.x_aug = np.vstack([x.T, np.ones((1, n))]).astype(np.float32)
        self.hidden = [np.ones((k + 1, n), dtype=np.float32) for k in net.sizes[1:-1]]
        self._argmax = y.shape[1] > 1
        self._cut = 0.5 if net.activations[-1] == "sigmoid" else 0.0
        self._truth = np.argmax(y, axis=1) if self._argmax else y[:, 0] > self._cut
        self._key: tuple[bytes, str, float] | None = None
        self._last: Metrics | None = None

    def __call__(self, cost: Cost, penalty: float) -> Metrics:
        """The metrics at the current θ; the previous ones again if θ and the rest are equal."""
        key = (self.theta.tobytes(), cost.name, penalty)
        if key != self._key or self._last is None:
            self._last = self._compute(cost, penalty)
            self._key = key
        return self._last

    def _compute(self, cost: Cost, penalty: float) -> Metrics:
        np.copyto(self.theta32, self.theta, casting="same_kind")
        a: Any = self.x_aug
        for w, act, out in zip(self.w_aug, self.acts, self.hidden, strict=False):
            z: Any = out[:-1]
            np.matmul(w, a, out=z)
            if act.name == "tanh":
                np.tanh(z, out=z)
            else:
                z[...] = act.fn(z)
            a = out
        z = np.matmul(self.w_aug[-1], a)
        a = self.acts[-1].fn(z.T)  # (N, n_L), a view of a (n_L, N) block when elementwise
        if cost.name == "quadratic":
            d = a.T - self.y_T
            d *= d
            c = np.add.reduce(d, axis=0)
            c *= 0.5
        else:
            c = per_example(cost, z.T, a, self.y)
        n, n_test = self.n_train, len(c) - self.n_train
        sums = np.add.reduceat(c, [0, n] if n_test else [0], dtype=np.float64).tolist()
        train = sums[0] / n + penalty
        test = sums[1] / n_test + penalty if n_test else math.nan
        finite = math.isfinite(train) and (not n_test or math.isfinite(test))
        if self.kind == "regression":
            return Metrics(round4(train), round4(test), None, None, finite)
        guess = np.argmax(a, axis=1) if self._argmax else a[:, 0] > self._cut
        hit = guess == self._truth
        acc_train = np.count_nonzero(hit[:n]) / n
        acc_test = round4(np.count_nonzero(hit[n:]) / n_test) if n_test else None
        return Metrics(round4(train), round4(test), round4(acc_train), acc_test, finite)


def per_example(cost: Cost, z: Any, a: Any, y: Any) -> Any:
    """``C_x`` per row; the quadratic ``½‖a − y‖²`` without einsum's dispatch overhead."""
    if cost.name != "quadratic":
        return cost.per_example(z, a, y)
    d = a - y
    d *= d
    out = np.add.reduce(d, axis=1)
    out *= 0.5
    return out
