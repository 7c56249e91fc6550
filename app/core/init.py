"""Weight initialisation schemes, each drawing from an explicit ``numpy.random.Generator``.

Every scheme returns ``(weights, biases)`` with ``weights[i]`` of shape ``(n_l, n_{l-1})``
(``w^l_jk`` from neuron k in layer l-1 to neuron j in layer l) and ``biases[i]`` of shape
``(n_l,)``, for ``l = 2..L``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]
Params = tuple[list[Array], list[Array]]


def _layers(sizes: list[int]) -> list[tuple[int, int]]:
    return list(zip(sizes[1:], sizes[:-1], strict=True))


def playground(sizes: list[int], rng: np.random.Generator) -> Params:
    """TensorFlow Playground: weights uniform on ±0.5, biases 0.1."""
    ws = [rng.uniform(-0.5, 0.5, size=(n, k)) for n, k in _layers(sizes)]
    return ws, [np.full(n, 0.1) for n in sizes[1:]]


def xavier(sizes: list[int], rng: np.random.Generator) -> Params:
    """Glorot/Xavier uniform: ``U(±√(6/(n_in + n_out)))``, biases 0."""
    ws = [rng.uniform(-1, 1, size=(n, k)) * np.sqrt(6.0 / (n + k)) for n, k in _layers(sizes)]
    return ws, [np.zeros(n) for n in sizes[1:]]


def he(sizes: list[int], rng: np.random.Generator) -> Params:
    """He: ``N(0, 2/n_in)``, biases 0 (suits ReLU)."""
    ws = [rng.standard_normal((n, k)) * np.sqrt(2.0 / k) for n, k in _layers(sizes)]
    return ws, [np.zeros(n) for n in sizes[1:]]


def standard_normal(sizes: list[int], rng: np.random.Generator) -> Params:
    """``N(0, 1)`` weights and biases: the book's "large weights" that saturate neurons."""
    ws = [rng.standard_normal((n, k)) for n, k in _layers(sizes)]
    return ws, [rng.standard_normal(n) for n in sizes[1:]]


def zeros(sizes: list[int], rng: np.random.Generator) -> Params:
    """All zeros: every hidden neuron stays identical (the symmetry demo)."""
    return [np.zeros((n, k)) for n, k in _layers(sizes)], [np.zeros(n) for n in sizes[1:]]


INITS: dict[str, Callable[[list[int], np.random.Generator], Params]] = {
    "playground": playground,
    "xavier": xavier,
    "he": he,
    "standard_normal": standard_normal,
    "zeros": zeros,
}


def initialise(scheme: str, sizes: list[int], rng: np.random.Generator) -> Params:
    try:
        fn = INITS[scheme]
    except KeyError:
        raise ValueError(f"unknown init {scheme!r}; choose one of {sorted(INITS)}") from None
    return fn(sizes, rng)
