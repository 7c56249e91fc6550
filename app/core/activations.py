"""The activation registry: every σ the app offers, with σ', and everything else said about it.

This is the one place an activation is defined (Nielsen ch. 1-3). Each :class:`Activation`
knows

- ``fn``: ``a = σ(z)``, elementwise on an array of weighted inputs ``z`` of any shape;
- ``prime``: ``σ'(z)`` given both ``z`` and ``a = σ(z)`` (a caller passes what it has; tanh
  and sigmoid read only ``a``, ReLU only ``z``, swish and GELU need ``z``);
- ``forward_ops`` / ``prime_ops``: the same two functions as a fixed list of NumPy calls on
  preallocated buffers, for the fast training path (:mod:`app.core.fast_step`), rounding
  exactly like ``fn`` and ``prime`` (the tests hold them bit for bit);
- what people and the rest of the app need: its ``label``, the ``symbol`` written in
  equations, whether it is allowed on hidden and output layers, its range and largest σ'
  when it saturates, whether its units can die, the class targets on one output, and σ' as
  arithmetic on ``a`` for the explain panel.

The API's enums, ``/api/options``, the page's labels, the link grammar, the saturation check
and the gradient checks are all derived from :data:`ACTIVATIONS`: a new activation is one
entry here and its tests. Softmax is not elementwise and is allowed only on the output layer,
paired with the log-likelihood cost, where BP1 reduces to ``δ^L = a^L − y`` and σ' is never
needed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]
# One NumPy call of a fast path, its arguments bound once: ``f(*args)``.
Op = tuple[Callable[..., object], tuple[object, ...]]
# (z, a, axis) -> calls writing a = σ(z); ``axis`` is the neurons' axis (softmax only)
ForwardOps = Callable[[Array, Array, int], list[Op]]
# (z, a, p) -> calls writing p = σ'(z), any shape; z and a are only read
PrimeOps = Callable[[Array, Array, Array], list[Op]]

LEAKY_SLOPE = 0.01
INV_SQRT2 = 1.0 / math.sqrt(2.0)
INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _c(v: float, like: Array) -> Array:
    """The scalar ``v`` as a 0-d array of ``like``'s dtype, for a fast-path call: a ufunc
    converts a Python float on every call (about as costly as the arithmetic on a 10 × 8
    array), and a float64 constant would make a float32 pass compute in float64."""
    return np.array(v, like.dtype)


# erf, elementwise: NumPy has none, so in float64 this is the C library's ``math.erf``
# (accurate to about 1 ulp) applied per element, ~0.1 µs per element: GELU's forward pass
# needs it once, and its σ' not at all (Φ(z) = a/z, see _gelu_prime). A vectorised rational
# approximation (Cody 1969, 5e-16 relative) was measured here at 1.5-6x slower than this
# for the 80-300 elements of a batch of 10 (about 35 NumPy calls against n Python calls), so
# it is not used. A float32 pass (metrics, the decision boundary) uses Abramowitz-Stegun
# 7.1.26 instead: see erf_float32.
_ERF = np.frompyfunc(math.erf, 1, 1)


def erf(x: Array) -> Array:
    """``erf(x)`` elementwise, float64, same shape as ``x``."""
    out: Array = np.asarray(_ERF(x), dtype=np.float64)
    return out


def _erf_into(x: Array, out: Array) -> None:
    out[...] = _ERF(x)


# Abramowitz & Stegun 7.1.26: erf(x) = 1 − (a₁t + a₂t² + … + a₅t⁵)·e^{−x²}, t = 1/(1 + px),
# x ≥ 0, |error| ≤ 1.5e-7: below what a float32 pass carries (6e-8 relative), and ~100x faster
# than ``math.erf`` per element. Used only by float32 passes (metrics and the decision
# boundary, shown to 4 digits); training, frames and explain are float64 and exact.
_AS_P = 0.3275911
_AS_A = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)


def erf_float32(x: NDArray[np.floating]) -> NDArray[np.float32]:
    """``erf(x)`` to 1.5e-7 (A&S 7.1.26; computed in float64, so float32's own rounding of
    the result, 6e-8, is all that adds), as float32, same shape."""
    ax = np.abs(x, dtype=np.float64)
    t = 1.0 / (1.0 + _AS_P * ax)
    poly = np.zeros_like(t)
    for a_k in reversed(_AS_A):
        poly += a_k
        poly *= t
    out: NDArray[np.float32] = np.copysign(1.0 - poly * np.exp(-ax * ax), x).astype(np.float32)
    return out


def _erf_float32_into(x: NDArray[np.float32], out: NDArray[np.float32]) -> None:
    out[...] = erf_float32(x)


@dataclass(frozen=True)
class Activation:
    """One activation function σ and what the app needs to know about it (see the module)."""

    name: str  # the wire name (API, links, frames)
    label: str  # for people: "leaky ReLU"
    symbol: str  # the function's name in an equation: a = σ(z), tanh(z), ReLU(z)
    fn: Callable[[Array], Array]  # a = σ(z), same shape as z, never a view of it
    prime: Callable[[Array, Array], Array]  # σ'(z) from (z, a = σ(z)), same shape
    forward_ops: ForwardOps
    prime_ops: PrimeOps | None = None  # None: σ' is not elementwise (softmax)
    hidden_ok: bool = True
    output_ok: bool = True
    elementwise: bool = True
    identity: bool = False  # σ(z) = z: σ' is 1 and a may share z's buffer
    ufunc: np.ufunc | None = None  # σ as one NumPy ufunc, when it is one (applied in place)
    bounds: tuple[float, float] | None = None  # the range of a, when bounded
    prime_max: float | None = None  # the largest σ', for an activation that saturates
    dies: bool = False  # σ' = 0 for every z ≤ 0: a unit whose z ≤ 0 everywhere never learns
    kink: bool = False  # σ' depends only on whether z > 0 (the page says which side z is)
    classes: tuple[float, float] = (-1.0, 1.0)  # targets of the −/+ class on one output
    prime_from_a: tuple[str, ...] | None = None  # σ' as arithmetic on a, tokens for the page

    @property
    def saturates(self) -> bool:
        """σ' tends to 0 on both sides: a unit far out on either side passes no error back."""
        return self.prime_max is not None

    @property
    def cut(self) -> float:
        """One output: the class is positive where ``a`` is above this (the targets' midpoint)."""
        return 0.5 * (self.classes[0] + self.classes[1])


