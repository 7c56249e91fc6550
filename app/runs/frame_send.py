"""A frame's send plan: which buffer elements are sent, gathered, rounded, and templated.

The values that are sent are gathered (one fancy index) from a frame's buffer
(:class:`app.runs.frames.FrameArena`) into a short one: first the plain values, then the
left factors of the products (the edges ``w_jk a_k``, ``w_jk δ_j``, ``a_k δ_j``, and the
gradient's batch sum times ``1/m``), which one multiply by the gathered right factors
completes. The result is rounded to 4 significant digits into ``send32`` in one pass, and
read by orjson through float32 views held by a template dict built once per network shape
and batch size: only the scalars change between frames. The layers are encoded once per
frame computed (``layers`` is a pre-encoded :class:`orjson.Fragment`). NumPy calls on
arrays this small cost about a microsecond each whatever they compute, so the index arrays
and views are made once, and the per-frame work is a fixed list of calls.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
from numpy.typing import NDArray

from app.runs.rounding import CLIP, make_finite, round_sig

_CLIP2 = CLIP * CLIP  # a sum of squares below it has every |value| below CLIP
Index = NDArray[Any]


@dataclass(frozen=True)
class Factors:
    """Element indices, in a frame's buffer, of what the plan sends or multiplies.

    ``point`` (d,), ``y`` (n_L,) the probe's; ``consts`` ``[1, 1/m]``; per layer l = 2..L
    (index l − 2): ``w``, ``g`` (batch sum of ∂C/∂w), ``gw`` (regularised ∂C/∂w), each
    ``(n_l, n_{l-1} + 1)`` with the bias last; ``z``, ``delta``, ``sigma_prime`` ``(2, n_l)``
    (row 0 the probe's, row 1 the batch mean); ``a``: the same for l = 1..L (the input first).
    """

    point: Index
    y: Index
    consts: Index
    w: list[Index]
    g: list[Index]
    gw: list[Index]
    a: list[Index]
    z: list[Index]
    delta: list[Index]
    sigma_prime: list[Index]


class SendPlan:
    """Gather indices of every sent array, the template dict, and the norm segments."""

    def __init__(self, buf_size: int, f: Factors, activations: list[str]) -> None:
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

        s_point, s_x, s_mx, s_y = send(f.point), send(f.a[0][0]), send(f.a[0][1]), send(f.y)
        layer_slots = []
        for i, w_aug in enumerate(f.w):
            k = w_aug.shape[1] - 1
            w, gm, gw = w_aug[:, :k], f.g[i][:, :k], f.gw[i][:, :k]
            a_k, d_j = f.a[i][:, None, :], f.delta[i][:, :, None]  # (2, 1, k), (2, n, 1)
            qs = (f.z[i], f.a[i + 1], f.delta[i], f.sigma_prime[i])
            layer_slots.append(
                [send(w), send(w_aug[:, k]), product(gm, inv_m, gw, one)]  # w, b, grad_w
                + [send(q[c]) for c in (0, 1) for q in qs]
                + [product(w, v[c]) for c in (0, 1) for v in (a_k, d_j)]  # w_jk a_k, w_jk δ_j
                + [product(d_j[0], a_k[0]), product(gm, inv_m, gm, one)]  # δ_j a_k
            )
        n_plain = sum(p.size for p in plain)
        self._n_plain = n_plain
        # (gathered indices, right factors), indexed by "regularised"
        self._gather = [
            (
                np.concatenate(plain + [p[j] for p in prods]),
                np.concatenate([p[j + 1] for p in prods]),
            )
            for j in (0, 2)
        ]
        assert max(int(g.max()) for pair in self._gather for g in pair) < buf_size
        total = len(self._gather[0][0])
        self._sq = np.zeros(total + 1)  # squares of the sent values, one slack element
        self._sq_sent = self._sq[:-1]
        self.send32 = np.zeros(total, dtype=np.float32)
        self._tmp = np.empty(total)
        self._offsets = [(o + n_plain if is_prod else o, sh) for is_prod, o, sh in slots]
        self._slots, self._activations = layer_slots, activations
        self._vals: NDArray[np.float64] = np.zeros(total)
        self._layers = self._template(self.send32)
        offsets = self._offsets
        v = self._views(self.send32)
        # Norms: ‖∂C/∂w^l‖_F and ‖∂C/∂b^l‖₂ (the mean δ^l, BP3) of the batch, the probe's
        # ‖δ^l‖₂ and ‖∂C_x/∂w^l‖_F (its a_k δ_j), square roots of sums over segments of the
        # squares; ``reduceat`` sums each [start, end) (and gives a[end] after it, unused),
        # and a final index 0 adds the sum of all squares, which bounds every |value|.
        segments = []
        named = ((2, "grad_w"), (9, "grad_b"), (5, "probe_delta"), (15, "probe_grad_w"))
        for i, sl in enumerate(layer_slots):
            for j, name in named:
                o, sh = offsets[sl[j]]
                segments.append((o, o + math.prod(sh), self._layers[i]["norms"], name))
        segments.sort(key=lambda s: s[0])
        self._norm_idx = np.array([b for s in segments for b in s[:2]] + [0], dtype=np.intp)
        self._norms = [(s[2], s[3]) for s in segments]
        self.probe: dict[str, Any] = {
            "index": 0,
            "point": v[s_point],
            "x": v[s_x],
            "y": v[s_y],
            "cost": 0.0,
        }
        self.input = {"a": v[s_x], "mean_a": v[s_mx]}
        self._encoded: orjson.Fragment | None = None

    def _views(self, flat: NDArray[Any]) -> list[NDArray[Any]]:
        return [flat[o : o + math.prod(sh)].reshape(sh) for o, sh in self._offsets]

    def _template(self, flat: NDArray[Any]) -> list[dict[str, Any]]:
        """The ``layers`` list with views of ``flat`` (laid out as the sent values)."""
        v = self._views(flat)
        out = []
        for i, sl in enumerate(self._slots):
            w, b, gw, z, a, d, sp, mz, ma, md, ms, pf, pb, mf, mb, pg, mg = (v[j] for j in sl)
            out.append(
                {
                    "l": i + 2,
                    "activation": self._activations[i],
                    "w": w,
                    "b": b,
                    "grad_w": gw,
                    "grad_b": md,  # BP3: the mean δ (biases are never regularised)
                    "z": z,
                    "a": a,
                    "delta": d,
                    "sigma_prime": sp,
                    "mean": {"z": mz, "a": ma, "delta": md, "sigma_prime": ms},
                    "edges": {
                        "probe": {"forward": pf, "backward": pb, "gradient": pg},
                        "mean": {"forward": mf, "backward": mb, "gradient": mg},
                    },
                    "norms": {
                        "grad_b": 0.0,
                        "grad_w": 0.0,
                        "probe_delta": 0.0,
                        "probe_grad_w": 0.0,
                    },
                }
            )
        return out

    def norms(self) -> list[dict[str, float]]:
        """Each layer's ``norms`` of the last :meth:`finish` (the frame's dicts: read only)."""
        return [layer["norms"] for layer in self._layers]

    def unrounded(self) -> list[dict[str, Any]]:
        """The last :meth:`finish`'s ``layers`` in float64, before rounding (copies; its
        ``norms`` are not filled): what the tests hold to the readable reference."""
        return self._template(self._vals.copy())

    @property
    def layers(self) -> orjson.Fragment:
        """The frame's ``layers`` list, encoded once per :meth:`finish`."""
        if self._encoded is None:
            self._encoded = orjson.Fragment(
                orjson.dumps(self._layers, option=orjson.OPT_SERIALIZE_NUMPY)
            )
        return self._encoded

    def extend_layers(self, extra: list[dict[str, Any]]) -> None:
        """Set ``extra[i]``'s keys in layer i's dict (layer l = i + 2): fields this plan does
        not gather (a feedback rule's, :mod:`app.runs.frames`); the caller keeps them current."""
        for layer, more in zip(self._layers, extra, strict=True):
            layer.update(more)
        self._encoded = None

    def invalidate(self) -> None:
        """The buffer is about to change: the encoded layers are stale."""
        self._encoded = None

    def finish(self, buf: NDArray[np.float64], regularised: bool) -> bool:
        """Gather from ``buf``, multiply the products, take the norms, round to 4 significant
        digits into ``send32``; False if some sent value was not finite (it is clipped)."""
        perm, right = self._gather[regularised]
        vals = buf[perm]
        prods = vals[self._n_plain :]
        np.multiply(prods, buf[right], out=prods)
        sq, sq_sent, tmp = self._sq, self._sq_sent, self._tmp
        np.multiply(vals, vals, out=sq_sent)
        sums = np.add.reduceat(sq, self._norm_idx).tolist()
        finite = True
        if not sums[-1] < _CLIP2:  # some |value| may be ≥ CLIP, infinite or NaN
            np.abs(vals, out=tmp)
            biggest = float(np.maximum.reduce(tmp))
            finite = math.isfinite(biggest)
            if not biggest <= CLIP:
                make_finite(vals)
                np.multiply(vals, vals, out=sq_sent)
                sums = np.add.reduceat(sq, self._norm_idx).tolist()
        # The sums are finite now (every |value| ≤ CLIP), and so are the norms.
        for (norms, name), total in zip(self._norms, sums[:-1:2], strict=True):
            norms[name] = float(f"{math.sqrt(total):.4g}")  # round4
        np.copyto(self._vals, vals)  # kept for :meth:`unrounded` (round_sig scales vals)
        round_sig(vals, tmp, out=self.send32)
        return finite
