"""Activation functions σ and their derivatives σ', side by side (Nielsen ch. 1-3).

Each :class:`Activation` maps an array of weighted inputs ``z`` (any shape) elementwise.
``prime_from_a`` gives the same σ'(z) from the output ``a = σ(z)``; the fast training path
uses it to avoid recomputing σ. Softmax is not elementwise and is allowed only on the
output layer, paired with the log-likelihood cost, where BP1 reduces to ``δ^L = a^L − y``
and σ' is never needed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]

LEAKY_SLOPE = 0.01


@dataclass(frozen=True)
class Activation:
    name: str
    fn: Callable[[Array], Array]
    prime: Callable[[Array], Array]
    prime_from_a: Callable[[Array], Array]
    hidden_ok: bool = True


def _sigmoid(z: Array) -> Array:
    # Written via tanh: exact, and never overflows for large |z|.
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _sigmoid_prime(z: Array) -> Array:
    s = _sigmoid(z)
    return s * (1.0 - s)


def _tanh_prime(z: Array) -> Array:
    t = np.tanh(z)
    return 1.0 - t * t


def _relu(z: Array) -> Array:
    return np.maximum(z, 0.0)


def _relu_prime(z: Array) -> Array:
    return (z > 0).astype(np.float64)


def _leaky(z: Array) -> Array:
    return np.where(z > 0, z, LEAKY_SLOPE * z)


def _leaky_prime(z: Array) -> Array:
    return np.where(z > 0, 1.0, LEAKY_SLOPE)


def _linear(z: Array) -> Array:
    return np.array(z, dtype=np.float64, copy=True)


def _ones(z: Array) -> Array:
    return np.ones_like(z, dtype=np.float64)


def softmax(z: Array) -> Array:
    """Softmax over the last axis: ``a_j = e^{z_j} / Σ_k e^{z_k}`` (shifted for stability)."""
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    out: Array = e / e.sum(axis=-1, keepdims=True)
    return out


def _softmax_prime(z: Array) -> Array:
    raise ValueError("softmax has no elementwise σ'; pair it with the log-likelihood cost")


ACTIVATIONS: dict[str, Activation] = {
    "sigmoid": Activation("sigmoid", _sigmoid, _sigmoid_prime, lambda a: a * (1.0 - a)),
    "tanh": Activation("tanh", np.tanh, _tanh_prime, lambda a: 1.0 - a * a),
    "relu": Activation("relu", _relu, _relu_prime, _relu_prime),
    "leaky_relu": Activation("leaky_relu", _leaky, _leaky_prime, _leaky_prime),
    "linear": Activation("linear", _linear, _ones, _ones),
    "softmax": Activation("softmax", softmax, _softmax_prime, _softmax_prime, hidden_ok=False),
}


def get_activation(name: str) -> Activation:
    """Look up an activation by name; unknown names raise ``ValueError`` listing the choices."""
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(
            f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}"
        ) from None