# -- sigmoid ------------------------------------------------------------------------------
def _sigmoid(z: Array) -> Array:
    # Written via tanh: exact, and never overflows for large |z|.
    out: Array = 0.5 * (1.0 + np.tanh(0.5 * z))
    return out


def _sigmoid_ops(z: Array, out: Array) -> list[Op]:
    """``out = ½(1 + tanh(z/2))``, the order of operations of :func:`_sigmoid`."""
    mul, half, one = np.multiply, _c(0.5, out), _c(1.0, out)
    return [
        (mul, (z, half, out)),
        (np.tanh, (out, out)),
        (np.add, (out, one, out)),
        (mul, (out, half, out)),
    ]


def _sigmoid_prime(z: Array, a: Array) -> Array:
    out: Array = a * (1.0 - a)
    return out


# -- tanh ---------------------------------------------------------------------------------
def _tanh_prime(z: Array, a: Array) -> Array:
    out: Array = 1.0 - a * a
    return out


# -- ReLU and leaky ReLU (the kink at 0 takes the z ≤ 0 side) -----------------------------
def _relu(z: Array) -> Array:
    out: Array = np.maximum(z, 0.0)
    return out


def _relu_prime(z: Array, a: Array) -> Array:
    return (z > 0).astype(np.float64)


def _leaky(z: Array) -> Array:
    out: Array = np.maximum(z, LEAKY_SLOPE * z)
    return out


def _leaky_prime(z: Array, a: Array) -> Array:
    out: Array = np.where(z > 0, 1.0, LEAKY_SLOPE)
    return out


# -- swish: z·sigmoid(z) (Ramachandran et al. 2017; SiLU) ----------------------------------
def _swish(z: Array) -> Array:
    out: Array = _sigmoid(z) * z
    return out


def _swish_prime(z: Array, a: Array) -> Array:
    """``s + z·s(1 − s) = s + a(1 − s)`` with ``s = sigmoid(z)``."""
    s = _sigmoid(z)
    out: Array = s + (1.0 - s) * a
    return out


