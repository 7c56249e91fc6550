"""Build a frame (``docs/frames.md``) with few NumPy operations, and encode it with orjson.

One forward + backward pass runs on the probe example stacked on top of the next batch
(row 0 = probe, rows 1..m = batch), in the notation of ``notation.md``. Every layer is
computed in the same padded stacks, so most quantities take one operation for all layers.
The values that are sent are gathered into one buffer, rounded there in one pass, and
read by orjson through float32 views held by a template dict that is built once per
network shape and batch size: only the scalars change between frames. The layers are
encoded once per distinct input (``layers`` is a pre-encoded :class:`orjson.Fragment`), and
:meth:`FrameBuilder.fill` skips all work when its inputs equal the previous call's (a paused
run asked for the same frame again).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import orjson
from numpy.typing import NDArray

from app.core.costs import Cost
from app.core.network import Network
from app.runs.metrics import per_example
from app.runs.rounding import CLIP, Array, make_finite, round4, round_sig

OPTS = orjson.OPT_SERIALIZE_NUMPY


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
    ``[1, 0..0]`` and ``[0, 1/m..1/m]``) gives every layer's probe values and batch means;
    the edges of all layers take a handful of broadcasts. The values that are sent are
    gathered (one ``take``) into a short buffer in the frame's order, and
    rounded there; the template dict holds float32 views of that buffer.
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
        # probe row and batch mean), M = mix·T, EF, EB, GP, GM, GW.
        for shape in (
            (point_dim,),
            (1 + m, sizes[-1]),
            (nl, R, R),
            (nl4, 1 + m, R),
            (nl4, 2, R),
            (nl, 2, P, Q),
            (nl, 2, P, Q),
            (nl, P, Q),
            (nl, P, Q),
            (nl, P, Q),
        ):
            ar.add(*shape)
        self.buf = np.zeros(ar.size)
        self.point, self.y, self.W, self.T, self.M, self.EF, self.EB, self.GP, self.GM, self.GW = (
            ar.views(self.buf)
        )
        self.Z, self.A, self.D, self.S = _split(self.T, nl)
        self.MZ, self.MA, self.MD, self.MS = _split(self.M, nl)
        self.A[:, :, Q] = 1.0
        if self.cancels:
            self.S[-1, :, : sizes[-1]] = 1.0
        acts = self.acts
        self._same_prime = not self.cancels and acts[-1].name == acts[0].name
        # Where each weight and bias of θ (layer by layer, rows [w^l_j | b^l_j]) goes in W.
        self._theta_to_w = np.concatenate(
            [
                np.ravel_multi_index(
                    (np.full((n, k + 1), i), *np.ix_(range(n), [*range(k), Q])), self.W.shape
                ).reshape(-1)
                for i, (n, k) in enumerate(zip(sizes[1:], sizes[:-1], strict=True))
            ]
        )
        self._build_send(ar, net)

    def _build_send(self, ar: _Arena, net: Network) -> None:
        """The gather index of every sent array, the template dict, and the norm segments."""
        i_point, i_y, i_w, _, i_m, i_ef, i_eb, i_gp, i_gm, i_gw = ar.views(np.arange(ar.size))
        i_mz, i_ma, i_md, i_ms = _split(i_m, len(self.sizes) - 1)
        sizes = self.sizes
        parts: list[NDArray[Any]] = []
        offsets: list[tuple[int, tuple[int, ...]]] = []

        def send(idx: NDArray[Any]) -> int:
            offsets.append((sum(p.size for p in parts), idx.shape))
            parts.append(idx.reshape(-1))
            return len(offsets) - 1

        n1, Q = sizes[0], self.Q
        s_point, s_x, s_mx, s_y = (
            send(i_point),
            send(i_ma[0, 0, :n1]),
            send(i_ma[0, 1, :n1]),
            send(i_y[0]),
        )
        layer_slots = []
        for i, (n, k) in enumerate(zip(sizes[1:], sizes[:-1], strict=True)):
            layer_slots.append(
                [send(i_w[i, :n, :k]), send(i_w[i, :n, Q]), send(i_gm[i, :n, :k])]
                + [send(q[i, c, :n]) for c in (0, 1) for q in (i_mz, i_ma[1:], i_md, i_ms)]
                + [send(e[i, c, :n, :k]) for c in (0, 1) for e in (i_ef, i_eb)]
                + [send(i_gp[i, :n, :k]), send(i_gm[i, :n, :k])]
            )
        # The regularised ∂C/∂w replaces the plain mean gradient in ``grad_w`` (slot 2).
        self._perm = np.concatenate(parts)
        reg_parts = list(parts)
        for i, (n, k) in enumerate(zip(sizes[1:], sizes[:-1], strict=True)):
            reg_parts[layer_slots[i][2]] = i_gw[i, :n, :k].reshape(-1)
        self._perm_reg = np.concatenate(reg_parts)
        total = len(self._perm)
        self.send64 = np.zeros(total + 1)  # one slack element for reduceat
        self.send32 = np.zeros(total, dtype=np.float32)
        self._tmp = np.empty(total)
        v = [self.send32[o : o + math.prod(sh)].reshape(sh) for o, sh in offsets]
        # Norms: ‖mean δ^l‖₂ and ‖∂C/∂w^l‖_F, as sums over segments of the send buffer.
        segments = []
        for sl in layer_slots:
            for j in (2, 9):  # grad_w, mean δ
                o, sh = offsets[sl[j]]
                segments.append((o, o + math.prod(sh)))
        order = sorted(range(len(segments)), key=lambda t: segments[t][0])
        self._norm_idx = np.array([b for t in order for b in segments[t]], dtype=np.intp)
        self._norm_order = order
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
        y (n_L,)); ``batch`` = (x (m, n_1), y (m, n_L)).
        """
        key = (
            theta.tobytes(),
            probe[0].tobytes(),
            probe[1].tobytes(),
            probe[2].tobytes(),
            batch[0].tobytes(),
            batch[1].tobytes(),
            regulariser,
            lmbda,
            n_train,
            penalty,
        )
        if key == self._key:  # nothing changed: the buffers hold this frame already
            return self._result
        self._key, self._encoded = None, None
        self._result = self._fill(theta, probe, batch, regulariser, lmbda, n_train, penalty)
        self._key = key
        return self._result

    def _fill(
        self,
        theta: Array,
        probe: tuple[Array, Array, Array],
        batch: tuple[Array, Array],
        regulariser: str,
        lmbda: float,
        n_train: int,
        penalty: float,
    ) -> tuple[float | None, bool]:
        sizes, P, Q = self.sizes, self.P, self.Q
        n1, nL = sizes[0], sizes[-1]
        W, Z, A, D, S, mix = self.W, self.Z, self.A, self.D, self.S, self.mix
        W.reshape(-1)[self._theta_to_w] = theta
        A[0, 0, :n1], A[0, 1:, :n1] = probe[1], batch[0]
        self.y[0], self.y[1:] = probe[2], batch[1]
        self.point[...] = probe[0]
        last = len(self.acts) - 1
        # Forward: z^l = [a^{l-1} | 1] [w^l | b^l]^T, a^l = σ(z^l).
        for i, act in enumerate(self.acts):
            z = Z[i]
            np.matmul(A[i], W[i].T, out=z)
            if i == last:
                if act.name == "tanh":
                    np.tanh(z[:, :nL], out=A[i + 1, :, :nL])
                else:
                    A[i + 1, :, :nL] = act.fn(z[:, :nL])
            elif act.name == "tanh":
                np.tanh(z[:, :P], out=A[i + 1, :, :P])
            else:
                A[i + 1, :, :P] = act.fn(z[:, :P])
        # σ'(z^l) from a^l: the hidden layers share one activation, and the output layer's
        # σ' is taken with them when it is the same one and does not cancel.
        n_s = last + 1 if self._same_prime else last
        if n_s:
            a_s, s_s = A[1 : n_s + 1], S[:n_s]
            if self.acts[0].name == "tanh":
                np.multiply(a_s, a_s, out=s_s)
                np.subtract(1.0, s_s, out=s_s)
            else:
                s_s[...] = self.acts[0].prime_from_a(a_s)
        # BP1: δ^L = (a^L − y) ⊙ σ'(z^L) (σ' cancels for the matched costs); BP2 backwards.
        d_out = D[last, :, :nL]
        np.subtract(A[last + 1, :, :nL], self.y, out=d_out)
        if not self.cancels:
            if not self._same_prime:
                S[last, :, :nL] = self.acts[last].prime_from_a(A[last + 1, :, :nL])
            d_out *= S[last, :, :nL]
        for i in range(last - 1, -1, -1):
            np.matmul(D[i + 1], W[i + 1, :, :P], out=D[i, :, :P])
            D[i] *= S[i]
        # Probe rows and batch means of z, a, δ, σ' for every layer: one product.
        np.matmul(mix, self.T, out=self.M)
        # Edges: forward w_jk a_k, backward w_jk δ_j, gradient a_k δ_j (BP4).
        w = W[:, :P, :Q]
        ak, dj = self.MA[:-1, :, :Q], self.MD[:, :, :P]
        np.multiply(w[:, None], ak[:, :, None, :], out=self.EF)
        np.multiply(w[:, None], dj[:, :, :, None], out=self.EB)
        np.multiply(dj[:, 0, :, None], ak[:, 0, None, :], out=self.GP)
        np.matmul(D[:, 1:, :P].transpose(0, 2, 1), A[:-1, 1:, :Q], out=self.GM)
        self.GM *= 1.0 / self.m
        # ∂C/∂w: BP4's batch mean plus λ/n·w (L2) or λ/n·sgn(w) (L1).
        coef = lmbda / n_train if regulariser != "none" else 0.0
        if coef:
            if regulariser == "l2":
                np.multiply(w, coef, out=self.GW)
            else:
                np.sign(w, out=self.GW)
                self.GW *= coef
            self.GW += self.GM
        c = per_example(self.cost, Z[last, :, :nL], A[last + 1, :, :nL], self.y)
        self.probe["cost"] = round4(float(c[0]))
        batch_cost = float(np.add.reduce(c[1:])) / self.m + penalty
        return round4(batch_cost), self._finish(coef != 0.0) and math.isfinite(batch_cost)

    def _finish(self, regularised: bool) -> bool:
        """Gather, take the norms, round to 4 significant digits, cast to float32."""
        send, tmp = self.send64, self._tmp
        np.take(self.buf, self._perm_reg if regularised else self._perm, out=send[:-1])
        vals = send[:-1]
        np.abs(vals, out=tmp)
        biggest = float(np.maximum.reduce(tmp))
        finite = math.isfinite(biggest)
        if not biggest <= CLIP:
            make_finite(vals)
            np.abs(vals, out=tmp)
        norms = np.sqrt(np.add.reduceat(np.square(send), self._norm_idx)[::2])
        for t, value in zip(self._norm_order, norms.tolist(), strict=True):
            layer_norms = self._layers[t // 2]["norms"]
            layer_norms["grad_w" if t % 2 == 0 else "delta"] = round4(value)
        round_sig(vals, tmp, have_abs=True)
        np.copyto(self.send32, vals, casting="same_kind")
        return finite
