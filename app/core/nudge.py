"""Nudge one quantity and measure the slope: δ is a derivative you can check by hand.

For one example ``(x, y)`` (``x`` ``(n_1,)``, ``y`` ``(n_L,)``) and a network's parameters,
:func:`nudge` changes one quantity by ``±ε``, runs the network forward *from that quantity
on*, and measures the slope of the example's unregularised cost ``C_x``::

    measured = (C_x(q + ε) − C_x(q − ε)) / ((q + ε) − (q − ε))

beside the value backprop gave for the same derivative (:func:`app.core.network.backprop`,
the readable reference, on the one example):

- ``z^l_j`` (l = 2..L): ``δ^l_j`` (BP1 for l = L, BP2 below it);
- ``a^l_j`` (l = 2..L-1): ``Σ_i w^{l+1}_ij δ^{l+1}_i``, the error BP2 carries back before
  it is scaled by ``σ'(z^l_j)``;
- ``a^L_j``: ``∂C_x/∂a^L_j``, the cost's own gradient ``∇_a C`` (quadratic ``a − y``,
  cross-entropy ``(a − y)/(a(1 − a))``, log-likelihood ``−y/a``). For softmax with the
  log-likelihood this treats each ``a^L_j`` as free: the nudged ``a^L`` no longer sums to 1,
  and the slope is ``−y_j/a_j``, not ``δ^L_j = a_j − y_j``. Nudging ``z^L_j`` instead moves
  every ``a^L`` through the softmax, and then the slope is ``δ^L_j = a_j − y_j``: BP1's
  cancellation, measured;
- ``w^l_jk``: ``a^{l-1}_k δ^l_j`` (BP4); ``b^l_j``: ``δ^l_j`` (BP3).

**What the inverse rule predicts** (``inverse``, :mod:`app.core.feedback`): the same
readings from a pass whose BP2 carries the error back through the pseudo-inverse instead of
the transpose, ``δ̃^L = δ^L`` (BP1), ``δ̃^l = ((w^{l+1})^+ δ̃^{l+1}) ⊙ σ'(z^l)``: ``δ̃^l_j``
for ``z^l_j`` and ``b^l_j``, ``a^{l-1}_k δ̃^l_j`` for ``w^l_jk``, ``((w^{l+1})^+ δ̃^{l+1})_j``
for ``a^l_j`` (l < L), and ``∇_a C_x`` for ``a^L_j``. For layer L it equals backprop's;
below it, it is the slope the learner's intuition (undo the layer) would claim, and the
measurement shows it is not the slope (unless ``(w^{l+1})^+`` happens to act on δ as the
transpose does). Any other rule (a run's own ``feedback``) is read the same way, with its
``B^{l+1}``.

The cost in ``a^L`` (for nudging ``a^L``) and the interval its logarithm needs ``a^L`` in
are the cost registry's (``Cost.of_a``, ``Cost.a_domain``).

Nudging ``z^l`` re-runs ``σ_l`` and the layers after l; nudging ``a^l`` the layers after l;
nudging ``w^l`` or ``b^l`` layer l and those after it. Each measurement is 2 forward passes
(of the part after the nudge). The input ``a^1`` is not nudged: it is given, not computed,
and backprop stops at layer 2.

**The step ε.** Unless the caller gives one, ``ε = ∛u · s`` with ``u = 2⁻⁵²`` (float64's
unit roundoff), so ``∛u ≈ 6.1e-6``, and ``s`` the quantity's scale: ``max(1, |q|)``, or for
``a^L`` under a cost with a logarithm, its distance to the edge of the log's domain
(``min(a, 1 − a)`` for cross-entropy, ``a`` for log-likelihood), so that ``q ± ε`` stays
inside it. This balances the central difference's truncation error (``~ε² C'''/6``)
against its rounding error (``~u C/ε``): both are ``~u^⅔ ≈ 4e-11`` relative to the
function's scale, so where ``C_x`` is smooth on the scale of ``s`` the slope agrees with
the exact one to about 10 significant digits, and to at least 6 unless the slope is some
10⁴ times smaller than ``C_x`` itself. The denominator is the difference of the nudged
values as stored (``(q + ε) − (q − ε)``), not ``2ε``, so the rounding of ``q ± ε`` does
not count as error. Where the function is not smooth at that scale (a ReLU's kink within ε
of z) the two may disagree: that is the finite difference failing, not backprop.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from app.core.costs import Cost, get_cost
from app.core.feedback import Feedback, get_rule
from app.core.gradcheck import relative_error
from app.core.network import Network, Trace, backprop, feedforward

Array = NDArray[np.float64]

QUANTITIES = ("z", "a", "w", "b")
CBRT_U = float(np.cbrt(np.finfo(np.float64).eps))  # ∛u ≈ 6.06e-6
FORWARD_PASSES = 2
INVERSE = get_rule("inverse")  # the learner's intuition, predicted beside backprop


class NudgeError(ValueError):
    """A nudge that cannot be made: ``field`` names the request field at fault (``of``,
    ``l``, ``j``, ``k`` or ``epsilon``), the message its limit."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class NotFinite(ArithmeticError):
    """The cost or a slope is not a finite number at these parameters (a diverged network,
    or a saturated output whose cost has no finite slope)."""


