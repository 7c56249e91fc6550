"""Train and test cost and accuracy of a run, one forward pass over all its points."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

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


def theta_layers(theta: Array, sizes: list[int]) -> list[Array]:
    """Views ``[w^l | b^l]`` (n_l, n_{l-1} + 1) of the trainer's flat parameter vector θ."""
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
    argmax. The pass runs in float32 (about twice as fast, for numbers shown to 4 digits).
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
        self.y, self.n_train, self.kind = y.astype(np.float32), n_train, kind
        self.acts = net.layer_activations
        self.w_aug = theta_layers(theta, net.sizes)
        self.x_aug = np.hstack([x, np.ones((len(x), 1))]).astype(np.float32)
        self.hidden = [np.ones((len(x), n + 1), dtype=np.float32) for n in net.sizes[1:-1]]
        self._argmax = y.shape[1] > 1
        self._cut = 0.5 if net.activations[-1] == "sigmoid" else 0.0
        self._truth = np.argmax(y, axis=1) if self._argmax else y[:, 0] > self._cut

    def __call__(self, cost: Cost, penalty: float) -> Metrics:
        a: Any = self.x_aug
        for w, act, out in zip(self.w_aug, self.acts, self.hidden, strict=False):
            z = a @ w.T.astype(np.float32)
            if act.name == "tanh":
                np.tanh(z, out=out[:, :-1])
            else:
                out[:, :-1] = act.fn(z)
            a = out
        z = a @ self.w_aug[-1].T.astype(np.float32)
        a = self.acts[-1].fn(z)
        c = per_example(cost, z, a, self.y)
        n, n_test = self.n_train, len(c) - self.n_train
        train = float(np.add.reduce(c[:n])) / n + penalty
        test = float(np.add.reduce(c[n:])) / n_test + penalty if n_test else math.nan
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
