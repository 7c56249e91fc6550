"""A feedback rule's frame: backprop's own numbers beside the rule's, and the alignment.

Under a rule other than the transpose (``docs/frames.md``, "Feedback rules") the frame's
pass (:class:`app.runs.frames.FrameBuilder`) records the rule's δ and gradient. This adds
the engine's transpose pass on the same θ, x and y, into buffers of its own, and per layer:

- ``true_delta`` (the probe's δ^l), ``true_grad_w`` (batch mean, the regulariser's gradient
  included, as the rule's ``grad_w``) and ``true_grad_b``, gathered into one float64 buffer
  and rounded (4 significant digits, float32) in one pass into views the frame's layer dicts
  hold, so a frame costs a fixed list of NumPy calls;
- ``alignment``: the cosine between the rule's and the true ``grad_w^l`` (weights only), from
  the unrounded values: three products over all layers and one segment sum.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from app.core.fast_step import FastStep
from app.core.network import Network
from app.runs.rounding import make_finite, round_sig

if TYPE_CHECKING:
    from app.runs.frames import FrameBuilder

Array = NDArray[np.float64]


class FrameTruth:
    """The true δ and gradients beside a rule's, for one frame builder."""

    def __init__(self, fb: FrameBuilder, net: Network, cancels: bool) -> None:
        ar, sizes = fb.arena, fb.sizes
        # Weak: the builder holds this (fb.truth); a strong reference back made a cycle, and
        # a replaced builder's buffers (3 MB for a batch of 512) waited for the cyclic GC.
        self._fb = weakref.ref(fb)
        self.record = np.ones(FastStep.record_size(sizes, ar.cols))
        self.G = np.zeros(fb.G.size)
        self.step = FastStep(
            net,
            ar.theta_views(fb.W),
            ar.theta_views(self.G),
            ar.cols,
            cancels,
            record=self.record,
            first=1,
        )
        self.step.scale[()] = 1.0  # δ itself, and the gradient as the batch's sum
        pairs = list(zip(sizes[1:], sizes[:-1], strict=True))
        n_w = sum(n * k for n, k in pairs)
        n_d = sum(sizes[1:])
        # vals: every layer's true grad_w (row-major), then every δ, then every grad_b;
        # rule: the rule's grad_w in the same layout as the first part
        self.vals = np.zeros(n_w + 2 * n_d)
        self.tmp = np.empty_like(self.vals)
        self.rule = np.zeros(n_w)
        self.sent = np.zeros(self.vals.size, dtype=np.float32)
        self.products = np.zeros((3, n_w))
        w_starts = np.cumsum([0] + [n * k for n, k in pairs]).tolist()
        d_starts = np.cumsum([0] + [n for n, _ in pairs]).tolist()
        self.segments = np.array(w_starts[:-1], dtype=np.intp)

        def views(flat: NDArray[Any]) -> list[tuple[NDArray[Any], NDArray[Any], NDArray[Any]]]:
            return [
                (
                    flat[w_starts[i] : w_starts[i + 1]].reshape(n, k),
                    flat[n_w + d_starts[i] : n_w + d_starts[i + 1]],
                    flat[n_w + n_d + d_starts[i] : n_w + n_d + d_starts[i + 1]],
                )
                for i, (n, k) in enumerate(pairs)
            ]

        self._vals = views(self.vals)
        self._rule = [
            self.rule[w_starts[i] : w_starts[i + 1]].reshape(n, k) for i, (n, k) in enumerate(pairs)
        ]
        delta = self.step.record_views(self.record)[3]  # (1+m, n_l); row 0: the probe
        theta = ar.theta_views
        true_g, rule_g, rule_gw, w = theta(self.G), theta(fb.G), theta(fb.GW), theta(fb.W)
        self._probe_delta = [d[0] for d in delta]
        self._true_w = [g[:, :k] for g, (_, k) in zip(true_g, pairs, strict=True)]
        self._true_b = [g[:, k] for g, (_, k) in zip(true_g, pairs, strict=True)]
        self._rule_w = [g[:, :k] for g, (_, k) in zip(rule_g, pairs, strict=True)]
        self._rule_gw = [g[:, :k] for g, (_, k) in zip(rule_gw, pairs, strict=True)]
        self._w = [v[:, :k] for v, (_, k) in zip(w, pairs, strict=True)]
        self.layers: list[dict[str, Any]] = [
            {"true_delta": d, "true_grad_w": gw, "true_grad_b": gb, "alignment": None}
            for gw, d, gb in views(self.sent)
        ]

    def fill(self, reg_grad: Callable[[Array], Array] | None, coef: float) -> None:
        """After the rule's pass (``fb.G`` holds its batch sums, or its means with ``fb.GW``
        its regularised ∂C/∂w when ``coef``): the true pass, the alignments, and the rounded
        values in :attr:`layers` (the frame's layer dicts take them by
        ``extend_layers(layers)``, once per frame)."""
        fb = self._fb()
        assert fb is not None, "a frame builder's truth outlived it"
        self.step(fb.x_T, fb.y_T)
        inv_m = 1.0 / fb.m
        for i, (gw, d, gb) in enumerate(self._vals):
            np.multiply(self._true_w[i], inv_m, out=gw)
            np.copyto(d, self._probe_delta[i])
            np.multiply(self._true_b[i], inv_m, out=gb)
            if coef and reg_grad is not None:  # the regulariser's gradient, as the rule's
                gw += reg_grad(self._w[i]) * coef
                np.copyto(self._rule[i], self._rule_gw[i])
            else:
                np.multiply(self._rule_w[i], inv_m, out=self._rule[i])
        n_w = self.rule.size
        u, v, p = self.rule, self.vals[:n_w], self.products
        np.multiply(u, v, out=p[0])
        np.multiply(u, u, out=p[1])
        np.multiply(v, v, out=p[2])
        sums = np.add.reduceat(p, self.segments, axis=1).T.tolist()
        for layer, (uv, uu, vv) in zip(self.layers, sums, strict=True):
            layer["alignment"] = _cosine(uv, uu, vv)
        make_finite(self.vals)
        round_sig(self.vals, self.tmp, out=self.sent)


def _cosine(uv: float, uu: float, vv: float) -> float | None:
    """``uv / √(uu·vv)`` clipped to [−1, 1]; None when a norm is zero or not finite."""
    if not (0.0 < uu < math.inf and 0.0 < vv < math.inf) or not math.isfinite(uv):
        return None
    return max(-1.0, min(1.0, uv / (math.sqrt(uu) * math.sqrt(vv))))