# -- the measurement ------------------------------------------------------------------------


@dataclass(frozen=True)
class Nudge:
    """One measured slope of ``C_x`` and backprop's value for it."""

    of: str
    l: int  # noqa: E741
    j: int
    k: int | None
    epsilon: float  # half the nudge actually made: ((q + ε) − (q − ε)) / 2
    cost: float  # C_x at the un-nudged parameters
    measured: float
    backprop: float
    inverse: float | None = None  # the inverse rule's prediction; None if not finite
    rule: float | None = None  # the given feedback rule's prediction (backprop's if None)
    forward_passes: int = FORWARD_PASSES


def default_epsilon(scale: float) -> float:
    """``∛u · scale``: the step the module's docstring explains."""
    return CBRT_U * scale


def check(net: Network, of: str, l: int, j: int, k: int | None) -> None:  # noqa: E741
    """:class:`NudgeError` naming the field and its limit, for a quantity the network lacks."""
    if of not in QUANTITIES:
        raise NudgeError("of", f"of must be one of {', '.join(QUANTITIES)}")
    L = net.L
    if not 2 <= l <= L:
        why = " (a^1 is the input: given, not computed, so backprop stops at layer 2)"
        raise NudgeError("l", f"layer l must be 2..{L} (this network has L = {L}){why}")
    n_l = net.sizes[l - 1]
    if not 0 <= j < n_l:
        raise NudgeError("j", f"layer {l} has {n_l} neurons: j must be 0..{n_l - 1}")
    if of == "w":
        n_prev = net.sizes[l - 2]
        if k is None:
            raise NudgeError(
                "k", f"a weight needs k, its neuron in layer {l - 1} (0..{n_prev - 1})"
            )
        if not 0 <= k < n_prev:
            raise NudgeError("k", f"layer {l - 1} has {n_prev} neurons: k must be 0..{n_prev - 1}")
    elif k is not None:
        raise NudgeError("k", f"k is for a weight w only; {of} is named by l and j")


class _Tail:
    """The layers after layer ``m`` as a network of their own: its input is ``a^m``, so a
    forward pass from a nudged quantity reuses :func:`app.core.network.feedforward`."""

    def __init__(self, net: Network, m: int) -> None:
        self.net = Network(
            net.sizes[m - 1 :], net.weights[m - 1 :], net.biases[m - 1 :], net.activations[m - 1 :]
        )

    def z_a_L(self, a_m: Array) -> tuple[Array, Array]:
        """``(z^L, a^L)`` as ``(1, n_L)`` rows for ``a^m`` ``(n_m,)``."""
        fwd = feedforward(self.net, a_m[None, :])
        return fwd.z[-1], fwd.a[-1]


def _cost_x(cost: Cost, z_L: Array, a_L: Array, y: Array) -> float:
    return float(cost.per_example(z_L, a_L, y[None, :])[0])


def _measure(c: Callable[[float], float], q: float, eps: float) -> tuple[float, float]:
    """(slope, ε actually made) of ``c`` at ``q``: two calls, the stored nudged values'
    difference as the denominator."""
    up, down = q + eps, q - eps
    if up == down:  # only a given ε can be this small: the default is ∛u·scale
        raise NudgeError(
            "epsilon",
            f"epsilon {eps:g} is below float64's spacing at q = {q:.6g}: q ± ε round to q "
            f"itself; use at least {float(np.spacing(abs(q))):.3g}",
        )
    return (c(up) - c(down)) / (up - down), (up - down) / 2.0


