"""Minibatch SGD on one engine, the *fast path* (:class:`FastStep`), in two modes.

- :meth:`Trainer.train` runs many steps: all parameters live in one flat vector ``θ``
  (layer by layer, each ``[w^l | b^l]`` row-major, shape ``(n_l, n_{l-1}+1)``), buffers are
  preallocated, and one step is a fixed list of NumPy calls. It stores no per-example
  tensors.
- :meth:`Trainer.step_instrumented` runs one step in the recording mode: the same calls,
  and the whole :class:`Trace` (every ``z``, ``a``, ``σ'``, ``δ``) copied out before the
  update. :func:`app.core.network.backprop` is the readable reference the tests hold both to.

The network's ``weights[i]`` and ``biases[i]`` are views into ``θ``, so both paths (and
anyone reading the network) always see the same numbers. The update is
``v ← μv − η∇C``, ``θ ← θ + v`` (plain SGD when ``μ = 0``), with ``∇C`` the batch mean plus
the regularisation gradient (Nielsen's ``λ/n``, ``n`` the training-set size).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from app.core import regularisers
from app.core.costs import get_cost
from app.core.fast_step import FastStep, Op
from app.core.feedback import Feedback
from app.core.network import Network, Trace, TraceLists, cost_value

Array = NDArray[np.float64]

DIVERGENCE_CHECK_EVERY = 32


def _all_finite(theta: Array) -> bool:
    """No entry of ``theta`` is ±inf or NaN: its sum is then finite (one reduction, a third
    of ``isfinite(θ).all()``'s cost; a sum that overflows means |θ| ~ 1e308: diverged too)."""
    return math.isfinite(float(np.add.reduce(theta)))


@dataclass(frozen=True)
class Hyper:
    """Hyperparameters that can change mid-run without touching the weights."""

    learning_rate: float = 0.03
    batch_size: int = 10
    regulariser: str = "none"
    lmbda: float = 0.0
    momentum: float = 0.0

    def __post_init__(self) -> None:
        regularisers.check_regulariser(self.regulariser)
        if self.batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        if not 0.0 <= self.momentum < 1.0:
            raise ValueError("momentum must be in [0, 1)")
        if self.learning_rate < 0 or self.lmbda < 0:
            raise ValueError("learning_rate and lmbda must be >= 0")


class Trainer:
    """Trains ``net`` on ``x`` ``(N, n_1)``, ``y`` ``(N, n_L)`` with minibatch SGD.

    The order of examples is reshuffled every epoch from ``rng``; a seed reproduces a run.
    ``status`` becomes ``"diverged"`` when a parameter or the cost stops being finite; the run
    then stays at the last step whose parameters are finite (θ, the velocity, ``step``,
    ``epoch`` and the batch cursor all of that step: the update that overflowed is not
    counted, so every step number names the parameters it had) and training refuses to go
    on until :meth:`reset_status` (or a new trainer).
    """

    def __init__(
        self,
        net: Network,
        cost_name: str,
        x: Array,
        y: Array,
        hyper: Hyper,
        rng: np.random.Generator,
        feedback: Feedback | None = None,
    ) -> None:
        self.cost = get_cost(cost_name, net.activations[-1])
        if feedback is not None:
            feedback.check(net.sizes)
        self.feedback = feedback  # BP2's rule (app/core/feedback.py); None: the transpose
        self.cost_name = cost_name
        self.net = net
        self.x = np.asarray(x, dtype=np.float64)
        self.y = np.asarray(y, dtype=np.float64)
        if self.x.shape != (len(self.x), net.sizes[0]) or self.y.shape != (
            len(self.x),
            net.sizes[-1],
        ):
            raise ValueError(
                f"x must be (N, {net.sizes[0]}) and y (N, {net.sizes[-1]}); "
                f"got {self.x.shape} and {self.y.shape}"
            )
        if len(self.x) == 0:
            raise ValueError("the training set is empty")
        self.hyper = hyper
        self.rng = rng
        self.step = 0
        self.epoch = 0
        self.status = "ok"
        # The fast path's layout: one column per example, x with a row of ones below.
        self._x_T = np.vstack([self.x.T, np.ones((1, len(self.x)))])
        self._y_T = np.ascontiguousarray(self.y.T)
        self._perm_x_T, self._perm_y_T = self._x_T, self._y_T
        self.order: NDArray[np.intp] | None = None  # this epoch's permutation (a new one each)
        self._cursor = len(self.x)  # forces a shuffle before the first batch
        self._fast_steps: dict[int, FastStep] = {}
        self._flatten_parameters()

    # -- parameters ---------------------------------------------------------------------
    def _flatten_parameters(self) -> None:
        sizes = self.net.sizes
        shapes = [(n, k + 1) for n, k in zip(sizes[1:], sizes[:-1], strict=True)]
        total = sum(n * k for n, k in shapes)
        self.theta = np.empty(total)
        self._grad = np.empty(total)
        self._velocity = np.zeros(total)
        self._scratch = np.empty(total)
        self._last_good = np.empty(total)  # θ before a step or chunk, for a rollback
        self._v_good = np.zeros(total)  # ... and the velocity (with momentum)
        self._ops_cache: tuple[Hyper, bool, list[Op]] | None = None  # _update_ops' calls
        self._penalty_coef = np.zeros(total)  # per parameter; 0 on biases
        self._momentum = np.zeros(())
        self._weight_mask = np.zeros(total)
        self._w_aug: list[Array] = []
        self._g_aug: list[Array] = []
        self._v_aug: list[Array] = []
        offset = 0
        for i, (n, k1) in enumerate(shapes):
            w_aug = self.theta[offset : offset + n * k1].reshape(n, k1)
            w_aug[:, :-1] = self.net.weights[i]
            w_aug[:, -1] = self.net.biases[i]
            self._weight_mask[offset : offset + n * k1].reshape(n, k1)[:, :-1] = 1.0
            self._w_aug.append(w_aug)
            self._g_aug.append(self._grad[offset : offset + n * k1].reshape(n, k1))
            self._v_aug.append(self._velocity[offset : offset + n * k1].reshape(n, k1))
            offset += n * k1
        # ndarray (shape, offset, strides) of w's and b's parts of each [w | b] in a θ layout
        item = self.theta.itemsize
        starts = np.cumsum([0] + [n * k1 for n, k1 in shapes]).tolist()
        self._w_views = [
            ((n, k1 - 1), o * item, (k1 * item, item))
            for (n, k1), o in zip(shapes, starts, strict=False)
        ]
        self._b_views = [
            ((n,), (o + k1 - 1) * item, (k1 * item,))
            for (n, k1), o in zip(shapes, starts, strict=False)
        ]
        self.net.weights = [w[:, :-1] for w in self._w_aug]
        self.net.biases = [w[:, -1] for w in self._w_aug]

    def set_parameters(self, weights: list[Array], biases: list[Array]) -> None:
        """Overwrite every ``w^l`` and ``b^l`` in place (the views stay valid)."""
        if len(weights) != len(self._w_aug) or len(biases) != len(self._w_aug):
            raise ValueError(f"need {len(self._w_aug)} weight matrices and bias vectors")
        for i, (w_aug, w, b) in enumerate(zip(self._w_aug, weights, biases, strict=True)):
            w, b = np.asarray(w, dtype=np.float64), np.asarray(b, dtype=np.float64)
            n, k = w_aug.shape[0], w_aug.shape[1] - 1
            if w.shape != (n, k) or b.shape != (n,):
                raise ValueError(
                    f"w^{i + 2} must be {(n, k)} and b^{i + 2} {(n,)}; got {w.shape}, {b.shape}"
                )
        for w_aug, w, b in zip(self._w_aug, weights, biases, strict=True):
            w_aug[:, :-1] = w
            w_aug[:, -1] = b
        self._velocity[:] = 0.0

    def set_weight(self, l: int, j: int, k: int, value: float) -> None:  # noqa: E741
        """``w^l_jk = value`` in place (j, k 0-based); zeroes that weight's momentum velocity."""
        i = l - 2
        if not 0 <= i < len(self._w_aug):
            raise IndexError(f"no weights into layer {l}")
        n, k1 = self._w_aug[i].shape
        if not (0 <= j < n and 0 <= k < k1 - 1):
            raise IndexError(f"w^{l} is {(n, k1 - 1)}; no entry ({j}, {k})")
        self._w_aug[i][j, k] = value
        self._v_aug[i][j, k] = 0.0

    def set_hyper(self, **changes: object) -> None:
        """Change learning rate, batch size, regularisation or momentum; weights are kept."""
        old_batch = self.hyper.batch_size
        self.hyper = replace(self.hyper, **changes)  # type: ignore[arg-type]
        if self.hyper.batch_size != old_batch:
            self._fast_steps.clear()  # one per batch size in use, not per size ever used

    # -- batches ------------------------------------------------------------------------
    def _ensure_batch(self) -> None:
        if self._cursor >= len(self.x):
            perm = self.order = self.rng.permutation(len(self.x))
            self._perm_x_T = self._x_T[:, perm]
            self._perm_y_T = self._y_T[:, perm]
            self._cursor = 0

    def next_batch(self) -> tuple[Array, Array]:
        """The minibatch the next step will train on: ``x`` ``(m, n_1)``, ``y`` ``(m, n_L)``;
        read-only views of the shuffled training set (not contiguous: copy them to keep)."""
        self._ensure_batch()
        c, end = self._cursor, self._cursor + self.hyper.batch_size
        x, y = self._perm_x_T[:-1, c:end].T, self._perm_y_T[:, c:end].T
        x.flags.writeable = y.flags.writeable = False
        return x, y

    def batch_T(self) -> tuple[Array, Array]:
        """The next batch in the fast path's layout: ``[x; 1]`` ``(n_1 + 1, m)`` and ``y``
        ``(n_L, m)``, one column per example (views of the shuffled set: read only)."""
        self._ensure_batch()
        c, end = self._cursor, self._cursor + self.hyper.batch_size
        return self._perm_x_T[:, c:end], self._perm_y_T[:, c:end]

    def engine(self, m: int) -> FastStep:
        """The fast step :meth:`train` takes batches of ``m`` with: after a step on such a
        batch its recording holds that batch's z, a, σ', δ (at θ before the step)."""
        return self._fast_step(m, self.hyper.learning_rate)

    @property
    def scaled_gradient(self) -> Array:
        """``η∇C`` of the last step :meth:`train` took (the batch mean of ``∇C_x`` plus the
        penalty's gradient, times η), in θ's layout (read only: the next step overwrites it)."""
        return self._grad

    def _advance(self, m: int) -> None:
        self.step += 1
        self._cursor += m
        if self._cursor >= len(self.x):
            self.epoch += 1

    # -- the instrumented path ----------------------------------------------------------
    def step_instrumented(self) -> Trace:
        """One SGD step on the fast path in its recording mode; returns the trace of the batch
        (every ``z``, ``a``, ``σ'``, ``δ``, the gradients and the cost) computed *before* the
        update. The tests hold it to :func:`app.core.network.backprop`, the readable reference.

        What the step records is copied out at once (one copy of the recording buffer, one
        of the gradient); the trace's per-layer lists are views of those copies, made when
        first read (:meth:`Trace.deferred`). Its ``x`` and ``y`` are read-only views of this
        epoch's shuffled set, which is replaced at the next epoch, never written."""
        self._require_ok()
        self._ensure_batch()
        h, c = self.hyper, self._cursor
        x_T, y_T = self._perm_x_T[:, c : c + h.batch_size], self._perm_y_T[:, c : c + h.batch_size]
        m = x_T.shape[1]
        np.copyto(self._last_good, self.theta)
        np.copyto(self._v_good, self._velocity)
        with np.errstate(all="ignore"):  # a diverging run is reported by status, not warnings
            step = self._fast_step(m, h.learning_rate)
            step.scale[()] = 1.0  # δ itself, and the gradient as the batch's sum
            step(x_T, y_T)
            trace = self._trace(step, x_T[:-1].T, y_T.T)
            self._grad *= h.learning_rate / m  # η times the mean, as the fast path has it
            for f, args in self._update_ops():  # the penalty's gradient, then the update
                f(*args)
        if math.isfinite(trace.cost) and _all_finite(self.theta):
            self._advance(m)
        else:  # the step overflowed: the run stays at the step before it (not counted)
            self._diverged()
        return trace

    def _trace(self, step: FastStep, x: Array, y: Array) -> Trace:
        """The :class:`Trace` of ``step``'s last call (scale 1) on ``x`` ``(m, n_1)``, ``y``
        ``(m, n_L)`` (views: made read only here), at θ before the update."""
        x.flags.writeable = y.flags.writeable = False
        h, m = self.hyper, len(x)
        record = step.copy_record()
        mean = self._grad * (1.0 / m)
        cost_x = self.cost.per_example(step.z_L.T, step.a_L.T, y)
        total = float(np.add.reduce(cost_x)) / m

        def views() -> TraceLists:
            z, a, sigma_prime, delta = step.record_views(record)
            make, dtype = np.ndarray, mean.dtype
            grad_w = [make(shape, dtype, mean, o, st) for shape, o, st in self._w_views]
            grad_b = [make(shape, dtype, mean, o, st) for shape, o, st in self._b_views]
            return z, [x, *a], delta, sigma_prime, grad_w, grad_b

        reg = regularisers.get_regulariser(h.regulariser)
        if not reg.active or not h.lmbda:
            return Trace.deferred(x, y, total, cost_x, views)
        # the penalty's gradient λ/n·r'(w) needs w before the update: the lists are made now
        n, lists = len(self.x), views()
        coef = h.lmbda / n
        grad_w = [g + coef * reg.grad(w) for g, w in zip(lists[4], self.net.weights, strict=True)]
        total += regularisers.penalty(h.regulariser, h.lmbda, n, self.net.weights)
        return Trace(x, y, *lists[:4], grad_w, lists[5], total, cost_x)

    # -- the fast path ------------------------------------------------------------------
    def train(self, steps: int) -> int:
        """Run up to ``steps`` SGD steps on the fast path; returns how many ran.

        Stops early, with ``status == "diverged"``, if a parameter stops being finite
        (checked every :data:`DIVERGENCE_CHECK_EVERY` steps and at every epoch's end).
        """
        self._require_ok()
        with np.errstate(all="ignore"):  # a diverging run is reported by status, not warnings
            return self._train_fast(steps)

    def _train_fast(self, steps: int) -> int:
        n, batch = len(self.x), self.hyper.batch_size
        update = self._update_ops()
        last_good, v_good, momentum = self._last_good, self._v_good, bool(self.hyper.momentum)
        np.copyto(last_good, self.theta)
        done = 0
        while done < steps:
            self._ensure_batch()
            c0 = self._cursor
            if momentum:
                np.copyto(v_good, self._velocity)
            # A chunk: up to the epoch's end, and no longer than one divergence check.
            k = min(steps - done, DIVERGENCE_CHECK_EVERY, -(-(n - c0) // batch))
            c = self._run(c0, k, update)
            diverged = not _all_finite(self.theta)
            if diverged:  # back to the chunk's start, then its steps again up to the last finite
                k, c = self._replay(c0, k, update, momentum)
            self._cursor = c
            self.step += k
            if c >= n:
                self.epoch += 1
            done += k
            if diverged:
                self.status = "diverged"
                break
            last_good[:] = self.theta
        return done

    def _run(self, c: int, k: int, update: list[Op]) -> int:
        """``k`` steps on the batches of this epoch's order from cursor ``c`` (the epoch's last
        batch short when batch ∤ N); returns the cursor after them. No check, no counting."""
        n, batch, eta = len(self.x), self.hyper.batch_size, self.hyper.learning_rate
        x_T, y_T, step = self._perm_x_T, self._perm_y_T, self._fast_step(batch, eta)
        for _ in range(k):
            end = c + batch
            if end > n:
                end, step = n, self._fast_step(n - c, eta)
            step(x_T[:, c:end], y_T[:, c:end])
            for f, args in update:
                f(*args)
            c = end
        return c

    def _replay(self, c0: int, k: int, update: list[Op], momentum: bool) -> tuple[int, int]:
        """A chunk of ``k`` steps from cursor ``c0`` left θ not finite: θ (and the velocity)
        back to the chunk's start, and its steps taken again one at a time (the same calls on
        the same batches: the same numbers) until the first whose θ is not finite, which is
        undone. Returns the steps kept and the cursor after them. Only a diverging run pays
        for this (a copy of θ per step of one chunk)."""
        theta, v = self.theta, self._velocity
        theta[:] = self._last_good
        if momentum:
            v[:] = self._v_good
        before_theta, before_v = theta.copy(), v.copy()
        c = c0
        for kept in range(k):
            np.copyto(before_theta, theta)
            np.copyto(before_v, v)
            after = self._run(c, 1, update)
            if not _all_finite(theta):
                theta[:] = before_theta
                v[:] = before_v
                return kept, c
            c = after
        return k, c

    def _fast_step(self, m: int, eta: float) -> FastStep:
        step = self._fast_steps.get(m)
        if step is None:
            cancels = self.cost.sigma_prime_cancels
            step = FastStep(self.net, self._w_aug, self._g_aug, m, cancels, feedback=self.feedback)
            self._fast_steps[m] = step
        step.scale[()] = eta / m
        return step

    def _update_ops(self, with_penalty: bool = True) -> list[Op]:
        """The update as NumPy calls on ``θ``, shared by both paths: ``_grad`` holds ``η∇C``
        (the fast step's without the penalty, which these calls add when ``with_penalty``).
        Made once per :class:`Hyper` (a frame's single step would otherwise rebuild them)."""
        cached = self._ops_cache
        if cached is not None and cached[0] is self.hyper and cached[1] == with_penalty:
            return cached[2]
        ops = self._make_update_ops(with_penalty)
        self._ops_cache = (self.hyper, with_penalty, ops)
        return ops

    def _make_update_ops(self, with_penalty: bool) -> list[Op]:
        h = self.hyper
        theta, grad, v, tmp = self.theta, self._grad, self._velocity, self._scratch
        ops: list[Op] = []
        reg = regularisers.get_regulariser(h.regulariser)
        if with_penalty and reg.active and h.lmbda:
            # add η times the penalty's gradient η·λ/n·r'(w) (L2: w, L1: sgn(w)), weights only
            coef = self._penalty_coef
            np.multiply(self._weight_mask, h.learning_rate * h.lmbda / len(self.x), out=coef)
            r_ops, r_prime = reg.grad_ops(theta, tmp)
            ops += [*r_ops, (np.multiply, (r_prime, coef, tmp)), (np.add, (grad, tmp, grad))]
        if h.momentum:  # v ← μv − η∇C, θ ← θ + v
            self._momentum[()] = h.momentum
            mu = self._momentum
            ops += [
                (np.multiply, (v, mu, v)),
                (np.subtract, (v, grad, v)),
                (np.add, (theta, v, theta)),
            ]
        else:
            ops.append((np.subtract, (theta, grad, theta)))
        return ops

    # -- status -------------------------------------------------------------------------
    def evaluate(self, x: Array, y: Array) -> float:
        """Regularised cost on ``(x, y)``; a non-finite cost marks the run diverged."""
        h = self.hyper
        with np.errstate(all="ignore"):
            c = cost_value(self.net, self.cost, x, y, h.regulariser, h.lmbda, len(self.x))
        if not np.isfinite(c):
            self.status = "diverged"
        return c

    def _diverged(self) -> None:
        """Roll ``θ`` and the velocity back to before the step and mark the run diverged."""
        self.theta[:] = self._last_good
        self._velocity[:] = self._v_good
        self.status = "diverged"

    def reset_status(self) -> None:
        """Allow training again after a divergence (e.g. once the learning rate is lowered)."""
        self.status = "ok"
        self._velocity[:] = 0.0

    def _require_ok(self) -> None:
        if self.status != "ok":
            raise RuntimeError("training diverged; reset the run to continue")
