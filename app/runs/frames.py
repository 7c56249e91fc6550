"""Build a frame (``docs/frames.md``) with few NumPy operations, and encode it with orjson.

One forward + backward pass runs on the probe example stacked on top of the next batch
(row 0 = probe, rows 1..m = batch), in the notation of ``notation.md``. Every layer is
computed in the same padded stacks, so most quantities take one operation for all layers.
The values that are sent are gathered into one buffer (the edges as products of two
gathered factors), rounded there in one pass, and read by orjson through float32 views held
by a template dict that is built once per network shape and batch size: only the scalars
change between frames. The layers are encoded once per distinct input (``layers`` is a
pre-encoded :class:`orjson.Fragment`), and :meth:`FrameBuilder.fill` skips all work when its
inputs equal the previous call's (a paused run asked for the same frame again). NumPy calls
on arrays this small cost about a microsecond each whatever they compute, so the views and
index arrays are made once, and the pass is a fixed list of calls on them.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import orjson
from numpy.typing import NDArray

from app.core.costs import Cost
from app.core.network import Network
from app.core.regularisers import get_regulariser
from app.runs.rounding import CLIP, Array, make_finite, round4, round_sig

OPTS = orjson.OPT_SERIALIZE_NUMPY
# 0-d arrays: a ufunc takes them a little faster than Python scalars.
_ONE, _HALF = np.array(1.0), np.array(0.5)
_CLIP2 = CLIP * CLIP  # a sum of squares below it has every |value| below CLIP


def encode(obj: object) -> bytes:
    return orjson.dumps(obj, option=OPTS)


class _Arena:
    """Regions of one flat buffer; the same layout over ``arange`` gives element indices."""

    def __init__(self) -> None:
        self.shapes: list[tuple[int, ...]] = []

    def add(self, *shape: int) -> int:
        self.shapes.append(shape)
        return len(self.shapes) - 1

    def views(self, buf: NDArray[Any]) -> list[NDArray[Any]]:
        out, offset = [], 0
        for shape in self.shapes:
            size = math.prod(shape)
            out.append(buf[offset : offset + size].reshape(shape))
            offset += size
        return out

    @property
    def size(self) -> int:
        return sum(math.prod(s) for s in self.shapes)


def _split(stack: NDArray[Any], nl: int) -> list[NDArray[Any]]:
    """``[Z; A; D; S]`` stacked on the first axis (``A`` has one layer more)."""
    return [stack[:nl], stack[nl : 2 * nl + 1], stack[2 * nl + 1 : 3 * nl + 1], stack[3 * nl + 1 :]]


class FrameBuilder:
    """The per-layer part of a frame for one network shape and one batch size m.

    All layers are computed together in padded stacks (``P`` = widest layer, ``Q`` = widest
    input to a layer, ``R = Q + 1``): ``Z``, ``A``, ``D``, ``S`` (σ') are ``(L-1, 1+m, R)``
    (``A``: ``(L, 1+m, R)``) and lie in one stack ``T``; ``A`` has a column of ones (so
    ``[w | b]`` times ``[a | 1]`` is ``z``), rows ``[probe; batch]``. Padding is zero in
    weights, so it never reaches a real neuron. One product of ``T`` with ``mix`` (rows
    ``[1, 0..0]`` and ``[0, 1/m..1/m]``) gives every layer's probe values and batch means
    ``M``, and one stacked product gives ``GM``, every layer's batch sum of ``δ_j a_k``. The
    values that are sent are gathered (one fancy index) into a short buffer: first the plain
    values, then the left factors of the products (the edges ``w_jk a_k``, ``w_jk δ_j``,
    ``a_k δ_j``, and ``GM`` times ``1/m``), which one multiply by the gathered right factors
    completes. The buffer is rounded into ``send32``; the template dict holds its views.
    """

    def __init__(self, net: Network, cost: Cost, m: int, point_dim: int) -> None:
        sizes = net.sizes
        nl = len(sizes) - 1
        P, Q = max(sizes[1:]), max(sizes)
        self.m, self.cost, self.sizes = m, cost, sizes
        self.P, self.Q = P, Q
        self.acts = net.layer_activations
        self.cancels = cost.sigma_prime_cancels
        self.mix = np.zeros((2, 1 + m))
        self.mix[0, 0] = 1.0
        self.mix[1, 1:] = 1.0 / m
        ar = _Arena()
        R, nl4 = Q + 1, 4 * nl + 1
        # Regions: point, y, W, T = [Z; A; D; S] (one stack, so one product gives every
        # probe row and batch mean), M = mix·T, GM, GW, and the factors [1, 1/m].
        for shape in (
            (point_dim,),
            (1 + m, sizes[-1]),
            (nl, R, R),
            (nl4, 1 + m, R),
            (nl4, 2, R),
            (nl, P, Q),
            (nl, P, Q),
            (2,),
        ):
            ar.add(*shape)
        self.buf = np.zeros(ar.size)
        self.point, self.y, self.W, self.T, self.M, self.GM, self.GW, consts = ar.views(self.buf)
        consts[:] = 1.0, 1.0 / m
        self.Z, self.A, self.D, self.S = _split(self.T, nl)
        self.MZ, self.MA, self.MD, self.MS = _split(self.M, nl)
        self.A[:, :, Q] = 1.0
        if self.cancels:
            self.S[-1, :, : sizes[-1]] = 1.0
        acts = self.acts
        self._same_prime = not self.cancels and acts[-1].name == acts[0].name
        self._views(ar)
        self._build_send(ar, net)

    def _views(self, ar: _Arena) -> None:
        """Where the inputs go in the buffer, and every view the pass uses, made once."""
        sizes, P, Q, m = self.sizes, self.P, self.Q, self.m
        nl, n1, nL = len(sizes) - 1, sizes[0], sizes[-1]
        W, Z, A, D, S = self.W, self.Z, self.A, self.D, self.S
        i_point, i_y, i_w, i_t = ar.views(np.arange(ar.size))[:4]
        i_a = _split(i_t, nl)[1]
        # θ (layer by layer, rows [w^l_j | b^l_j]), then the probe's point, x, y, then the
        # batch's x, y: the order in which :meth:`fill` joins their bytes.
        theta_to_w = [
            i_w[i][np.ix_(range(n), [*range(k), Q])].reshape(-1)
            for i, (n, k) in enumerate(zip(sizes[1:], sizes[:-1], strict=True))
        ]
        probe_dst = [i_point, i_a[0, 0, :n1], i_y[0]]
        batch_dst = [i_a[0, 1:, :n1].reshape(-1), i_y[1:].reshape(-1)]
        self._input_dst = np.concatenate([*theta_to_w, *probe_dst, *batch_dst])
        last = nl - 1
        # Forward, layer by layer: ([a^{l-1} | 1], [w^l | b^l]^T, z^l, the real z^l, a^l).
        self._forward = []
        for i, act in enumerate(self.acts):
            n = nL if i == last else P
            self._forward.append((A[i], W[i].T, Z[i], Z[i, :, :n], A[i + 1, :, :n], act))
        # σ'(z^l) for the layers that share the hidden activation, from z^l and a^l.
        n_s = last + 1 if self._same_prime else last
        prime_ops = self.acts[0].prime_ops
        self._prime_ops = prime_ops(Z[:n_s], A[1 : n_s + 1], S[:n_s]) if n_s and prime_ops else []
        self.z_L, self.a_L, self.delta_L, self.s_L = (
            Z[last, :, :nL],
            A[last + 1, :, :nL],
            D[last, :, :nL],
            S[last, :, :nL],
        )
        # BP2, from the last hidden layer down: (δ^{l+1}, w^{l+1}, δ^l, σ'(z^l)).
        self._backward = [
            (D[i + 1], W[i + 1, :, :P], D[i, :, :P], D[i], S[i]) for i in reversed(range(last))
        ]
        # The quadratic cost from a^L − y: its squares (1+m, n_L), C_x per row (1+m,).
        self._sq_L = np.empty((1 + m, nL))
        self._sq_L1 = self._sq_L.reshape(-1) if nL == 1 else None
        self._c = np.empty(1 + m)
        self._w = W[:, :P, :Q]
        self._d_batch_T, self._a_batch = D[:, 1:, :P].transpose(0, 2, 1), A[:-1, 1:, :Q]

    def _build_send(self, ar: _Arena, net: Network) -> None:
        """The gather indices of every sent array, the template dict, and the norm segments."""
        i_point, i_y, i_w, _, i_m, i_gm, i_gw, i_c = ar.views(np.arange(ar.size))
        i_mz, i_ma, i_md, i_ms = _split(i_m, len(self.sizes) - 1)
        sizes = self.sizes
        one, inv_m = i_c
        # A plain value is gathered by one index; a product by two, its left and right
        # factor, multiplied after the gather. Products have a second pair for frames with a
        # regulariser: ``grad_w`` is then ∂C/∂w, and GM has been scaled by 1/m in place (so
        # it is multiplied by 1).
        plain: list[NDArray[Any]] = []
        prods: list[tuple[NDArray[Any], NDArray[Any], NDArray[Any], NDArray[Any]]] = []
        slots: list[tuple[bool, int, tuple[int, ...]]] = []

        def send(idx: NDArray[Any]) -> int:
            slots.append((False, sum(p.size for p in plain), idx.shape))
            plain.append(idx.reshape(-1))
            return len(slots) - 1

        def product(
            left: NDArray[Any], right: Any, left_reg: Any = None, right_reg: Any = None
        ) -> int:
            """Gather left · right (broadcast), or left_reg · right_reg with a regulariser."""
            shape = np.broadcast_shapes(left.shape, np.shape(right))
            left_reg = left if left_reg is None else left_reg
            right_reg = right if right_reg is None else right_reg
            f = [np.broadcast_to(x, shape).reshape(-1) for x in (left, right, left_reg, right_reg)]
            slots.append((True, sum(p[0].size for p in prods), shape))
            prods.append((f[0], f[1], f[2], f[3]))
            return len(slots) - 1

        n1, Q = sizes[0], self.Q
        s_point, s_x, s_mx, s_y = (
            send(i_point),
            send(i_ma[0, 0, :n1]),
            send(i_ma[0, 1, :n1]),
            send(i_y[0]),
        )
        layer_slots = []
        for i, (n, k) in enumerate(zip(sizes[1:], sizes[:-1], strict=True)):
            w, gm, gw = i_w[i, :n, :k], i_gm[i, :n, :k], i_gw[i, :n, :k]
            a_k, d_j = i_ma[i, :, None, :k], i_md[i, :, :n, None]  # (2, 1, k), (2, n, 1)
            layer_slots.append(
                [send(w), send(i_w[i, :n, Q]), product(gm, inv_m, gw, one)]  # w, b, grad_w
                + [send(q[i, c, :n]) for c in (0, 1) for q in (i_mz, i_ma[1:], i_md, i_ms)]
                + [product(w, f[c]) for c in (0, 1) for f in (a_k, d_j)]  # w_jk a_k, w_jk δ_j
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
        total = len(self._gather[0][0])
        self._sq = np.zeros(total + 1)  # squares of the sent values, one slack element
        self._sq_sent = self._sq[:-1]
        self.send32 = np.zeros(total, dtype=np.float32)
        self._tmp = np.empty(total)
        offsets = [(o + n_plain if is_prod else o, sh) for is_prod, o, sh in slots]
        v = [self.send32[o : o + math.prod(sh)].reshape(sh) for o, sh in offsets]
        self._layers: list[dict[str, Any]] = []
        for i, sl in enumerate(layer_slots):
            w, b, gw, z, a, d, sp, mz, ma, md, ms, pf, pb, mf, mb, pg, mg = (v[j] for j in sl)
            self._layers.append(
                {
                    "l": i + 2,
                    "activation": net.activations[i],
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
                    "norms": {"delta": 0.0, "grad_w": 0.0},
                }
            )
        # Norms: ‖∂C/∂w^l‖_F and ‖mean δ^l‖₂, square roots of sums over segments of the
        # squares; ``reduceat`` sums each [start, end) (and gives a[end] after it, unused),
        # and a final index 0 adds the sum of all squares, which bounds every |value|.
        segments = []
        for i, sl in enumerate(layer_slots):
            for j, name in ((2, "grad_w"), (9, "delta")):
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
        self._key: tuple[Any, ...] | None = None
        self._result: tuple[float | None, bool] = (None, False)
        self._encoded: orjson.Fragment | None = None

    @property
    def layers(self) -> orjson.Fragment:
        """The frame's ``layers`` list, encoded once per :meth:`fill` that computed."""
        if self._encoded is None:
            self._encoded = orjson.Fragment(encode(self._layers))
        return self._encoded

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
        """Compute every per-layer quantity and the send buffer; returns (batch cost, finite).

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
        self._key, self._encoded = None, None
        self.buf[self._input_dst] = np.frombuffer(raw)
        self._result = self._fill(regulariser, lmbda, n_train, penalty)
        self._key = key
        return self._result

    def _fill(
        self, regulariser: str, lmbda: float, n_train: int, penalty: float
    ) -> tuple[float | None, bool]:
        """The pass over the inputs that :meth:`fill` put in the buffer."""
        # Forward: z^l = [a^{l-1} | 1] [w^l | b^l]^T, a^l = σ(z^l).
        for a_in, w_T, z, z_n, a_n, act in self._forward:
            np.dot(a_in, w_T, out=z)  # the same BLAS product as matmul, called more cheaply
            if act.ufunc is not None:
                act.ufunc(z_n, out=a_n)
            else:
                a_n[...] = act.fn(z_n)
        # σ'(z^l) from a^l: the hidden layers share one activation, and the output layer's
        # σ' is taken with them when it is the same one and does not cancel.
        for f, args in self._prime_ops:
            f(*args)
        # BP1: δ^L = (a^L − y) ⊙ σ'(z^L) (σ' cancels for the matched costs), and C_x.
        a_L, d_L = self.a_L, self.delta_L
        np.subtract(a_L, self.y, out=d_L)
        c = self._c
        if self.cost.name == "quadratic":  # C_x = ½‖a^L − y‖², from the a^L − y just made
            sq = self._sq_L
            np.multiply(d_L, d_L, out=sq)
            if self._sq_L1 is not None:  # one output: the sum is that square
                np.multiply(self._sq_L1, _HALF, out=c)
            else:
                np.add.reduce(sq, axis=1, out=c)
                np.multiply(c, _HALF, out=c)
        else:
            c = self.cost.per_example(self.z_L, a_L, self.y)
        if not self.cancels:
            if not self._same_prime:
                self.s_L[...] = self.acts[-1].prime(self.z_L, a_L)
            d_L *= self.s_L
        # BP2: δ^l = (δ^{l+1} w^{l+1}) ⊙ σ'(z^l).
        for d_up, w_up, d_n, d, s in self._backward:
            np.matmul(d_up, w_up, out=d_n)
            d *= s
        # Probe rows and batch means of z, a, δ, σ' for every layer: one product; and BP4's
        # batch sum of δ_j a_k (the edges are products taken after the gather).
        np.matmul(self.mix, self.T, out=self.M)
        np.matmul(self._d_batch_T, self._a_batch, out=self.GM)
        # ∂C/∂w: BP4's batch mean plus λ/n·r'(w) (the registry's: L2 w, L1 sgn(w)).
        reg = get_regulariser(regulariser)
        coef = lmbda / n_train if reg.active else 0.0
        if coef:
            self.GM *= 1.0 / self.m
            np.multiply(reg.grad(self._w), coef, out=self.GW)
            self.GW += self.GM
        self.probe["cost"] = round4(c.item(0))
        batch_cost = float(np.add.reduce(c[1:])) / self.m + penalty
        return round4(batch_cost), self._finish(coef != 0.0) and math.isfinite(batch_cost)

    def _finish(self, regularised: bool) -> bool:
        """Gather, multiply the products, take the norms, round to 4 significant digits."""
        buf, (perm, right) = self.buf, self._gather[regularised]
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
        round_sig(vals, tmp, out=self.send32)
        return finite