def nudge(
    net: Network,
    cost_name: str,
    x: Array,
    y: Array,
    of: str,
    l: int,  # noqa: E741
    j: int,
    k: int | None = None,
    epsilon: float | None = None,
    feedback: Feedback | None = None,
) -> Nudge:
    """Nudge ``of`` (``"z"``, ``"a"``, ``"w"``, ``"b"``) of layer ``l`` (2..L), neuron ``j``
    (and, for ``w``, source ``k`` in layer l-1; all 0-based) by ``±ε`` on the example
    ``x`` ``(n_1,)``, ``y`` ``(n_L,)``; ``net`` is not changed. Beside backprop's value, the
    inverse rule's prediction and ``feedback``'s (:func:`predicted`).

    Raises :class:`NudgeError` for a quantity the network lacks or an ε that leaves the
    cost's domain, :class:`NotFinite` if the cost or a slope is not finite.
    """
    check(net, of, l, j, k)
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    cost = get_cost(cost_name, net.activations[-1])
    with np.errstate(all="ignore"):
        trace = backprop(net, cost_name, x[None, :], y[None, :])
        c0 = float(trace.cost_x[0])
        slope, eps = _slope(net, cost, trace, y, of, l, j, k, epsilon)
        exact = backprop_value(net, cost, trace, of, l, j, k)
        inverse = predicted(net, cost, x, y, of, l, j, k, Feedback(INVERSE))
        rule = exact if feedback is None else predicted(net, cost, x, y, of, l, j, k, feedback)
    values = {"cost": c0, "measured": slope, "backprop": exact, "epsilon": eps}
    bad = [name for name, v in values.items() if not np.isfinite(v)]
    if bad:
        raise NotFinite(
            f"{' and '.join(bad)} not finite at these parameters: the network's numbers "
            "overflowed or its output saturated (reset the run or nudge another quantity)"
        )
    return Nudge(of, l, j, k, eps, c0, slope, exact, inverse, rule)


def predicted(
    net: Network,
    cost: Cost,
    x: Array,
    y: Array,
    of: str,
    l: int,  # noqa: E741
    j: int,
    k: int | None,
    feedback: Feedback,
) -> float | None:
    """What a feedback rule says ``∂C_x/∂q`` is, for ``x`` ``(n_1,)``, ``y`` ``(n_L,)``: the
    reading of :func:`backprop_value` from the rule's trace, its BP2 through ``B^{l+1}``
    (the inverse: ``(w^{l+1})^+``). None if not finite (a pseudo-inverse of a nearly
    singular w can be huge)."""
    with np.errstate(all="ignore"):
        trace = backprop(net, cost.name, x[None, :], y[None, :], feedback=feedback)
        back = None if feedback.exact else feedback.matrices(net.weights)
        v = backprop_value(net, cost, trace, of, l, j, k, back)
    return v if np.isfinite(v) else None


def backprop_value(
    net: Network,
    cost: Cost,
    trace: Trace,
    of: str,
    l: int,  # noqa: E741
    j: int,
    k: int | None,
    back: list[Array] | None = None,
) -> float:
    """Backprop's ``∂C_x/∂q`` for the quantity, read from a one-example ``trace``; with
    ``back`` (a rule's ``B^l`` for l = 3..L, ``(n_{l-1}, n_l)``) and that rule's trace,
    the rule's reading of it (``a^l``: ``Σ_i B^{l+1}_ji δ^{l+1}_i``)."""
    i = l - 2  # index of layer l in the trace's per-layer lists (z, δ, grads)
    if of in ("z", "b"):
        return float(trace.delta[i][0, j] if of == "z" else trace.grad_b[i][j])
    if of == "w":
        assert k is not None
        return float(trace.grad_w[i][j, k])
    if l == net.L:  # a^L: the cost's own gradient, ∇_a C_x
        return float(cost.grad_a(trace.a[-1], trace.y)[0, j])
    # a^l: Σ_i w^{l+1}_ij δ^{l+1}_i, the error BP2 carries back to a^l_j (or a rule's B)
    if back is not None:
        return float((trace.delta[i + 1] @ back[i].T)[0, j])
    return float((trace.delta[i + 1] @ net.weights[i + 1])[0, j])


def _slope(
    net: Network,
    cost: Cost,
    trace: Trace,
    y: Array,
    of: str,
    l: int,  # noqa: E741
    j: int,
    k: int | None,
    epsilon: float | None,
) -> tuple[float, float]:
    i = l - 2
    L = net.L
    if of == "a" and l == L:
        return _slope_a_L(cost, trace.a[-1][0], y, j, epsilon)
    if of in ("z", "a"):
        start = (trace.z[i] if of == "z" else trace.a[i + 1])[0]
        q = float(start[j])
        act = net.layer_activations[i]
        tail = _Tail(net, l) if l < L else None

        def c(v: float) -> float:
            row = start.copy()
            row[j] = v
            if of == "a":
                assert tail is not None
                return _cost_x(cost, *tail.z_a_L(row), y)
            a_l = act.fn(row[None, :])[0]
            if tail is None:
                return _cost_x(cost, row[None, :], a_l[None, :], y)
            return _cost_x(cost, *tail.z_a_L(a_l), y)

    else:
        # w^l or b^l: layers l..L from a^{l-1}, on a copy of their parameters
        tail = _Tail(net, l - 1)
        a_prev = trace.a[i][0]
        p = tail.net.weights[0] if of == "w" else tail.net.biases[0]
        where = (j, k) if of == "w" else (j,)
        q = float(p[where])

        def c(v: float) -> float:
            p[where] = v
            return _cost_x(cost, *tail.z_a_L(a_prev), y)

    eps = epsilon if epsilon is not None else default_epsilon(max(1.0, abs(q)))
    return _measure(c, q, eps)


