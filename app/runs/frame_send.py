"""A frame's send plan: which buffer elements are sent, and the arithmetic done on them.

The values that are sent are gathered (one ``take``) from a frame's buffer
(:class:`app.runs.frame_arena.FrameArena`) into a short one: first the plain values, then
the left factors of the products (the edges ``w_jk a_k``, ``w_jk δ_j``, ``a_k δ_j``, and the
gradient's batch sum times ``1/m``), which one multiply by the gathered right factors
completes. The norms are square roots of sums of squares over segments of it, and the whole
is rounded to 4 significant digits into ``send32`` in one pass. NumPy calls on arrays this
small cost about a microsecond each whatever they compute, so the index arrays are made
once, and the per-frame work (:meth:`SendPlan.finish`) is a fixed list of calls into
preallocated buffers.

One reason to change: what a frame sends and how its numbers are computed. Where the values
come from is :mod:`app.runs.frame_arena`'s; the JSON shape they are sent in is
:mod:`app.runs.frame_template`'s, which reads ``send32`` through views laid out by
:meth:`SendPlan.views` (one per named slot).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from app.runs.frame_arena import Factors, Index
from app.runs.rounding import CLIP, make_finite, round_sig

_CLIP2 = CLIP * CLIP  # a sum of squares below it has every |value| below CLIP

# Each layer's slots, by name: a frame's per-layer arrays (``docs/frames.md``); ``mean_*`` are
# the batch means, ``edges_*`` the edge products of the probe and of the batch.
LAYER_SLOTS = (
    "w",
    "b",
    "grad_w",
    "z",
    "a",
    "delta",
    "sigma_prime",
    "mean_z",
    "mean_a",
    "mean_delta",  # = grad_b (BP3: biases are never regularised)
    "mean_sigma_prime",
    "probe_forward",
    "probe_backward",
    "mean_forward",
    "mean_backward",
    "probe_gradient",
    "mean_gradient",
)
# Each layer's norms: the square root of the sum of squares of a slot.
NORMS = {
    "grad_b": "mean_delta",  # ‖∂C/∂b^l‖₂ of the batch (the mean δ^l, BP3)
    "grad_w": "grad_w",  # ‖∂C/∂w^l‖_F of the batch
    "probe_delta": "delta",  # the probe's ‖δ^l‖₂
    "probe_grad_w": "probe_gradient",  # the probe's ‖∂C_x/∂w^l‖_F (its a_k δ_j)
}


class SendPlan:
    """The gather indices of every sent array, the norms' segments, and the buffers the
    per-frame arithmetic writes: ``send32`` (what is sent, rounded), ``norms`` (per layer, by
    name), and ``vals`` (the last frame's values before rounding, for the tests)."""

    def __init__(self, buf_size: int, f: Factors) -> None:
        one, inv_m = f.consts
        # A plain value is gathered by one index; a product by two, its left and right
        # factor, multiplied after the gather. Products have a second pair for frames with a
        # regulariser: ``grad_w`` is then ∂C/∂w, and the sums have been scaled by 1/m in
        # place (so they are multiplied by 1).
        plain: list[Index] = []
        prods: list[tuple[Index, Index, Index, Index]] = []
        slots: list[tuple[bool, int, tuple[int, ...]]] = []

        def send(idx: Index) -> int:
            slots.append((False, sum(p.size for p in plain), idx.shape))
            plain.append(idx.reshape(-1))
            return len(slots) - 1

        def product(left: Index, right: Any, left_reg: Any = None, right_reg: Any = None) -> int:
            """Gather left · right (broadcast), or left_reg · right_reg with a regulariser."""
            shape = np.broadcast_shapes(left.shape, np.shape(right))
            left_reg = left if left_reg is None else left_reg
            right_reg = right if right_reg is None else right_reg
            v = [np.broadcast_to(x, shape).reshape(-1) for x in (left, right, left_reg, right_reg)]
            slots.append((True, sum(p[0].size for p in prods), shape))
            prods.append((v[0], v[1], v[2], v[3]))
            return len(slots) - 1

        self.probe_slots = {
            "point": send(f.point),
            "x": send(f.a[0][0]),
            "mean_x": send(f.a[0][1]),
            "y": send(f.y),
            "back": send(f.back),
        }
        self.layer_slots: list[dict[str, int]] = []
        for i, w_aug in enumerate(f.w):
            k = w_aug.shape[1] - 1
            w, gm, gw = w_aug[:, :k], f.g[i][:, :k], f.gw[i][:, :k]
            a_k, d_j = f.a[i][:, None, :], f.delta[i][:, :, None]  # (2, 1, k), (2, n, 1)
            qs = (f.z[i], f.a[i + 1], f.delta[i], f.sigma_prime[i])
            found = (
                [send(w), send(w_aug[:, k]), product(gm, inv_m, gw, one)]  # w, b, grad_w
                + [send(q[c]) for c in (0, 1) for q in qs]
                + [product(w, v[c]) for c in (0, 1) for v in (a_k, d_j)]  # w_jk a_k, w_jk δ_j
                + [product(d_j[0], a_k[0]), product(gm, inv_m, gm, one)]  # δ_j a_k
            )
            self.layer_slots.append(dict(zip(LAYER_SLOTS, found, strict=True)))
        n_plain = sum(p.size for p in plain)
        self._n_plain = n_plain
        total = n_plain + sum(p[0].size for p in prods)
        self._offsets = [(o + n_plain if is_prod else o, sh) for is_prod, o, sh in slots]
        # Norms: square roots of sums over segments of the squares; ``reduceat`` sums each
        # [start, end) (and gives a[end] after it, unused), and a final index 0 adds the sum
        # of all squares, which bounds every |value|.
        self.norms_by_layer: list[dict[str, float]] = [dict.fromkeys(NORMS, 0.0) for _ in f.w]
        segments = []
        for norms, sl in zip(self.norms_by_layer, self.layer_slots, strict=True):
            for name, slot in NORMS.items():
                o, sh = self._offsets[sl[slot]]
                segments.append((o, o + math.prod(sh), norms, name))
        segments.sort(key=lambda s: s[0])
        self._norm_idx = np.array([b for s in segments for b in s[:2]] + [0], dtype=np.intp)
        self._norms = [(s[2], s[3]) for s in segments]
        n_norms = len(segments)
        # Per "regularised": the indices of the sent values (plain, then the products' left
        # factors), as many of the norms' slots (filled by the gather, then by the norms),
        # and those of the products' right factors: one gather for all.
        norm_slots = np.zeros(n_norms, np.intp)
        self._gather = [
            np.concatenate(plain + [p[j] for p in prods] + [norm_slots] + [p[j + 1] for p in prods])
            for j in (0, 2)
        ]
        assert max(int(g.max()) for g in self._gather) < buf_size
        # Buffers of the per-frame arithmetic, made once.
        self.send32 = np.zeros(total, dtype="<f4")  # little-endian: packed frames send its bytes
        self.vals = np.zeros(total)
        # The gathered values (scaled in place while being rounded) and the norms after them,
        # rounded in one pass; then the right factors.
        self._gathered = np.zeros(2 * total - n_plain + n_norms)
        self._work, self._right = self._gathered[:total], self._gathered[total + n_norms :]
        self._rounded = self._gathered[: total + n_norms]
        self._norm_vals = self._gathered[total : total + n_norms]
        self._sq = np.zeros(total + 1)  # squares of the sent values, one slack element
        self._sq_sent = self._sq[:-1]
        self._sums = np.zeros(len(self._norm_idx))
        self._tmp = np.empty(total + n_norms)
        self._tmp_sent = self._tmp[:total]
        self._scratch = (np.empty(total + n_norms, np.intp), np.empty(total + n_norms))

    @property
    def layout(self) -> list[tuple[int, tuple[int, ...]]]:
        """Per slot, its (offset, shape) in the sent values (``send32``)."""
        return self._offsets

    def views(self, flat: NDArray[Any]) -> list[NDArray[Any]]:
        """Per slot (the numbers :attr:`probe_slots` and :attr:`layer_slots` hold), a view of
        ``flat`` (laid out as the sent values: ``send32`` or ``vals``) in its shape."""
        return [flat[o : o + math.prod(sh)].reshape(sh) for o, sh in self._offsets]

    def norms(self) -> list[dict[str, float]]:
        """Each layer's norms of the last :meth:`finish` (the frame's dicts: read only)."""
        return self.norms_by_layer

    def finish(self, buf: NDArray[np.float64], regularised: bool) -> bool:
        """Gather from ``buf``, multiply the products, take the norms, round both to 4
        significant digits (``send32``, and the norms' dicts); False if some sent value was
        not finite (it is clipped)."""
        vals = self._work
        # the indices are in range (checked when made): mode='wrap' skips take's buffered
        # out (mode='raise' copies through a temporary)
        buf.take(self._gather[regularised], out=self._gathered, mode="wrap")
        prods = vals[self._n_plain :]
        np.multiply(prods, self._right, out=prods)
        sq, sq_sent, sums = self._sq, self._sq_sent, self._sums
        np.multiply(vals, vals, out=sq_sent)
        np.add.reduceat(sq, self._norm_idx, out=sums)
        finite = True
        if not sums[-1] < _CLIP2:  # some |value| may be ≥ CLIP, infinite or NaN
            tmp = self._tmp_sent
            np.abs(vals, out=tmp)
            biggest = float(np.maximum.reduce(tmp))
            finite = math.isfinite(biggest)
            if not biggest <= CLIP:
                make_finite(vals)
                np.multiply(vals, vals, out=sq_sent)
                np.add.reduceat(sq, self._norm_idx, out=sums)
        # The sums are finite now (every |value| ≤ CLIP), and so are the norms.
        np.sqrt(sums[:-1:2], out=self._norm_vals)
        np.copyto(self.vals, vals)  # kept for the tests (the rounding scales in place)
        # The values and the norms rounded in one pass, in float64: rint(x·10^k) / 10^k, the
        # double nearest the 4-digit decimal (the norms are sent as such; float32 for the rest)
        round_sig(self._rounded, self._tmp, scratch=self._scratch)
        np.copyto(self.send32, vals, casting="same_kind")
        for (norms, name), norm in zip(self._norms, self._norm_vals.tolist(), strict=True):
            norms[name] = norm
        return finite
