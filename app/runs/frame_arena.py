"""Where a frame's numbers live: the regions of one flat float64 buffer, and the element
index, in it, of every quantity a frame reads or sends.

One reason to change: the buffer's layout (or the engine's recording layout, which
:class:`app.core.fast_step.FastStep` describes with :meth:`~FastStep.record_views`). The
maths that fills the buffer is :class:`app.runs.frames.FrameBuilder`'s; what is gathered
from it and sent is :class:`app.runs.frame_send.SendPlan`'s, through the indices made here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from app.core.fast_step import FastStep

Index = NDArray[Any]


@dataclass(frozen=True)
class Factors:
    """Element indices, in a frame's buffer, of what the send plan sends or multiplies.

    ``point`` (d,), ``y`` (n_L,) the probe's; ``back`` (n_1,) the probe's ``(w²)ᵀδ²``;
    ``consts`` ``[1, 1/m]``; per layer l = 2..L
    (index l − 2): ``w``, ``g`` (batch sum of ∂C/∂w), ``gw`` (regularised ∂C/∂w), each
    ``(n_l, n_{l-1} + 1)`` with the bias last; ``z``, ``delta``, ``sigma_prime`` ``(2, n_l)``
    (row 0 the probe's, row 1 the batch mean); ``a``: the same for l = 1..L (the input first).
    """

    point: Index
    y: Index
    back: Index
    consts: Index
    w: list[Index]
    g: list[Index]
    gw: list[Index]
    a: list[Index]
    z: list[Index]
    delta: list[Index]
    sigma_prime: list[Index]


class FrameArena:
    """Regions of one flat float64 buffer: what a frame's pass reads and writes.

    ``point`` (d,), ``back`` (n_1,: the probe's ``(w²)ᵀδ²``), ``consts`` ``[1, 1/m]``,
    ``W`` (θ, the trainer's layout: layer by layer ``[w^l | b^l]`` row-major), ``G`` (the
    batch sum of ``[∂C/∂w^l | ∂C/∂b^l]``, same layout),
    ``GW`` (the regularised ∂C/∂w, same layout), ``means`` (one per row of ``XR``),
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
            "back": sizes[0],
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
        self.point_dim = point_dim

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

    def x_T(self, buf: NDArray[Any]) -> NDArray[Any]:
        """``[x; 1]`` ``(n_1 + 1, 1+m)``: the probe's column, then the batch's."""
        return self.region(buf, "XR")[: self.n_x].reshape(self.sizes[0] + 1, self.cols)

    def y_T(self, buf: NDArray[Any]) -> NDArray[Any]:
        """``y`` ``(n_L, 1+m)``, the probe's column first."""
        return self.region(buf, "y").reshape(self.sizes[-1], self.cols)

    def record(self, buf: NDArray[Any]) -> NDArray[Any]:
        """The engine's recording buffer (z, a, σ', δ of every layer, 1+m columns each)."""
        return self.region(buf, "XR")[self.n_x :]

    def input_index(self) -> Index:
        """Where a frame's inputs go, joined in this order: θ, then the probe's point, x, y,
        then the batch's x ``(m, n_1)`` and y ``(m, n_L)``, row-major."""
        i, n1 = np.arange(self.size), self.sizes[0]
        i_x, i_y = self.x_T(i), self.y_T(i)
        return np.concatenate(
            [
                self.region(i, "W"),
                self.region(i, "point"),
                i_x[:n1, 0],
                i_y[:, 0],
                i_x[:n1, 1:].T.reshape(-1),
                i_y[:, 1:].T.reshape(-1),
            ]
        )

    def factors(self, step: FastStep) -> Factors:
        """Element indices of every quantity the send plan gathers; ``step`` is the engine
        whose recording buffer is :meth:`record` (it says where z, a, σ', δ are in it)."""
        sizes, cols = self.sizes, self.cols
        i = np.arange(self.size)
        z, a, s, d = step.record_views(self.record(i))
        i_x = self.x_T(i)[: sizes[0]]
        mean0, xr0 = self.start["means"], self.start["XR"]

        def probe_and_mean(v: NDArray[Any]) -> NDArray[Any]:
            """``(2, n)``: a layer's probe values and batch means, from its ``(1+m, n)``."""
            p = v[0]
            return np.stack([p, mean0 + (p - xr0) // cols])

        return Factors(
            point=self.region(i, "point"),
            y=self.y_T(i)[:, 0],
            back=self.region(i, "back"),
            consts=self.region(i, "consts"),
            w=self.theta_views(self.region(i, "W")),
            g=self.theta_views(self.region(i, "G")),
            gw=self.theta_views(self.region(i, "GW")),
            a=[probe_and_mean(i_x.T)] + [probe_and_mean(v) for v in a],
            z=[probe_and_mean(v) for v in z],
            delta=[probe_and_mean(v) for v in d],
            sigma_prime=[probe_and_mean(v) for v in s],
        )