def _slope_a_L(
    cost: Cost, a_L: Array, y: Array, j: int, epsilon: float | None
) -> tuple[float, float]:
    q = float(a_L[j])
    domain = cost.a_domain
    # the step's scale: max(1, |q|), or the distance to the edge of the log's domain
    scale = max(1.0, abs(q)) if domain is None else min(q - domain[0], domain[1] - q)
    if scale <= 0.0:
        raise NotFinite(
            f"a^L_j = {q:g} (j = {j}) is at the edge of the {cost.label} cost's logarithm: "
            "the cost has no finite slope there (the output saturated)"
        )
    if domain is not None and epsilon is not None and epsilon >= scale:
        lo, hi = (f"{v:g}".replace("inf", "∞") for v in domain)
        raise NudgeError(
            "epsilon",
            f"a^L_j = {q:.6g} (j = {j}) and the {cost.label} cost takes its logarithm: "
            f"epsilon must be below {scale:.6g} so that a ± ε stays inside ({lo}, {hi})",
        )

    def c(v: float) -> float:
        row = a_L.copy()
        row[j] = v
        return float(cost.of_a(row[None, :], y[None, :])[0])

    return _measure(c, q, epsilon if epsilon is not None else default_epsilon(scale))


# -- every weight of a layer ----------------------------------------------------------------


def _best_time(fn: Callable[[], object], repeat: int = 5) -> float:
    """The fastest of ``repeat`` calls of ``fn``, in seconds: one call's cost without the
    machine's hiccups (another process's turn on the core)."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


@dataclass(frozen=True)
class LayerNudge:
    """Every weight of layer ``l`` nudged: ``measured`` and ``backprop`` ``(n_l, n_{l-1})``,
    the forward passes that took and the seconds, against one backprop's seconds."""

    l: int  # noqa: E741
    count: int
    forward_passes: int
    seconds: float
    backprop_seconds: float
    measured: Array
    backprop: Array
    max_rel_diff: float
    worst: tuple[int, int]  # (j, k) of the largest relative difference


def nudge_layer(
    net: Network,
    cost_name: str,
    x: Array,
    y: Array,
    l: int,  # noqa: E741
    epsilon: float | None = None,
) -> LayerNudge:
    """Nudge every weight ``w^l_jk`` in turn (2 forward passes of layers l..L each) and
    time it; time one backprop (forward + backward) of the same example, which gives all of
    them at once. ``max_rel_diff`` is :func:`app.core.gradcheck.relative_error` (gradients
    below 1e-4 compared on that scale). Raises :class:`NudgeError` / :class:`NotFinite` as
    :func:`nudge` does."""
    check(net, "w", l, 0, 0)
    x = np.asarray(x, dtype=np.float64)[None, :]
    y = np.asarray(y, dtype=np.float64)
    cost = get_cost(cost_name, net.activations[-1])
    with np.errstate(all="ignore"):
        trace = backprop(net, cost_name, x, y[None, :])
        backprop_seconds = _best_time(lambda: backprop(net, cost_name, x, y[None, :]))
        exact = trace.grad_w[l - 2].copy()
        tail = _Tail(net, l - 1)
        w = tail.net.weights[0]
        a_prev = trace.a[l - 2][0]
        measured = np.empty_like(w)
        t0 = time.perf_counter()
        for (jj, kk), q in np.ndenumerate(w):

            def c(v: float, where: tuple[int, int] = (jj, kk)) -> float:
                w[where] = v
                return _cost_x(cost, *tail.z_a_L(a_prev), y)

            eps = epsilon if epsilon is not None else default_epsilon(max(1.0, abs(q)))
            measured[jj, kk] = _measure(c, float(q), eps)[0]
            w[jj, kk] = q
        seconds = time.perf_counter() - t0
    if not (np.isfinite(measured).all() and np.isfinite(exact).all()):
        raise NotFinite(
            "a slope is not finite at these parameters: the network's numbers overflowed "
            "(reset the run)"
        )
    floor = 1e-4
    denom = np.maximum(np.maximum(np.abs(measured), np.abs(exact)), floor)
    rel = np.abs(measured - exact) / denom
    worst = np.unravel_index(int(np.argmax(rel)), rel.shape)
    return LayerNudge(
        l,
        int(w.size),
        FORWARD_PASSES * int(w.size),
        seconds,
        backprop_seconds,
        measured,
        exact,
        relative_error(measured, exact, floor),
        (int(worst[0]), int(worst[1])),
    )
