"""A multilayer perceptron and one instrumented forward + backward pass (BP1-BP4).

Notation (Nielsen, ch. 2; ``docs/notation`` of the project): layers ``l = 1..L``, layer 1 is
the input. ``weights[i]`` is ``w^{i+2}``, shape ``(n_l, n_{l-1})``: ``w^l_jk`` carries neuron
k of layer l-1 into neuron j of layer l. ``biases[i]`` is ``b^{i+2}``, shape ``(n_l,)``.

A batch of m examples is a matrix with one example per row, so per-layer tensors have shape
``(m, n_l)``: ``z^l = a^{l-1} (w^l)^T + b^l`` is the row-wise form of ``z^l = w^l a^{l-1} + b^l``.
Nothing is thrown away: :class:`Trace` keeps ``z``, ``a`` and ``δ`` of every layer for every
example, because showing them is the product.

This module is the readable reference, written for people to check against the book. The
numbers on screen come from the engine, laid out for speed: :mod:`app.core.fast_step`
(training) and :mod:`app.core.forward` (metrics and the decision-boundary grid); the tests
hold the engine to :func:`feedforward` and :func:`backprop` here (1e-12 in float64).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from app.core import regularisers
from app.core.activations import Activation, get_activation
from app.core.costs import Cost, get_cost
from app.core.feedback import Feedback
from app.core.init import initialise

Array = NDArray[np.float64]


@dataclass
class Network:
    """Layer sizes ``[n_1, ..., n_L]``, parameters, one activation per non-input layer."""

    sizes: list[int]
    weights: list[Array]
    biases: list[Array]
    activations: list[str]
    _acts: list[Activation] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        L = len(self.sizes)
        if L < 2 or any(n < 1 for n in self.sizes):
            raise ValueError(f"sizes must list at least 2 layers of >= 1 neuron, got {self.sizes}")
        if len(self.activations) != L - 1:
            raise ValueError(f"need {L - 1} activations (one per non-input layer)")
        self._acts = [get_activation(name) for name in self.activations]
        for i, act in enumerate(self._acts[:-1]):
            if not act.hidden_ok:
                raise ValueError(f"{act.name} is allowed on the output layer only (layer {i + 2})")
        if len(self.weights) != L - 1 or len(self.biases) != L - 1:
            raise ValueError(f"need {L - 1} weight matrices and bias vectors")
        self.weights = [np.array(w, dtype=np.float64) for w in self.weights]
        self.biases = [np.array(b, dtype=np.float64) for b in self.biases]
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            want = (self.sizes[i + 1], self.sizes[i])
            if w.shape != want:
                raise ValueError(f"w^{i + 2} must have shape {want} (n_l, n_(l-1)), got {w.shape}")
            if b.shape != (want[0],):
                raise ValueError(f"b^{i + 2} must have shape ({want[0]},), got {b.shape}")

    @classmethod
    def create(
        cls,
        sizes: list[int],
        activations: list[str],
        init: str,
        rng: np.random.Generator,
    ) -> Network:
        weights, biases = initialise(init, sizes, rng)
        return cls(list(sizes), weights, biases, list(activations))

    @property
    def L(self) -> int:
        return len(self.sizes)

    @property
    def layer_activations(self) -> list[Activation]:
        """σ_l for l = 2..L."""
        return self._acts

    def copy(self) -> Network:
        return Network(
            list(self.sizes),
            [w.copy() for w in self.weights],
            [b.copy() for b in self.biases],
            list(self.activations),
        )

    def n_params(self) -> int:
        return n_params(self.sizes)


def n_params(sizes: list[int]) -> int:
    """Number of weights and biases of a network with these layer sizes."""
    return sum(n * (k + 1) for n, k in zip(sizes[1:], sizes[:-1], strict=True))


@dataclass(frozen=True)
class Forward:
    """``z[i]`` is ``z^{i+2}``, ``a[i]`` is ``a^{i+1}`` (so ``a[0]`` is the input x)."""

    z: list[Array]
    a: list[Array]


def feedforward(net: Network, x: Array) -> Forward:
    """Forward pass on ``x`` of shape ``(m, n_1)``; keeps every ``z^l`` and ``a^l``."""
    a = [np.asarray(x, dtype=np.float64)]
    z: list[Array] = []
    for w, b, act in zip(net.weights, net.biases, net.layer_activations, strict=True):
        z_l = a[-1] @ w.T
        z_l += b
        z.append(z_l)
        a.append(act.fn(z_l))
    return Forward(z, a)


def output(net: Network, x: Array) -> Array:
    """``a^L`` for ``x`` of shape ``(m, n_1)``, without keeping intermediates."""
    a = np.asarray(x, dtype=np.float64)
    for w, b, act in zip(net.weights, net.biases, net.layer_activations, strict=True):
        a = act.fn(a @ w.T + b)
    return a


# A trace's per-layer lists: z, a, delta, sigma_prime, grad_w, grad_b.
TraceLists = tuple[list[Array], list[Array], list[Array], list[Array], list[Array], list[Array]]


class Trace:
    """Everything one forward + backward pass computed on a batch of m examples.

    Per-example lists (one entry per layer, shapes ``(m, n_l)``):
    ``z[i] = z^{i+2}``, ``a[i] = a^{i+1}``, ``delta[i] = δ^{i+2}``,
    ``sigma_prime[i] = σ'(z^{i+2})`` (ones for a softmax or a cancelling output layer).
    Batch means (shapes of the parameters): ``grad_w[i] = ∂C/∂w^{i+2}`` and
    ``grad_b[i] = ∂C/∂b^{i+2}``, regularisation included. ``cost`` is the batch cost,
    regularisation included; ``cost_x`` the per-example costs, shape ``(m,)``.

    A trace's arrays are its own: no later step changes them. The engine's recording mode
    (:meth:`app.core.training.Trainer.step_instrumented`) copies every number at the step
    and makes the six per-layer lists (views of those copies) when one is first read
    (:meth:`deferred`): making a dozen small views costs about as much as the step itself.
    """

    __slots__ = ("_lists", "_views", "cost", "cost_x", "x", "y")

    def __init__(
        self,
        x: Array,
        y: Array,
        z: list[Array],
        a: list[Array],
        delta: list[Array],
        sigma_prime: list[Array],
        grad_w: list[Array],
        grad_b: list[Array],
        cost: float,
        cost_x: Array,
    ) -> None:
        self.x, self.y, self.cost, self.cost_x = x, y, cost, cost_x
        self._lists: TraceLists | None = (z, a, delta, sigma_prime, grad_w, grad_b)
        self._views: Callable[[], TraceLists] | None = None

    @classmethod
    def deferred(
        cls, x: Array, y: Array, cost: float, cost_x: Array, views: Callable[[], TraceLists]
    ) -> Trace:
        """A trace whose lists ``(z, a, delta, sigma_prime, grad_w, grad_b)`` are made by
        ``views()`` when one is first read (views of arrays the trace alone holds)."""
        trace = cls.__new__(cls)
        trace.x, trace.y, trace.cost, trace.cost_x = x, y, cost, cost_x
        trace._lists, trace._views = None, views
        return trace

    def _list(self, i: int) -> list[Array]:
        lists = self._lists
        if lists is None:
            assert self._views is not None
            lists = self._lists = self._views()
            self._views = None
        return lists[i]

    @property
    def z(self) -> list[Array]:
        return self._list(0)

    @property
    def a(self) -> list[Array]:
        return self._list(1)

    @property
    def delta(self) -> list[Array]:
        return self._list(2)

    @property
    def sigma_prime(self) -> list[Array]:
        return self._list(3)

    @property
    def grad_w(self) -> list[Array]:
        return self._list(4)

    @property
    def grad_b(self) -> list[Array]:
        return self._list(5)


def cost_value(
    net: Network,
    cost: Cost,
    x: Array,
    y: Array,
    regulariser: str = "none",
    lmbda: float = 0.0,
    n: int | None = None,
) -> float:
    """Batch cost: mean per-example cost plus the regularisation term (``n`` defaults to m)."""
    fwd = feedforward(net, x)
    c = float(np.mean(cost.per_example(fwd.z[-1], fwd.a[-1], np.asarray(y, dtype=np.float64))))
    return c + regularisers.penalty(regulariser, lmbda, n or len(x), net.weights)


def backprop(
    net: Network,
    cost_name: str,
    x: Array,
    y: Array,
    regulariser: str = "none",
    lmbda: float = 0.0,
    n: int | None = None,
    feedback: Feedback | None = None,
) -> Trace:
    """Forward and backward pass on ``x`` ``(m, n_1)`` with targets ``y`` ``(m, n_L)``.

    ``n`` is the training-set size of the regularisation term (defaults to m).
    ``feedback``: the rule whose matrix ``B^{l+1}`` ``(n_l, n_{l+1})`` carries the error
    back in BP2 (:mod:`app.core.feedback`), ``δ^l = (B^{l+1} δ^{l+1}) ⊙ σ'_l(z^l)``; None
    or the transpose: ``B^{l+1} = (w^{l+1})^T``, backprop. The trace then holds the rule's
    δ and gradients.
    """
    regularisers.check_regulariser(regulariser)
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != net.sizes[0]:
        raise ValueError(f"x must have shape (m, {net.sizes[0]}), got {x.shape}")
    if y.shape != (x.shape[0], net.sizes[-1]):
        raise ValueError(f"y must have shape ({x.shape[0]}, {net.sizes[-1]}), got {y.shape}")
    acts = net.layer_activations
    cost = get_cost(cost_name, acts[-1].name)
    m = x.shape[0]
    n = n or m
    fwd = feedforward(net, x)
    z, a = fwd.z, fwd.a

    # σ'(z^l) per layer, given z^l and a^l = σ(z^l) (each activation reads what it needs).
    sigma_prime = [act.prime(z[i], a[i + 1]) for i, act in enumerate(acts[:-1])]
    # BP1: δ^L = ∇_a C ⊙ σ'_L(z^L); for the matched costs σ' cancels and δ^L = a^L − y.
    cancels = cost.sigma_prime_cancels
    sigma_prime.append(np.ones_like(z[-1]) if cancels else acts[-1].prime(z[-1], a[-1]))
    delta = [cost.delta_L(a[-1], y, sigma_prime[-1])]
    if feedback is None or feedback.exact:
        # BP2: δ^l = ((w^{l+1})^T δ^{l+1}) ⊙ σ'_l(z^l); row-wise (δ^{l+1} w^{l+1}) ⊙ σ'(z^l)
        for i in range(len(z) - 2, -1, -1):
            delta.insert(0, (delta[0] @ net.weights[i + 1]) * sigma_prime[i])
    else:
        # BP2 with the rule's B^{l+1}: row-wise (δ^{l+1} (B^{l+1})^T) ⊙ σ'(z^l)
        feedback.check(net.sizes)
        back = feedback.matrices(net.weights)  # back[i] = B^{i+3}
        for i in range(len(z) - 2, -1, -1):
            delta.insert(0, (delta[0] @ back[i].T) * sigma_prime[i])

    grad_w: list[Array] = []
    grad_b: list[Array] = []
    for i, d in enumerate(delta):
        # BP4: ∂C/∂w^l_jk = a^{l-1}_k δ^l_j, averaged over the batch
        g_w = d.T @ a[i]
        g_w *= 1.0 / m
        reg = regularisers.penalty_grad(regulariser, lmbda, n, net.weights[i])
        grad_w.append(g_w if reg is None else g_w + reg)
        # BP3: ∂C/∂b^l_j = δ^l_j, averaged over the batch
        # (sum · 1/m, not mean(): ndarray.mean costs ~5 µs of Python per call)
        grad_b.append(d.sum(axis=0) * (1.0 / m))

    cost_x = cost.per_example(z[-1], a[-1], y)
    total = float(cost_x.sum()) / m + regularisers.penalty(regulariser, lmbda, n, net.weights)
    return Trace(x, y, z, a, delta, sigma_prime, grad_w, grad_b, total, cost_x)