def _swish_prime_ops(z: Array, a: Array, p: Array) -> list[Op]:
    tmp = np.empty_like(p)
    return [
        *_sigmoid_ops(z, p),
        (np.subtract, (_c(1.0, p), p, tmp)),
        (np.multiply, (tmp, a, tmp)),
        (np.add, (p, tmp, p)),
    ]


# -- GELU, the exact form: z·Φ(z), Φ the standard normal CDF (Hendrycks & Gimpel 2016) ------
def _phi_cdf(z: Array) -> Array:
    out: Array = 0.5 * (1.0 + erf(z * INV_SQRT2))
    return out


def _phi_cdf_ops(z: Array, out: Array) -> list[Op]:
    """``out = ½(1 + erf(z/√2))``, the order of operations of :func:`_phi_cdf`."""
    mul = np.multiply
    erf_into = _erf_into if out.dtype == np.float64 else _erf_float32_into
    return [
        (mul, (z, _c(INV_SQRT2, out), out)),
        (erf_into, (out, out)),
        (np.add, (out, _c(1.0, out), out)),
        (mul, (out, _c(0.5, out), out)),
    ]


def _gelu(z: Array) -> Array:
    out: Array = _phi_cdf(z) * z
    return out


# Below this |z|, Φ(z) is ½ to within 1e-290 (and a = z·Φ(z) may have lost digits).
_GELU_TINY = 1e-290


def _gelu_prime(z: Array, a: Array) -> Array:
    """``Φ(z) + z·φ(z)``, ``φ(z) = e^{−z²/2}/√(2π)``: the exact derivative of :func:`_gelu`,
    with ``Φ(z) = a/z`` (a = z·Φ(z) is given: no second erf; ½ where |z| ≤ 1e-290)."""
    phi_cdf = np.full(np.shape(z), 0.5, dtype=np.result_type(z, a))
    np.divide(a, z, out=phi_cdf, where=np.abs(z) > _GELU_TINY)
    density = np.exp(z * z * -0.5) * INV_SQRT_2PI
    out: Array = phi_cdf + density * z
    return out


def _gelu_prime_ops(z: Array, a: Array, p: Array) -> list[Op]:
    """:func:`_gelu_prime`'s calls: Φ(z) = a/z into ``p`` (½ near 0), then ``+ z·φ(z)``."""
    tmp, mul = np.empty_like(p), np.multiply
    away = np.empty(p.shape, np.bool_)
    return [
        (np.abs, (z, tmp)),
        (np.greater, (tmp, _c(_GELU_TINY, p), away)),
        (np.copyto, (p, _c(0.5, p))),
        (partial(np.divide, out=p, where=away), (a, z)),
        (mul, (z, z, tmp)),
        (mul, (tmp, _c(-0.5, p), tmp)),
        (np.exp, (tmp, tmp)),
        (mul, (tmp, _c(INV_SQRT_2PI, p), tmp)),
        (mul, (tmp, z, tmp)),
        (np.add, (p, tmp, p)),
    ]


# -- linear ---------------------------------------------------------------------------------
def _linear(z: Array) -> Array:
    return np.array(z, dtype=np.float64, copy=True)


def _ones(z: Array, a: Array) -> Array:
    return np.ones_like(z, dtype=np.float64)


# -- softmax --------------------------------------------------------------------------------
def softmax(z: Array) -> Array:
    """Softmax over the last axis: ``a_j = e^{z_j} / Σ_k e^{z_k}`` (shifted for stability)."""
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    out: Array = e / e.sum(axis=-1, keepdims=True)
    return out


def _softmax_prime(z: Array, a: Array) -> Array:
    raise ValueError("softmax has no elementwise σ'; pair it with the log-likelihood cost")


def _softmax_ops(z: Array, a: Array, axis: int) -> list[Op]:
    """Over the neurons (``axis``) of each example, shifted by that example's largest z."""
    shape = list(z.shape)
    shape[axis] = 1
    top, total = np.empty(shape, z.dtype), np.empty(shape, z.dtype)
    return [
        (np.maximum.reduce, (z, axis, None, top, True)),
        (np.subtract, (z, top, a)),
        (np.exp, (a, a)),
        (np.add.reduce, (a, axis, None, total, True)),
        (np.divide, (a, total, a)),
    ]


# -- the registry ---------------------------------------------------------------------------
def _elementwise(
    f: Callable[[Array, Array], list[Op]],
) -> ForwardOps:
    return lambda z, a, axis: f(z, a)


