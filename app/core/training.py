"""Minibatch SGD, in two interchangeable paths that yield the same parameters.

- :meth:`Trainer.step_instrumented` runs :func:`backprop` on the next minibatch, keeps the
  whole :class:`Trace` (every ``z``, ``a``, ``δ``) and applies the update.
- :meth:`Trainer.train` runs many steps on the *fast path*: all parameters live in one flat
  vector ``θ`` (layer by layer, each ``[w^l | b^l]`` row-major, shape ``(n_l, n_{l-1}+1)``),
  activations carry a column of ones so one matmul gives ``z`` and one gives ``∂C/∂w`` and
  ``∂C/∂b`` together, buffers are preallocated and the update is a handful of whole-vector
  operations. It stores no per-example tensors.

The network's ``weights[i]`` and ``biases[i]`` are views into ``θ``, so both paths (and
anyone reading the network) always see the same numbers. The update is
``v ← μv − η∇C``, ``θ ← θ + v`` (plain SGD when ``μ = 0``), with ``∇C`` the batch mean plus
the regularisation gradient (Nielsen's ``λ/n``, ``n`` the training-set size).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from app.core import regularisers
from app.core.activations import LEAKY_SLOPE
from app.core.costs import get_cost
from app.core.network import Network, Trace, backprop, cost_value

Array = NDArray[np.float64]

DIVERGENCE_CHECK_EVERY = 32


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


def _act_into(name: str) -> Callable[[Array, Array], None]:
    """``out[...] = σ(z)`` without allocating, for the fast path."""

    def sigmoid(z: Array, out: Array) -> None:
        np.multiply(z, 0.5, out=out)
        np.tanh(out, out=out)
        out += 1.0
        out *= 0.5

    def leaky(z: Array, out: Array) -> None:
        np.multiply(z, LEAKY_SLOPE, out=out)
        np.maximum(z, out, out=out)

    def softmax(z: Array, out: Array) -> None:
        np.subtract(z, z.max(axis=1, keepdims=True), out=out)
        np.exp(out, out=out)
        out /= out.sum(axis=1, keepdims=True)

    def tanh(z: Array, out: Array) -> None:
        np.tanh(z, out=out)

    def relu(z: Array, out: Array) -> None:
        np.maximum(z, 0.0, out=out)

    def linear(z: Array, out: Array) -> None:
        np.copyto(out, z)

    table: dict[str, Callable[[Array, Array], None]] = {
        "tanh": tanh,
        "relu": relu,
        "linear": linear,
        "sigmoid": sigmoid,
        "leaky_relu": leaky,
        "softmax": softmax,
    }
    return table[name]


def _times_prime_into(name: str) -> Callable[[Array, Array, Array], None]:
    """``delta *= σ'(z)`` computed from ``a = σ(z)``, using ``tmp`` as scratch."""

    def tanh(delta: Array, a: Array, tmp: Array) -> None:
        np.multiply(a, a, out=tmp)
        np.subtract(1.0, tmp, out=tmp)
        delta *= tmp

    def sigmoid(delta: Array, a: Array, tmp: Array) -> None:
        np.subtract(1.0, a, out=tmp)
        tmp *= a
        delta *= tmp

    def relu(delta: Array, a: Array, tmp: Array) -> None:
        np.greater(a, 0.0, out=tmp)
        delta *= tmp

    def leaky(delta: Array, a: Array, tmp: Array) -> None:
        # σ'(z) is 1 where z > 0 (a > 0), else the slope.
        np.greater(a, 0.0, out=tmp)
        tmp *= 1.0 - LEAKY_SLOPE
        tmp += LEAKY_SLOPE
        delta *= tmp

    def linear(delta: Array, a: Array, tmp: Array) -> None:
        return None

    table = {"tanh": tanh, "sigmoid": sigmoid, "relu": relu, "leaky_relu": leaky, "linear": linear}
    return table[name]


class _Buffers:
    """Preallocated per-batch-size scratch arrays of the fast path."""

    def __init__(self, sizes: list[int], m: int) -> None:
        # a_aug[i] is a^{i+1} with a column of ones appended (not for the output layer).
        self.a_aug = [np.ones((m, n + 1)) for n in sizes[1:-1]]
        self.a_L = np.empty((m, sizes[-1]))
        self.z = [np.empty((m, n)) for n in sizes[1:]]
        self.delta = [np.empty((m, n)) for n in sizes[1:]]
        self.tmp = [np.empty((m, n)) for n in sizes[1:]]


