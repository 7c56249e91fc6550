"""Build a frame (``docs/frames.md``) from the engine's recording, and encode it with orjson.

The maths is the engine's: one call of :class:`app.core.fast_step.FastStep` in its recording
mode, update-free, on the probe example beside the next batch (column 0 = probe, columns
1..m = batch, one column per example), at the current θ. It leaves every layer's z, a, σ'
and δ in its recording buffer and the batch's ``[∂C/∂w | ∂C/∂b]`` sums (the probe's column
left out) in the gradient buffer; C_x is the cost registry's. This module only lays the
buffers out (:class:`FrameArena`), takes the batch means (one product), adds the
regulariser's gradient, and hands the buffer to the send plan (:mod:`app.runs.frame_send`),
which gathers, rounds and holds the JSON template. :meth:`FrameBuilder.fill` skips all work
when its inputs equal the previous call's (a paused run asked for the same frame again).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import orjson
from numpy.typing import NDArray

from app.core.costs import Cost
from app.core.fast_step import FastStep
from app.core.feedback import Feedback, alignment
from app.core.network import Network
from app.core.regularisers import get_regulariser
from app.runs.frame_send import Factors, SendPlan
from app.runs.rounding import Array, round4, rounded32

OPTS = orjson.OPT_SERIALIZE_NUMPY


def encode(obj: object) -> bytes:
    return orjson.dumps(obj, option=OPTS)


class FrameArena:
    """Regions of one flat float64 buffer: what a frame's pass reads and writes.

    ``point`` (d,), ``consts`` ``[1, 1/m]``, ``W`` (θ, the trainer's layout: layer by layer
    ``[w^l | b^l]`` row-major), ``G`` (the batch sum of ``[∂C/∂w^l | ∂C/∂b^l]``, same
    layout), ``GW`` (the regularised ∂C/∂w, same layout), ``means`` (one per row of ``XR``),
    ``XR`` = ``[x; 1]`` ``(n_1 + 1, 1+m)`` followed by the engine's recording buffer (every
    block of it has 1+m columns too, so ``XR`` is one ``(rows, 1+m)`` matrix whose row
    means over the batch columns are one product), and ``y`` ``(n_L, 1+m)``.
    """

    def __init__(self, sizes: list[int], m: int, point_dim: int) -> None:
        cols = 1 + m
        n_theta = sum(n * (k + 1) for n, k in zip(sizes[1:], sizes[:-1], strict=True))
        n_x = (sizes[0] + 1) * cols
        n_rec = FastStep.record_size(sizes, cols)
        self.rows = (n_x + n_rec) // cols
        shapes = {
            "point": point_dim,
            "consts": 2,
            "W": n_theta,
            "G": n_theta,
            "GW": n_theta,
            "means": self.rows,
            "XR": n_x + n_rec,
            "y": sizes[-1] * cols,
        }
        self.start: dict[str, int] = {}
        offset = 0
        for name, size in shapes.items():
            self.start[name] = offset
            offset += size
        self.size, self.shapes, self.sizes, self.cols = offset, shapes, sizes, cols
        self.n_x = n_x

    def region(self, buf: NDArray[Any], name: str) -> NDArray[Any]:
        s = self.start[name]
        return buf[s : s + self.shapes[name]]

    def theta_views(self, flat: NDArray[Any]) -> list[NDArray[Any]]:
        """``[w^l | b^l]`` ``(n_l, n_{l-1} + 1)`` views of a θ-layout region."""
        out, offset = [], 0
        for n, k in zip(self.sizes[1:], self.sizes[:-1], strict=True):
            out.append(flat[offset : offset + n * (k + 1)].reshape(n, k + 1))
            offset += n * (k + 1)
        return out


class FrameBuilder:
    """The per-layer part of a frame for one network shape and one batch size m.

    Owns an arena (:class:`FrameArena`), the engine's recording step on it (its own copy of
    θ, so the trainer is never touched), and the send plan whose views the template holds.
    """

    def __init__(
        self, net: Network, cost: Cost, m: int, point_dim: int, feedback: Feedback | None = None
    ) -> None:
        sizes = net.sizes
        self.m, self.cost, self.sizes = m, cost, sizes
        ar = self.arena = FrameArena(sizes, m, point_dim)
        self.buf = buf = np.zeros(ar.size)
        cols, n1, nL = ar.cols, sizes[0], sizes[-1]
        ar.region(buf, "consts")[:] = 1.0, 1.0 / m
        self.W, self.G, self.GW = (ar.region(buf, r) for r in ("W", "G", "GW"))
        self.means = ar.region(buf, "means")
        xr = ar.region(buf, "XR")
        self._xr = xr.reshape(ar.rows, cols)
        self.x_T = xr[: ar.n_x].reshape(n1 + 1, cols)
        self.x_T[n1] = 1.0
        self.y_T = ar.region(buf, "y").reshape(nL, cols)
        self._batch_rows = self._xr[:, 1:]
        self._inv_m = np.full(m, 1.0 / m)
        self.step = FastStep(
            net,
            ar.theta_views(self.W),
            ar.theta_views(self.G),
            cols,
            cost.sigma_prime_cancels,
            record=xr[ar.n_x :],
            first=1,
            feedback=feedback,
        )
        self.step.scale[()] = 1.0  # δ itself, and the gradient as the batch's sum
        z, a, _, _ = self.step.record_views(xr[ar.n_x :])
        self._z_L, self._a_L, self._y = z[-1], a[-1], self.y_T.T
        self._input_dst = self._inputs(point_dim)
        self.plan = SendPlan(ar.size, self._factors(), net.activations)
        self.probe, self.input = self.plan.probe, self.plan.input
        self._key: tuple[Any, ...] | None = None
        self._result: tuple[float | None, bool] = (None, False)
        self.truth = None if feedback is None or feedback.exact else _Truth(self, net)
        if self.truth is None:  # the transpose: the rule's update is the gradient step
            self.plan.extend_layers([{"alignment": 1.0} for _ in sizes[1:]])

    def _inputs(self, point_dim: int) -> NDArray[Any]:
        """Where :meth:`fill`'s joined inputs go in the buffer: θ, then the probe's point,
        x, y, then the batch's x ``(m, n_1)`` and y ``(m, n_L)``, row-major."""
        ar, n1 = self.arena, self.sizes[0]
        i = np.arange(ar.size)
        i_x = ar.region(i, "XR")[: ar.n_x].reshape(n1 + 1, ar.cols)
        i_y = ar.region(i, "y").reshape(self.sizes[-1], ar.cols)
        return np.concatenate(
            [
                ar.region(i, "W"),
                ar.region(i, "point")[:point_dim],
                i_x[:n1, 0],
                i_y[:, 0],
                i_x[:n1, 1:].T.reshape(-1),
                i_y[:, 1:].T.reshape(-1),
            ]
        )

    def _factors(self) -> Factors:
        """Element indices, in the buffer, of every quantity the send plan gathers."""
        ar, sizes = self.arena, self.sizes
        i = np.arange(ar.size)
        rec0, cols = ar.start["XR"] + ar.n_x, ar.cols
        z, a, s, d = self.step.record_views(np.arange(FastStep.record_size(sizes, cols)) + rec0)
        i_x = ar.region(i, "XR")[: ar.n_x].reshape(sizes[0] + 1, cols)[: sizes[0]]
        mean0, xr0 = ar.start["means"], ar.start["XR"]

        def probe_and_mean(v: NDArray[Any]) -> NDArray[Any]:
            """``(2, n)``: a layer's probe values and batch means, from its ``(1+m, n)``."""
            p = v[0]
            return np.stack([p, mean0 + (p - xr0) // cols])

        return Factors(
            point=ar.region(i, "point"),
            y=ar.region(i, "y").reshape(sizes[-1], cols)[:, 0],
            consts=ar.region(i, "consts"),
            w=ar.theta_views(ar.region(i, "W")),
            g=ar.theta_views(ar.region(i, "G")),
            gw=ar.theta_views(ar.region(i, "GW")),
            a=[probe_and_mean(i_x.T)] + [probe_and_mean(v) for v in a],
            z=[probe_and_mean(v) for v in z],
            delta=[probe_and_mean(v) for v in d],
            sigma_prime=[probe_and_mean(v) for v in s],
        )

    @property
    def layers(self) -> orjson.Fragment:
        """The frame's ``layers`` list, encoded once per :meth:`fill` that computed."""
        return self.plan.layers

    def fill(
        self,
        theta: Array,
        probe: tuple[Array, Array, Array],
        batch: tuple[Array, Array],
        regulariser: str,
        lmbda: float,
        n_train: int,
        penalty: float,
    ) -> tuple[float | None, bool]:
        """Record the probe and batch and fill the send buffer; returns (batch cost, finite).

        ``theta``: the trainer's flat parameters; ``probe`` = (raw point (d,), x (n_1,),
        y (n_L,)); ``batch`` = (x (m, n_1), y (m, n_L)); all float64: their bytes, joined,
        are both the change key and the inputs that go into the buffer.
        """
        raw = b"".join(
            [
                theta.tobytes(),
                probe[0].tobytes(),
                probe[1].tobytes(),
                probe[2].tobytes(),
                batch[0].tobytes(),
                batch[1].tobytes(),
            ]
        )
        key = (raw, regulariser, lmbda, n_train, penalty)
        if key == self._key:  # nothing changed: the buffers hold this frame already
            return self._result
        self._key = None
        self.plan.invalidate()
        self.buf[self._input_dst] = np.frombuffer(raw)
        self._result = self._fill(regulariser, lmbda, n_train, penalty)
        self._key = key
        return self._result

    def _fill(
        self, regulariser: str, lmbda: float, n_train: int, penalty: float
    ) -> tuple[float | None, bool]:
        """The pass over the inputs that :meth:`fill` put in the buffer."""
        # The engine: forward, σ', BP1, BP2, and BP3 + BP4's batch sums, no update.
        self.step(self.x_T, self.y_T)
        # Probe rows are read in place; the batch means of x, z, a, σ', δ are one product.
        np.dot(self._batch_rows, self._inv_m, out=self.means)
        c = self.cost.per_example(self._z_L, self._a_L, self._y)  # C_x, (1+m,)
        # ∂C/∂w: BP4's batch mean plus λ/n·r'(w) (the registry's: L2 w, L1 sgn(w)).
        reg = get_regulariser(regulariser)
        coef = lmbda / n_train if reg.active else 0.0
        if coef:
            self.G *= 1.0 / self.m
            np.multiply(reg.grad(self.W), coef, out=self.GW)
            self.GW += self.G
        self.probe["cost"] = round4(c.item(0))
        if self.truth is not None:
            self.plan.extend_layers(self.truth.layers(reg.grad if coef else None, coef))
        batch_cost = float(np.add.reduce(c[1:])) / self.m + penalty
        finite = self.plan.finish(self.buf, coef != 0.0)
        return round4(batch_cost), finite and math.isfinite(batch_cost)


class _Truth:
    """Backprop's own pass beside a rule's (``docs/frames.md``, "Feedback rules"): the engine
    on the same arena's θ, x and y with the transpose, into buffers of its own, giving the
    true δ and gradient, and each layer's alignment of the rule's update with the true one."""

    def __init__(self, fb: FrameBuilder, net: Network) -> None:
        ar, sizes = fb.arena, fb.sizes
        self.fb = fb
        self.record = np.ones(FastStep.record_size(sizes, ar.cols))
        self.G = np.zeros(fb.G.size)
        self.step = FastStep(
            net,
            ar.theta_views(fb.W),
            ar.theta_views(self.G),
            ar.cols,
            fb.cost.sigma_prime_cancels,
            record=self.record,
            first=1,
        )
        self.step.scale[()] = 1.0
        self.delta = self.step.record_views(self.record)[3]  # (1+m, n_l); row 0: the probe
        self.w, self.g, self.gw = (ar.theta_views(v) for v in (fb.W, self.G, fb.GW))
        self.rule_g = ar.theta_views(fb.G)

    def layers(self, reg_grad: Any, coef: float) -> list[dict[str, Any]]:
        """Per layer: the true probe δ, batch-mean ∂C/∂w (with the regulariser's gradient,
        as the rule's ``grad_w``) and ∂C/∂b, rounded as the frame's, and the alignment
        (unrounded). Called after the rule's pass: ``fb.G`` holds its batch sums (means
        when regularised, with ``fb.GW`` its regularised ∂C/∂w)."""
        fb = self.fb
        self.step(fb.x_T, fb.y_T)
        inv_m = 1.0 / fb.m
        out = []
        for i, w_aug in enumerate(self.w):
            k = w_aug.shape[1] - 1
            true_w = self.g[i][:, :k] * inv_m
            if coef:
                extra = reg_grad(w_aug[:, :k]) * coef
                true_w += extra
                rule_w = self.gw[i][:, :k]
            else:
                rule_w = self.rule_g[i][:, :k] * inv_m
            out.append(
                {
                    "true_delta": rounded32(self.delta[i][0]),
                    "true_grad_w": rounded32(true_w),
                    "true_grad_b": rounded32(self.g[i][:, k] * inv_m),
                    "alignment": alignment(rule_w, true_w),
                }
            )
        return out
