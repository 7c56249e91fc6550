"""The explain panel's numbers in full float64: every term of BP1-BP4 for one selection.

A frame's tensors are rounded to 4 significant digits, right for drawing and wrong for
arithmetic (terms that cancel lose every digit). For the one neuron or edge a learner has
selected, these functions give every term at full precision, computed by
:func:`app.core.network.backprop` on the same parameters, probe and batch as the frame.

Conventions: ``l`` is the layer (2..L), ``j`` a neuron of layer l and ``k`` one of layer
l-1, 0-based. ``x``/``y`` are one example ``(n_1,)``/``(n_L,)``; a batch is ``bx``
``(m, n_1)``, ``by`` ``(m, n_L)``. For a hidden neuron the BP2 sum runs over the neurons
``i`` of layer l+1: ``δ^l_j = σ'(z^l_j) · Σ_i w^{l+1}_ij δ^{l+1}_i``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from app.core.network import Network, Trace, backprop
from app.core.regularisers import get_regulariser

Array = NDArray[np.float64]


@dataclass(frozen=True)
class Step:
    """What the next SGD step uses: η, μ, the regulariser, λ and the training-set size n."""

    learning_rate: float
    momentum: float
    regulariser: str
    lmbda: float
    n_train: int


def _fsum(values: Any) -> float:
    """The correctly rounded sum (``math.fsum``) of finite values; NaN when some value or
    the sum is not finite (a diverged run's: the caller leaves such an explanation out)."""
    try:
        return math.fsum(values)
    except (OverflowError, ValueError):  # ±inf on both sides, or a finite sum beyond float
        return math.nan


def _f(v: Any) -> float:
    return float(v)


def _trace(
    net: Network, cost_name: str, probe: tuple[Array, Array], batch: tuple[Array, Array]
) -> Trace:
    """One pass on the probe stacked on the batch: row 0 is the probe, rows 1..m the batch
    (every per-example number is that example's alone; the means are taken over 1..m)."""
    x = np.vstack([probe[0][None, :], batch[0]])
    y = np.vstack([probe[1][None, :], batch[1]])
    return backprop(net, cost_name, x, y)


def _bp2_example(
    net: Network,
    t: Trace,
    row: int,
    l: int,  # noqa: E741
    j: int,
    terms: bool = True,
) -> dict[str, Any]:
    """BP2 for neuron j of hidden layer l, example ``row`` of trace ``t`` (with its terms)."""
    i = l - 2
    w_next = net.weights[i + 1][:, j]  # w^{l+1}_ij over i
    d_next = t.delta[i + 1][row]
    products = w_next * d_next
    out: dict[str, Any] = {
        "z": _f(t.z[i][row, j]),
        "a": _f(t.a[i + 1][row, j]),
        "sigma_prime": _f(t.sigma_prime[i][row, j]),
    }
    if terms:
        out["terms"] = [
            {"i": n, "w": w, "delta": d, "product": p}
            for n, (w, d, p) in enumerate(
                zip(w_next.tolist(), d_next.tolist(), products.tolist(), strict=True)
            )
        ]
    out["sum"] = _fsum(products.tolist())  # correctly rounded sum of the products
    out["delta"] = _f(t.delta[i][row, j])  # the δ the frame shows (backprop's)
    return out


def _bp1_example(t: Trace, row: int, j: int, cancels: bool) -> dict[str, Any]:
    a, y = _f(t.a[-1][row, j]), _f(t.y[row, j])
    return {
        "z": _f(t.z[-1][row, j]),
        "a": a,
        "y": y,
        "a_minus_y": a - y,  # ∂C/∂a for the quadratic cost, and δ itself where σ' cancels
        "sigma_prime": 1.0 if cancels else _f(t.sigma_prime[-1][row, j]),
        "delta": _f(t.delta[-1][row, j]),
    }


def neuron(
    net: Network,
    cost_name: str,
    probe: tuple[Array, Array],
    batch: tuple[Array, Array],
    l: int,  # noqa: E741
    j: int,
    cancels: bool,
) -> dict[str, Any]:
    """BP1 (output layer) or BP2 (hidden layer) for neuron j of layer l.

    ``probe``: the probe's terms. ``batch``: one row per example of the batch (σ', the BP2
    sum and δ; for the output a, y, δ) and the mean δ, which is the mean of the rows' δ:
    BP2 holds per example, and averaging keeps it (``mean δ = mean[σ'·Σ w δ]``), while
    ``mean σ' · Σ w·mean δ`` is a different number, sent as ``product_of_means``.
    """
    L = net.L
    if not 2 <= l <= L or not 0 <= j < net.sizes[l - 1]:
        raise ValueError(f"no neuron j = {j} in layer {l}")
    t = _trace(net, cost_name, probe, batch)
    m = len(batch[0])
    out: dict[str, Any] = {"type": "neuron", "l": l, "j": j, "m": m}
    if l == L:
        out["equation"] = "BP1"
        out["cancels"] = cancels
        out["probe"] = _bp1_example(t, 0, j, cancels)
        rows = [_bp1_example(t, r, j, cancels) for r in range(1, m + 1)]
    else:
        out["equation"] = "BP2"
        out["probe"] = _bp2_example(net, t, 0, l, j)
        rows = [_bp2_example(net, t, r, l, j, terms=False) for r in range(1, m + 1)]
        i = l - 2
        mean_sp = _f(t.sigma_prime[i][1:, j].mean())
        mean_next = t.delta[i + 1][1:].mean(axis=0)
        w_next = net.weights[i + 1][:, j]
        mean_sum = _fsum((w_next * mean_next).tolist())
        out["batch_means"] = {
            "sigma_prime": mean_sp,
            "sum": mean_sum,  # Σ_i w_ij · mean δ^{l+1}_i = mean of the rows' sums (linear)
            "product_of_means": mean_sp * mean_sum,
        }
    deltas = [r["delta"] for r in rows]
    out["batch"] = {"rows": rows, "mean_delta": _fsum(deltas) / m}
    return out


def edge(
    net: Network,
    cost_name: str,
    probe: tuple[Array, Array],
    batch: tuple[Array, Array],
    l: int,  # noqa: E741
    j: int,
    k: int,
    step: Step,
    velocity: float,
) -> dict[str, Any]:
    """The edge ``k (layer l-1) → j (layer l)``: its three numbers for the probe, BP4, and the
    exact change of ``w^l_jk`` the next SGD step will make.

    The update is the trainer's (:mod:`app.core.training`): ``g = mean_x a^{l-1}_k δ^l_j +
    r`` with ``r = λ/n·w`` (L2), ``λ/n·sgn(w)`` (L1) or 0; then ``v ← μv − ηg`` and ``w ← w +
    v`` (with μ = 0: ``Δw = −ηg``). ``velocity`` is this weight's current ``v``.
    """
    if not 2 <= l <= net.L or not 0 <= j < net.sizes[l - 1] or not 0 <= k < net.sizes[l - 2]:
        raise ValueError(f"no edge ({j}, {k}) into layer {l}")
    i = l - 2
    w = _f(net.weights[i][j, k])
    t = _trace(net, cost_name, probe, batch)
    a_p, d_p = _f(t.a[i][0, k]), _f(t.delta[i][0, j])
    a_b, d_b = t.a[i][1:, k], t.delta[i][1:, j]
    m = len(a_b)
    bp4 = _fsum((a_b * d_b).tolist()) / m
    # λ/n·r'(w): λ/n·w (L2), λ/n·sgn(w) (L1) or 0
    reg = step.lmbda / step.n_train * float(get_regulariser(step.regulariser).grad(np.array(w)))
    grad = bp4 + reg
    eta, mu = step.learning_rate, step.momentum
    delta_w = mu * velocity - eta * grad if mu else -eta * grad
    return {
        "type": "edge",
        "l": l,
        "j": j,
        "k": k,
        "m": m,
        "w": w,
        "probe": {
            "a_prev": a_p,
            "delta": d_p,
            "forward": w * a_p,
            "backward": w * d_p,
            "gradient": a_p * d_p,
        },
        "update": {
            "bp4_mean": bp4,  # mean over the batch of a^{l-1}_k δ^l_j
            "regulariser": step.regulariser,
            "lambda": step.lmbda,
            "n": step.n_train,
            "reg_grad": reg,
            "grad": grad,  # ∂C/∂w^l_jk, regularisation included
            "learning_rate": eta,
            "momentum": mu,
            "velocity": velocity,  # v before the step
            "delta_w": delta_w,  # the change the next step makes: μv − ηg
            "w_next": w + delta_w,
        },
        "bias": {"b": _f(net.biases[i][j]), "grad": _fsum(d_b.tolist()) / m},
    }