class Trainer:
    """Trains ``net`` on ``x`` ``(N, n_1)``, ``y`` ``(N, n_L)`` with minibatch SGD.

    The order of examples is reshuffled every epoch from ``rng``; a seed reproduces a run.
    ``status`` becomes ``"diverged"`` when a parameter or the cost stops being finite; the
    parameters are then rolled back to their last finite values and training refuses to go
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
    ) -> None:
        self.cost = get_cost(cost_name, net.activations[-1])
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
        self._x_aug = np.hstack([self.x, np.ones((len(self.x), 1))])
        self._perm_x_aug = self._x_aug
        self._perm_y = self.y
        self._cursor = len(self.x)  # forces a shuffle before the first batch
        self._buffers: dict[int, _Buffers] = {}
        self._act = [_act_into(name) for name in net.activations]
        self._times_prime = [_times_prime_into(name) for name in net.activations[:-1]]
        self._out_times_prime = (
            None if self.cost.sigma_prime_cancels else _times_prime_into(net.activations[-1])
        )
        self._flatten_parameters()

    # -- parameters ---------------------------------------------------------------------
    def _flatten_parameters(self) -> None:
        sizes = self.net.sizes
        shapes = [(n, k + 1) for n, k in zip(sizes[1:], sizes[:-1], strict=True)]
        total = sum(n * k for n, k in shapes)
        self.theta = np.empty(total)
        self._grad = np.empty(total)
        self._velocity = np.zeros(total)
        self._weight_mask = np.zeros(total)
        self._w_aug: list[Array] = []
        self._g_aug: list[Array] = []
        offset = 0
        for i, (n, k1) in enumerate(shapes):
            w_aug = self.theta[offset : offset + n * k1].reshape(n, k1)
            w_aug[:, :-1] = self.net.weights[i]
            w_aug[:, -1] = self.net.biases[i]
            self._weight_mask[offset : offset + n * k1].reshape(n, k1)[:, :-1] = 1.0
            self._w_aug.append(w_aug)
            self._g_aug.append(self._grad[offset : offset + n * k1].reshape(n, k1))
            offset += n * k1
        self.net.weights = [w[:, :-1] for w in self._w_aug]
        self.net.biases = [w[:, -1] for w in self._w_aug]
        self._w_T = [w[:, :-1] for w in self._w_aug]

    def set_parameters(self, weights: list[Array], biases: list[Array]) -> None:
        """Overwrite every ``w^l`` and ``b^l`` in place (the views stay valid)."""
        for w_aug, w, b in zip(self._w_aug, weights, biases, strict=True):
            w_aug[:, :-1] = w
            w_aug[:, -1] = b
        self._velocity[:] = 0.0

    def set_hyper(self, **changes: object) -> None:
        """Change learning rate, batch size, regularisation or momentum; weights are kept."""
        self.hyper = replace(self.hyper, **changes)  # type: ignore[arg-type]

    # -- batches ------------------------------------------------------------------------
    def _ensure_batch(self) -> None:
        if self._cursor >= len(self.x):
            perm = self.rng.permutation(len(self.x))
            self._perm_x_aug = self._x_aug[perm]
            self._perm_y = self.y[perm]
            self._cursor = 0

    def next_batch(self) -> tuple[Array, Array]:
        """The minibatch the next step will train on: ``x`` ``(m, n_1)``, ``y`` ``(m, n_L)``."""
        self._ensure_batch()
        end = self._cursor + self.hyper.batch_size
        return self._perm_x_aug[self._cursor : end, :-1], self._perm_y[self._cursor : end]

    def _advance(self, m: int) -> None:
        self.step += 1
        self._cursor += m
        if self._cursor >= len(self.x):
            self.epoch += 1

    # -- the update, shared by both paths -----------------------------------------------
    def _apply_update(self) -> None:
        """``θ ← θ − η·∇C`` (or with momentum), ``∇C`` being the batch mean in ``_grad``."""
        h = self.hyper
        if h.momentum:
            self._velocity *= h.momentum
            self._velocity -= h.learning_rate * self._grad
            self.theta += self._velocity
        else:
            self._grad *= h.learning_rate
            self.theta -= self._grad

    def _add_penalty_grad(self) -> None:
        h = self.hyper
        if h.regulariser == "none" or h.lmbda == 0.0:
            return
        coef = h.lmbda / len(self.x)
        if h.regulariser == "l2":
            self._grad += coef * (self.theta * self._weight_mask)
        else:
            self._grad += coef * (np.sign(self.theta) * self._weight_mask)

    # -- the instrumented path ----------------------------------------------------------
    def step_instrumented(self) -> Trace:
        """One SGD step via :func:`backprop`; returns the trace computed *before* the update."""
        self._require_ok()
        x, y = self.next_batch()
        h = self.hyper
        last_good = self.theta.copy()
        trace = backprop(self.net, self.cost_name, x, y, h.regulariser, h.lmbda, len(self.x))
        for g_aug, g_w, g_b in zip(self._g_aug, trace.grad_w, trace.grad_b, strict=True):
            g_aug[:, :-1] = g_w
            g_aug[:, -1] = g_b
        self._apply_update()
        self._advance(len(x))
        self._check_finite(last_good)
        return trace

    # -- the fast path ------------------------------------------------------------------
    def train(self, steps: int) -> int:
        """Run up to ``steps`` SGD steps on the fast path; returns how many ran.

        Stops early, with ``status == "diverged"``, if a parameter stops being finite.
        """
        self._require_ok()
        last_good = self.theta.copy()
        done = 0
        while done < steps:
            self._fast_step()
            done += 1
            if done % DIVERGENCE_CHECK_EVERY == 0:
                if not np.isfinite(self.theta).all():
                    break
                last_good[:] = self.theta
        self._check_finite(last_good)
        return done

    def _fast_step(self) -> None:
        self._ensure_batch()
        start = self._cursor
        x_aug = self._perm_x_aug[start : start + self.hyper.batch_size]
        y = self._perm_y[start : start + self.hyper.batch_size]
        m = x_aug.shape[0]
        buf = self._buffers.get(m)
        if buf is None:
            buf = self._buffers[m] = _Buffers(self.net.sizes, m)
        last = len(self._w_aug) - 1
        # Forward: z^l = [a^{l-1} | 1] [w^l | b^l]^T, a^l = σ(z^l)
        a_in = x_aug
        for i, w_aug in enumerate(self._w_aug):
            z = buf.z[i]
            np.matmul(a_in, w_aug.T, out=z)
            a_out = buf.a_L if i == last else buf.a_aug[i][:, :-1]
            self._act[i](z, a_out)
            a_in = buf.a_L if i == last else buf.a_aug[i]
        # BP1
        delta = buf.delta[last]
        np.subtract(buf.a_L, y, out=delta)
        if self._out_times_prime is not None:
            self._out_times_prime(delta, buf.a_L, buf.tmp[last])
        # BP2-BP4: [∂C/∂w^l | ∂C/∂b^l] summed = δ^T [a^{l-1} | 1]
        for i in range(last, -1, -1):
            a_prev = x_aug if i == 0 else buf.a_aug[i - 1]
            np.matmul(buf.delta[i].T, a_prev, out=self._g_aug[i])
            if i > 0:
                d_prev = buf.delta[i - 1]
                np.matmul(buf.delta[i], self._w_T[i], out=d_prev)
                self._times_prime[i - 1](d_prev, buf.a_aug[i - 1][:, :-1], buf.tmp[i - 1])
        self._grad *= 1.0 / m
        self._add_penalty_grad()
        self._apply_update()
        self._advance(m)

    # -- status -------------------------------------------------------------------------
    def evaluate(self, x: Array, y: Array) -> float:
        """Regularised cost on ``(x, y)``; a non-finite cost marks the run diverged."""
        h = self.hyper
        c = cost_value(self.net, self.cost, x, y, h.regulariser, h.lmbda, len(self.x))
        if not np.isfinite(c):
            self.status = "diverged"
        return c

    def _check_finite(self, last_good: Array) -> None:
        """Mark the run diverged and roll back to ``last_good`` if ``θ`` is not finite."""
        if not np.isfinite(self.theta).all():
            self.theta[:] = last_good
            self.status = "diverged"

    def reset_status(self) -> None:
        """Allow training again after a divergence (e.g. once the learning rate is lowered)."""
        self.status = "ok"
        self._velocity[:] = 0.0

    def _require_ok(self) -> None:
        if self.status != "ok":
            raise RuntimeError("training diverged; reset the run to continue")
