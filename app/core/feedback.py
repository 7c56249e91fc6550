"""The feedback rules: which matrix carries the error back one layer in BP2.

BP2 moves ``δ^{l+1}`` back through a matrix ``B^{l+1}`` of shape ``(n_l, n_{l+1})``::

    δ^l = (B^{l+1} δ^{l+1}) ⊙ σ'_l(z^l)

and everything else (BP1, BP3, BP4 and the update) is unchanged, with the rule's δ:

- ``transpose``: ``B = (w^{l+1})^T``: backprop, the exact gradient (the book's BP2);
- ``inverse``: ``B = (w^{l+1})^+``, the Moore-Penrose pseudo-inverse of ``w^{l+1}``
  (:func:`numpy.linalg.pinv`, singular values below ``1e-15`` times the largest counted as
  zero): the inverse when ``w^{l+1}`` is square and invertible, and like the transpose
  ``n_l × n_{l+1}``. It follows the weights: recomputed from the current ``w^{l+1}`` at
  every step;
- ``random``: a fixed matrix of the transpose's shape, entries drawn once from
  ``N(0, 1/n_{l+1})`` (feedback alignment: Lillicrap et al., 2016). It never changes.

The API's enums and ``/api/options`` are derived from :data:`RULES`. The engine
(:mod:`app.core.fast_step`) and the readable reference (:func:`app.core.network.backprop`)
both take a :class:`Feedback`; with ``None`` they use the transpose.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]

# The random rule's stream is child 3 of SeedSequence(seed): a run's data, initial weights
# and batch order take children 0, 1 and 2 (app/runs/state.py), so the random matrices
# never shift what those draw, and runs that differ only in their rule start alike.
FEEDBACK_STREAM = 3


def _transpose_into(w: Array, out: Array) -> None:
    np.copyto(out, w.T)


def pinv_into(w: Array, out: Array) -> None:
    """``out[...] = pinv(w)`` for ``w`` ``(n, k)``, ``out`` ``(k, n)``; NaN where ``w`` is
    not finite (a diverging run: the trainer then reports the divergence)."""
    try:
        if np.isfinite(w).all():
            out[...] = np.linalg.pinv(w)
            return
    except np.linalg.LinAlgError:  # the SVD did not converge
        pass
    out.fill(np.nan)


@dataclass(frozen=True)
class Rule:
    """A rule for BP2's matrix. ``exact``: its δ is backprop's (the true gradient);
    ``into(w, out)``: ``B`` from the current ``w^{l+1}`` ``(n_{l+1}, n_l)`` written into
    ``out`` ``(n_l, n_{l+1})``, None for a rule whose matrices are drawn once (``fixed``)."""

    name: str
    label: str
    about: str
    exact: bool
    into: Callable[[Array, Array], None] | None

    @property
    def fixed(self) -> bool:
        return self.into is None


RULES: dict[str, Rule] = {
    r.name: r
    for r in (
        Rule(
            "transpose",
            "transpose (backprop)",
            "(wˡ⁺¹)ᵀ carries δˡ⁺¹ back: each neuron collects the errors of the neurons it "
            "feeds, weighted by the weights that carried its signal forward. This is "
            "backprop: the exact gradient.",
            True,
            _transpose_into,
        ),
        Rule(
            "inverse",
            "inverse (pseudo-inverse)",
            "The Moore-Penrose pseudo-inverse (wˡ⁺¹)⁺ carries δˡ⁺¹ back, recomputed from the "
            "weights at every step: the inverse when wˡ⁺¹ is square and invertible, the "
            "least-squares 'undo' of wˡ⁺¹ otherwise. Not the gradient.",
            False,
            pinv_into,
        ),
        Rule(
            "random",
            "random (feedback alignment)",
            "A fixed random matrix of (wˡ⁺¹)ᵀ's shape, drawn once from the run's seed, "
            "carries δˡ⁺¹ back. Not the gradient, yet the forward weights can come to align "
            "with it (feedback alignment).",
            False,
            None,
        ),
    )
}
NAMES: tuple[str, ...] = tuple(RULES)
DEFAULT = next(iter(RULES))  # the transpose: backprop


def get_rule(name: str) -> Rule:
    try:
        return RULES[name]
    except KeyError:
        raise ValueError(f"unknown feedback rule {name!r}; choose one of {list(RULES)}") from None


def random_matrices(sizes: list[int], seed: int) -> list[Array]:
    """The random rule's ``B^l`` for ``l = 3..L``, each ``(n_{l-1}, n_l)`` with entries from
    ``N(0, 1/n_l)``, drawn from ``seed``'s own stream (:data:`FEEDBACK_STREAM`)."""
    child = np.random.SeedSequence(seed).spawn(FEEDBACK_STREAM + 1)[FEEDBACK_STREAM]
    rng = np.random.default_rng(child)
    return [
        rng.standard_normal((k, n)) / np.sqrt(n)
        for n, k in zip(sizes[2:], sizes[1:-1], strict=True)
    ]


@dataclass(frozen=True)
class Feedback:
    """A rule and what it needs: ``fixed[i]`` is ``B^{i+3}`` ``(n_{i+2}, n_{i+3})`` for a
    rule whose matrices are drawn once (empty otherwise)."""

    rule: Rule
    fixed: tuple[Array, ...] = field(default=())

    @property
    def name(self) -> str:
        return self.rule.name

    @property
    def exact(self) -> bool:
        return self.rule.exact

    def check(self, sizes: list[int]) -> None:
        """ValueError unless the fixed matrices fit a network with these ``sizes``."""
        if not self.rule.fixed:
            return
        want = [(k, n) for n, k in zip(sizes[2:], sizes[1:-1], strict=True)]
        got = [m.shape for m in self.fixed]
        if got != want:
            raise ValueError(
                f"the {self.rule.name} rule needs matrices of shapes {want} (n_(l-1), n_l) for "
                f"l = 3..{len(sizes)}, got {got}"
            )

    def matrices(self, weights: list[Array]) -> list[Array]:
        """``B^l`` for ``l = 3..L`` (one per ``weights[1:]``), each ``(n_{l-1}, n_l)``."""
        if self.rule.into is None:
            return [np.array(m, dtype=np.float64) for m in self.fixed]
        out = []
        for w in weights[1:]:
            b = np.empty((w.shape[1], w.shape[0]))
            self.rule.into(w, b)
            out.append(b)
        return out


def make(name: str, sizes: list[int], seed: int) -> Feedback:
    """The named rule for a network with these ``sizes`` (its matrices drawn from ``seed``
    if it needs them)."""
    rule = get_rule(name)
    fixed = tuple(random_matrices(sizes, seed)) if rule.fixed else ()
    return Feedback(rule, fixed)


def alignment(rule_step: Array, true_step: Array) -> float | None:
    """The cosine between two weight updates (any shape, compared as flat vectors); None
    when either is zero or not finite (no direction to compare)."""
    u, v = rule_step.reshape(-1), true_step.reshape(-1)
    with np.errstate(all="ignore"):
        nu, nv = float(np.linalg.norm(u)), float(np.linalg.norm(v))
        if not (nu > 0.0 and nv > 0.0 and np.isfinite(nu) and np.isfinite(nv)):
            return None
        c = float(u @ v) / (nu * nv)
    if not np.isfinite(c):
        return None
    return max(-1.0, min(1.0, c))