ACTIVATIONS: dict[str, Activation] = {
    act.name: act
    for act in (
        Activation(
            name="tanh",
            label="tanh",
            symbol="tanh",
            fn=np.tanh,
            prime=_tanh_prime,
            forward_ops=_elementwise(lambda z, a: [(np.tanh, (z, a))]),
            prime_ops=lambda z, a, p: [
                (np.multiply, (a, a, p)),
                (np.subtract, (_c(1.0, p), p, p)),
            ],  # 1 − a²
            ufunc=np.tanh,
            bounds=(-1.0, 1.0),
            prime_max=1.0,
            prime_from_a=("1", "−", "a", "·", "a"),
        ),
        Activation(
            name="sigmoid",
            label="sigmoid",
            symbol="σ",
            fn=_sigmoid,
            prime=_sigmoid_prime,
            forward_ops=_elementwise(_sigmoid_ops),
            prime_ops=lambda z, a, p: [
                (np.subtract, (_c(1.0, p), a, p)),
                (np.multiply, (p, a, p)),
            ],  # a(1 − a)
            bounds=(0.0, 1.0),
            prime_max=0.25,
            classes=(0.0, 1.0),
            prime_from_a=("a", "·", "(", "1", "−", "a", ")"),
        ),
        Activation(
            name="relu",
            label="ReLU",
            symbol="ReLU",
            fn=_relu,
            prime=_relu_prime,
            forward_ops=_elementwise(lambda z, a: [(partial(np.maximum, out=a), (z, _c(0.0, a)))]),
            # a > 0 exactly where z > 0, and a ≥ 0, so sgn(a) is 1 or 0
            prime_ops=lambda z, a, p: [(np.sign, (a, p))],
            dies=True,
            kink=True,
        ),
        Activation(
            name="leaky_relu",
            label="leaky ReLU",
            symbol="leaky ReLU",
            fn=_leaky,
            prime=_leaky_prime,
            forward_ops=_elementwise(
                lambda z, a: [
                    (np.multiply, (z, _c(LEAKY_SLOPE, a), a)),
                    (partial(np.maximum, out=a), (z, a)),
                ]
            ),  # max(z, slope·z)
            # sgn(a) is 1, 0 or −1; z ≤ 0 must give the slope
            prime_ops=lambda z, a, p: [
                (np.sign, (a, p)),
                (partial(np.maximum, out=p), (p, _c(LEAKY_SLOPE, p))),
            ],
            kink=True,
        ),
        Activation(
            name="swish",
            label="swish",
            symbol="swish",
            fn=_swish,
            prime=_swish_prime,
            forward_ops=_elementwise(lambda z, a: [*_sigmoid_ops(z, a), (np.multiply, (a, z, a))]),
            prime_ops=_swish_prime_ops,
        ),
        Activation(
            name="gelu",
            label="GELU",
            symbol="GELU",
            fn=_gelu,
            prime=_gelu_prime,
            forward_ops=_elementwise(lambda z, a: [*_phi_cdf_ops(z, a), (np.multiply, (a, z, a))]),
            prime_ops=_gelu_prime_ops,
        ),
        Activation(
            name="linear",
            label="linear",
            symbol="id",
            fn=_linear,
            prime=_ones,
            forward_ops=_elementwise(lambda z, a: [] if z is a else [(np.copyto, (a, z))]),
            prime_ops=lambda z, a, p: [(np.copyto, (p, _c(1.0, p)))],
            identity=True,
        ),
        Activation(
            name="softmax",
            label="softmax",
            symbol="softmax",
            fn=softmax,
            prime=_softmax_prime,
            forward_ops=_softmax_ops,
            hidden_ok=False,
            elementwise=False,
            bounds=(0.0, 1.0),
            classes=(0.0, 1.0),
        ),
    )
}

NAMES: tuple[str, ...] = tuple(ACTIVATIONS)
HIDDEN: tuple[str, ...] = tuple(n for n, a in ACTIVATIONS.items() if a.hidden_ok)
OUTPUT: tuple[str, ...] = tuple(n for n, a in ACTIVATIONS.items() if a.output_ok)


def get_activation(name: str) -> Activation:
    """Look up an activation by name; unknown names raise ``ValueError`` listing the choices."""
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(
            f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}"
        ) from None
