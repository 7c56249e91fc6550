"""The fast training path: one SGD step as a fixed list of NumPy calls on preallocated buffers.

Used by :meth:`app.core.training.Trainer.train` for the many steps between two displayed
frames, and in its recording mode by :meth:`~app.core.training.Trainer.step_instrumented`
and by the frames (:mod:`app.runs.frames`: one call on the probe beside the next batch, with
no update), so the maths a page shows is this arithmetic. :func:`app.core.network.backprop`
is the readable, instrumented version of it, and the tests hold the two to 1e-12.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from app.core.activations import Op
from app.core.feedback import Feedback
from app.core.network import Network

Array = NDArray[np.float64]
__all__ = ["FastStep", "Op"]


class FastStep:
    """One SGD step for batch size ``m`` on the fast path: its buffers and its NumPy calls.

    Arrays are stored one column per example, the book's ``z = w a + b``: every per-layer
    array is then C-contiguous ``(n_l, m)`` (a ufunc writing a strided view costs ~3x more).
    Hidden layers carry a row of ones, ``[a^l; 1]``, so ``z^l = [w^l | b^l] [a^{l-1}; 1]`` is
    one ``np.dot``, and so is ``[∂C/∂w^l | ∂C/∂b^l] = δ^l [a^{l-1}; 1]^T`` (BP3 + BP4). All
    activations share one flat buffer, so σ' of a run of layers with the same activation
    costs two calls in all, not two per layer. At these sizes a NumPy call's fixed overhead
    (0.3-0.8 µs) is nearly the whole cost of a step, so the step is counted in calls.

    ``scale`` holds ``η/m``; it multiplies ``δ^L`` once, and by linearity every ``δ^l`` and
    the gradient, which then comes out as ``η∇C`` (without the penalty) in ``g_aug``.

    ``record``: a buffer of :meth:`record_size` elements to hold z, a, σ', δ (the caller's,
    e.g. a frame's arena; filled with ones here); ``first``: the gradient sums the columns
    from ``first`` on only (a frame's column 0 is the probe, recorded but not trained on).
    ``feedback``: the rule whose matrix carries δ back in BP2 (:mod:`app.core.feedback`);
    None or the transpose: ``(w^l)^T``, a view (no extra call). The inverse adds one
    ``pinv`` per layer l = 3..L per call, into a preallocated buffer.
    """

    @staticmethod
    def _rows(sizes: list[int]) -> list[int]:
        """Rows of each layer's block: ``[a^l; 1]`` for hidden layers, ``a^L``."""
        n = sizes[1:]
        return [k + 1 for k in n[:-1]] + [n[-1]]

    @staticmethod
    def record_size(sizes: list[int], m: int) -> int:
        """Elements of the recording buffer (z, a, σ' and δ of every layer) for batch ``m``."""
        return 3 * sum(FastStep._rows(sizes)) * m + sum(sizes[1:]) * m

    def __init__(
        self,
        net: Network,
        w_aug: list[Array],
        g_aug: list[Array],
        m: int,
        cancels: bool,
        record: Array | None = None,
        first: int = 0,
        feedback: Feedback | None = None,
    ) -> None:
        sizes, names, acts = net.sizes, net.activations, net.layer_activations
        n = sizes[1:]
        last = len(names) - 1
        rows = self._rows(sizes)
        starts = [0, *np.cumsum([r * m for r in rows]).tolist()]
        # z, a, σ' and δ of every layer in one buffer, so that a recording is one copy
        size, d_size = starts[-1], sum(k * m for k in n)
        if record is None:
            record = np.ones(3 * size + d_size)
        else:
            record[...] = 1.0
        self._record = record
        flat_z, flat_a, flat_p = (self._record[i * size : (i + 1) * size] for i in range(3))

        def blocks(flat: Array) -> list[Array]:
            return [flat[s : s + r * m].reshape(r, m) for s, r in zip(starts, rows, strict=False)]

        block = blocks(flat_a)
        a = [blk[:k] for blk, k in zip(block, n, strict=True)]  # views: contiguous rows
        p = [blk[:k] for blk, k in zip(blocks(flat_p), n, strict=True)]
        z_own = [blk[:k] for blk, k in zip(blocks(flat_z), n, strict=True)]
        d_starts = [0, *np.cumsum([k * m for k in n]).tolist()]
        flat_d = self._record[3 * size :]
        delta = [flat_d[s : s + k * m].reshape(k, m) for s, k in zip(d_starts, n, strict=False)]
        # Which layers need σ': every hidden one (linear's is 1), the output unless it cancels.
        need = [not act.identity for act in acts]
        need[last] = need[last] and not cancels
        self.scale = np.empty(())

        # Forward (the first layer's dot needs the batch: see __call__)
        forward: list[Op] = []
        z: list[Array] = []
        for i, act in enumerate(acts):
            z_i = a[i] if act.identity else z_own[i]  # identity: dot writes a
            if i > 0:
                forward.append((np.dot, (w_aug[i], block[i - 1], z_i)))
            forward += act.forward_ops(z_i, a[i], 0)
            z.append(z_i)
        # σ'(z^l) of every layer that needs it, one call group per run of equal activations
        i = 0
        while i <= last:
            j = i
            while j < last and need[i] and need[j + 1] and names[j + 1] == names[i]:
                j += 1
            if need[i]:
                s, e = starts[i], starts[j + 1]
                prime_ops = acts[i].prime_ops
                if prime_ops is None:
                    raise ValueError(f"no elementwise σ' for activation {names[i]!r}")
                forward += prime_ops(flat_z[s:e], flat_a[s:e], flat_p[s:e])
            i = j + 1

        # BP2's matrices of a rule other than the transpose (app/core/feedback.py): fixed
        # ones copied, or buffers its ``into`` fills from the current weights at each call.
        fb: list[Array] | None = None
        into = None
        if feedback is not None and not feedback.exact:
            feedback.check(sizes)
            into = feedback.rule.into
            fb = [np.empty((k, n)) for n, k in zip(sizes[2:], sizes[1:-1], strict=True)]
            for buf, fixed in zip(fb, feedback.fixed, strict=False):
                np.copyto(buf, fixed)
        # Backward (BP1's a^L − y needs the batch: see __call__)
        d_L = delta[last]
        backward: list[Op] = []
        if need[last]:  # BP1: δ^L = (a^L − y) ⊙ σ'(z^L)
            backward.append((np.multiply, (d_L, p[last], d_L)))
        backward.append((np.multiply, (d_L, self.scale, d_L)))
        for i in range(last, 0, -1):
            # BP3 + BP4: [∂C/∂w^l | ∂C/∂b^l] = δ^l [a^{l-1}; 1]^T (summed over the batch)
            backward.append((np.dot, (delta[i][:, first:], block[i - 1][:, first:].T, g_aug[i])))
            # BP2: δ^{l-1} = (w^l)^T δ^l ⊙ σ'(z^{l-1}), or the rule's B^l for (w^l)^T
            back = w_aug[i][:, :-1].T if fb is None else fb[i - 1]
            if fb is not None and into is not None:  # B^l from the current w^l (inverse)
                backward.append((into, (w_aug[i][:, :-1], back)))
            backward.append((np.dot, (back, delta[i], delta[i - 1])))
            if need[i - 1]:
                backward.append((np.multiply, (delta[i - 1], p[i - 1], delta[i - 1])))

        self.forward, self.backward = forward, backward
        self.w_0, self.z_0, self.g_0 = w_aug[0], z[0], g_aug[0]
        self.z_L, self.a_L, self.delta_L = z[last], a[last], d_L
        self.delta_0 = delta[0][:, first:]
        self._first = first
        # For :meth:`record_views`: each layer's z, a, σ', δ as rows [r0, r1) of the recording
        # seen as a (rows, m) matrix (every block has m columns; an identity layer's z is its
        # a): a view is then a slice and a transpose, a third of an ndarray constructor's cost.
        self._m = m
        self._rows_of = [
            (o // m, o // m + k)
            for i, (act, k) in enumerate(zip(acts, n, strict=True))
            for o in (
                (size if act.identity else 0) + starts[i],
                size + starts[i],
                2 * size + starts[i],
                3 * size + d_starts[i],
            )
        ]

    def copy_record(self) -> Array:
        """The recording mode: a copy of the recording buffer as the last call left it (the
        buffers are reused by the next call), for :meth:`record_views`."""
        return self._record.copy()

    def record_views(
        self, buf: NDArray[Any]
    ) -> tuple[list[NDArray[Any]], list[NDArray[Any]], list[NDArray[Any]], list[NDArray[Any]]]:
        """``z^l``, ``a^l``, ``σ'(z^l)`` and ``δ^l`` (times ``scale``), l = 2..L, each
        ``(m, n_l)``, one example per row: transposed views of ``buf`` (the recording buffer,
        a :meth:`copy_record`, or anything with its size, e.g. its element indices), without
        copying. ``σ'`` is 1 where it was not needed (an identity layer, or an output whose σ'
        cancels in BP1)."""
        assert buf.size == self._record.size
        rows = buf.reshape(-1, self._m)
        v = [rows[r0:r1].T for r0, r1 in self._rows_of]
        return v[0::4], v[1::4], v[2::4], v[3::4]

    def forward_pass(self, x_T: Array) -> None:
        """The forward pass alone (and σ') for ``x_T`` ``(n_1 + 1, m)``: ``z_L`` and ``a_L``
        ``(n_L, m)`` then hold the output layer's ``z^L`` and ``a^L`` at the current θ."""
        np.dot(self.w_0, x_T, self.z_0)
        for f, args in self.forward:
            f(*args)

    def __call__(self, x_T: Array, y_T: Array) -> None:
        """Gradient step for ``x_T`` ``(n_1 + 1, m)`` (a row of ones last), ``y_T`` ``(n_L, m)``."""
        np.dot(self.w_0, x_T, self.z_0)
        for f, args in self.forward:
            f(*args)
        np.subtract(self.a_L, y_T, self.delta_L)
        for f, args in self.backward:
            f(*args)
        np.dot(self.delta_0, x_T[:, self._first :].T if self._first else x_T.T, self.g_0)
