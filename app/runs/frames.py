"""Build a frame's tensors (``docs/frames.md``) from the engine's recording.

The maths is the engine's: one call of :class:`app.core.fast_step.FastStep` in its recording
mode, update-free, on the probe example beside the next batch (column 0 = probe, columns
1..m = batch, one column per example), at the current θ. It leaves every layer's z, a, σ'
and δ in its recording buffer and the batch's ``[∂C/∂w | ∂C/∂b]`` sums (the probe's column
left out) in the gradient buffer; C_x is the cost registry's. :class:`FrameBuilder` takes the
batch means (one product), adds the regulariser's gradient, and skips all work when its
inputs equal the previous call's (a paused run asked for the same frame again).

A frame is built by four pieces, each with one reason to change:

- :mod:`app.runs.frame_arena`: where every number lives in the one flat buffer;
- this module: the maths that fills it (the engine, means, regulariser, costs);
- :mod:`app.runs.frame_send`: what is sent, gathered, multiplied, normed and rounded;
- :mod:`app.runs.frame_template`: the JSON shape it is sent in.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import orjson

from app.core.costs import Cost
from app.core.fast_step import FastStep
from app.core.feedback import Feedback
from app.core.network import Network
from app.core.regularisers import get_regulariser
from app.runs.frame_arena import FrameArena
from app.runs.frame_send import SendPlan
from app.runs.frame_template import FrameTemplate
from app.runs.frame_truth import FrameTruth
from app.runs.rounding import Array, round4

OPTS = orjson.OPT_SERIALIZE_NUMPY


def encode(obj: object) -> bytes:
    return orjson.dumps(obj, option=OPTS)


class FrameBuilder:
    """The per-layer part of a frame for one network shape and one batch size m: the maths.

    Owns the buffer laid out by its arena (:class:`FrameArena`), the engine's recording step
    on it (its own copy of θ, so the trainer is never touched), the send plan that gathers
    from it (:class:`SendPlan`) and the template that shapes what is sent
    (:class:`FrameTemplate`: ``probe``, ``input`` and ``layers``).
    """

    def __init__(
        self, net: Network, cost: Cost, m: int, point_dim: int, feedback: Feedback | None = None
    ) -> None:
        sizes = net.sizes
        self.m, self.cost, self.sizes = m, cost, sizes
        ar = self.arena = FrameArena(sizes, m, point_dim)
        self.buf = buf = np.zeros(ar.size)
        cols = ar.cols
        ar.region(buf, "consts")[:] = 1.0, 1.0 / m
        self.W, self.G, self.GW = (ar.region(buf, r) for r in ("W", "G", "GW"))
        self.means = ar.region(buf, "means")
        self.x_T, self.y_T = ar.x_T(buf), ar.y_T(buf)
        self.x_T[-1] = 1.0
        # x and the recording as one (rows, 1+m) matrix: its batch columns' row means
        self._batch_rows = ar.region(buf, "XR").reshape(ar.rows, cols)[:, 1:]
        self._inv_m = np.full(m, 1.0 / m)
        self.step = FastStep(
            net,
            ar.theta_views(self.W),
            ar.theta_views(self.G),
            cols,
            cost.sigma_prime_cancels,
            record=ar.record(buf),
            first=1,
            feedback=feedback,
        )
        self.step.scale[()] = 1.0  # δ itself, and the gradient as the batch's sum
        z, a, _, d = self.step.record_views(ar.record(buf))
        self._z_L, self._a_L, self._y = z[-1], a[-1], self.y_T.T
        # (w²)ᵀδ² of the probe: its error carried back to the inputs (∂C_x/∂a¹), one product
        self._w2_T, self._delta2 = ar.theta_views(self.W)[0][:, :-1].T, d[0][0]
        self.back = ar.region(buf, "back")
        self._input_dst = ar.input_index()
        self.plan = SendPlan(ar.size, ar.factors(self.step))
        self.template = FrameTemplate(self.plan, net.activations)
        self.probe, self.input = self.template.probe, self.template.input
        self._key: tuple[Any, ...] | None = None
        self._result: tuple[float | None, bool] = (None, False)
        self.fills = 0  # fills that computed: the buffer's numbers are the same while it stays
        self.truth = None
        if feedback is not None and not feedback.exact:  # backprop's numbers beside the rule's
            self.truth = FrameTruth(self, net, cost.sigma_prime_cancels)
        if self.truth is None:  # the transpose: the rule's update is the gradient step
            self.template.extend_layers([{"alignment": 1.0} for _ in sizes[1:]])

    @property
    def layers(self) -> orjson.Fragment:
        """The frame's ``layers`` list, encoded once per :meth:`fill` that computed."""
        return self.template.layers

    @property
    def packed_layers(self) -> tuple[orjson.Fragment, bytes]:
        """A packed frame's ``layers`` and its float32 data (:mod:`app.runs.frame_pack`)."""
        return self.template.packed_layers

    def unrounded(self) -> list[dict[str, Any]]:
        """The last :meth:`fill`'s ``layers`` before rounding (see
        :meth:`FrameTemplate.unrounded`)."""
        return self.template.unrounded()

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
        self.fills += 1
        self.template.invalidate()
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
        np.dot(self._w2_T, self._delta2, out=self.back)
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
            self.truth.fill(reg.grad if coef else None, coef)
            self.template.extend_layers(self.truth.layers)
        batch_cost = float(np.add.reduce(c[1:])) / self.m + penalty
        finite = self.plan.finish(self.buf, coef != 0.0)
        return round4(batch_cost), finite and math.isfinite(batch_cost)
