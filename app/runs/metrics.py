"""Train and test cost and accuracy of a run, one forward pass over all its points."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from app.core.costs import Cost
from app.core.datasets import predicted_class
from app.core.forward import Feedforward
from app.core.network import Network
from app.runs.rounding import Array, round4


@dataclass(frozen=True)
class Metrics:
    train_cost: float | None
    test_cost: float | None
    train_accuracy: float | None
    test_accuracy: float | None
    finite: bool


class Evaluator:
    """Train and test cost (regularised) and accuracy: one forward pass over all points.

    ``x`` (N, n_1), ``y`` (N, n_L), the first ``n_train`` rows are the training set;
    ``theta`` the trainer's flat parameters (read at every call). The pass is the core's
    :class:`app.core.forward.Feedforward` (its dtype); ``C_x`` comes from the cost's own
    ``per_example``, and accuracy is :func:`app.core.datasets.accuracy`'s rule
    (:func:`~app.core.datasets.predicted_class` of the outputs against that of the targets,
    found once). The result is kept until θ, the cost or the penalty change (a paused run
    asked again). The pass itself is shared: :meth:`forward_at_theta` hands its ``z`` and
    ``a`` to the saturation counts (:mod:`app.core.saturation`) without a second pass.

    A cost that is not finite in the core's dtype (float32 tops out at 3.4e38) is measured
    again in float64, training's own: an exploding run whose weights and costs are still
    finite numbers is not called diverged because float32 overflowed (its batch cost, in
    float64, said 9e42 while the metrics said null and the run could not train on).
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
        self.output_activation = net.activations[-1]
        self.theta = theta
        self.forward = Feedforward(net.sizes, net.activations, x)
        self.y = np.asarray(y, dtype=self.forward.dtype)
        self._x, self._y64, self._net = x, np.asarray(y, dtype=np.float64), net
        self._forward64: Feedforward | None = None  # made the first time float32 overflows
        self._truth = None if kind == "regression" else predicted_class(y, self.output_activation)
        self._key: tuple[bytes, str, float] | None = None
        self._last: Metrics | None = None
        self._ran: bytes | None = None  # the θ the forward's buffers were computed at

    def __call__(self, cost: Cost, penalty: float) -> Metrics:
        """The metrics at the current θ; the previous ones again if θ and the rest are equal."""
        theta = self.theta.tobytes()
        key = (theta, cost.name, penalty)
        if key != self._key or self._last is None:
            fwd = self._run(theta)
            with np.errstate(all="ignore"):  # not finite: reported in ``finite``
                self._last = self._compute(fwd, self.y, cost, penalty)
                if not self._last.finite and self.forward.dtype != np.float64:
                    self._last = self._compute(self._run64(), self._y64, cost, penalty)
            self._key = key
        return self._last

    def forward_at_theta(self) -> Feedforward:
        """The core forward after a pass at the current θ over all points (train rows first),
        ``z(l)`` and ``a(l)`` ``(n_l, N)``: the metrics' own pass, run again only if θ has
        changed since."""
        return self._run(self.theta.tobytes())

    def _run(self, theta: bytes) -> Feedforward:
        fwd = self.forward
        if theta != self._ran:
            fwd.set_theta(self.theta)
            fwd.run()
            self._ran = theta
        return fwd

    def _run64(self) -> Feedforward:
        """The same pass in float64 at the current θ (rare: a run whose float32 pass
        overflowed)."""
        if self._forward64 is None:
            net = self._net
            self._forward64 = Feedforward(net.sizes, net.activations, self._x, np.float64)
        fwd = self._forward64
        fwd.set_theta(self.theta)
        fwd.run()
        return fwd

    def _compute(self, fwd: Feedforward, y: Array, cost: Cost, penalty: float) -> Metrics:
        L = len(fwd.sizes)
        z_L, a_L = fwd.z(L).T, fwd.a(L).T  # (N, n_L), one point per row
        c = cost.per_example(z_L, a_L, y)
        n, n_test = self.n_train, len(c) - self.n_train
        sums = np.add.reduceat(c, [0, n] if n_test else [0], dtype=np.float64).tolist()
        train = sums[0] / n + penalty
        test = sums[1] / n_test + penalty if n_test else math.nan
        finite = math.isfinite(train) and (not n_test or math.isfinite(test))
        if self._truth is None:
            return Metrics(round4(train), round4(test), None, None, finite)
        hit = predicted_class(a_L, self.output_activation) == self._truth
        acc_train = round4(np.count_nonzero(hit[:n]) / n)
        acc_test = round4(np.count_nonzero(hit[n:]) / n_test) if n_test else None
        return Metrics(round4(train), round4(test), acc_train, acc_test, finite)
