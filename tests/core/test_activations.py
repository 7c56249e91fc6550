"""The activation registry: each σ against its textbook formula and known values, each σ'
against central differences of σ, and the fast path's calls against both, bit for bit."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from app.core.activations import (
    ACTIVATIONS,
    HIDDEN,
    OUTPUT,
    erf,
    erf_float32,
    get_activation,
    softmax,
)

ELEMENTWISE = [name for name, act in ACTIVATIONS.items() if act.elementwise]
# Away from 0, where ReLU and leaky ReLU have a kink.
Z = np.array([-7.5, -2.0, -0.3, -1e-2, 1e-2, 0.4, 1.0, 3.0, 9.0])


def _phi(z: float) -> float:
    """The standard normal CDF, from the complementary error function (a different C routine
    from the ``erf`` the app uses, and accurate in the far left tail)."""
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


# The textbook formulas, one scalar at a time; every elementwise activation must have one.
FORMULA = {
    "sigmoid": lambda z: 1.0 / (1.0 + math.exp(-z)),
    "tanh": math.tanh,
    "relu": lambda z: max(0.0, z),
    "leaky_relu": lambda z: z if z > 0 else 0.01 * z,
    "swish": lambda z: z / (1.0 + math.exp(-z)),
    "gelu": lambda z: z * _phi(z),
    "linear": lambda z: z,
}


def test_every_elementwise_activation_has_a_formula_test() -> None:
    """A new activation in the registry fails here until its formula is written down."""
    assert set(FORMULA) == set(ELEMENTWISE)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_sigma_is_the_textbook_formula(name: str) -> None:
    act = get_activation(name)
    want = [FORMULA[name](float(z)) for z in Z]
    np.testing.assert_allclose(act.fn(Z), want, rtol=1e-14, atol=1e-16)


@pytest.mark.parametrize(
    ("name", "z", "want"),
    [
        # swish(1) = 1·sigmoid(1) = 1/(1 + e⁻¹); swish(−1) = −1/(1 + e)
        ("swish", 1.0, 0.7310585786300049),
        ("swish", -1.0, -0.2689414213699951),
        ("swish", 0.0, 0.0),
        # GELU(z) = z·Φ(z), Φ from a normal table: Φ(1) = 0.8413447460685429,
        # Φ(−1) = 0.15865525393145707, Φ(2) = 0.9772498680518208
        ("gelu", 1.0, 0.8413447460685429),
        ("gelu", -1.0, -0.15865525393145707),
        ("gelu", 2.0, 1.9544997361036416),
        ("gelu", 0.0, 0.0),
    ],
)
def test_swish_and_gelu_known_values(name: str, z: float, want: float) -> None:
    got = float(get_activation(name).fn(np.array([z]))[0])
    assert got == pytest.approx(want, rel=1e-15, abs=1e-300)


@pytest.mark.parametrize(
    ("name", "z", "want"),
    [
        ("swish", 0.0, 0.5),  # s + z·s(1 − s) at 0: ½
        ("gelu", 0.0, 0.5),  # Φ(0) + 0·φ(0)
        # Φ(1) + φ(1), φ(1) = e^{−½}/√(2π) = 0.24197072451914337
        ("gelu", 1.0, 0.8413447460685429 + 0.24197072451914337),
        # s(1)(1 + 1·(1 − s(1))) with s(1) = 0.7310585786300049
        ("swish", 1.0, 0.7310585786300049 * (1 + (1 - 0.7310585786300049))),
    ],
)
def test_swish_and_gelu_known_derivatives(name: str, z: float, want: float) -> None:
    act = get_activation(name)
    zz = np.array([z])
    assert float(act.prime(zz, act.fn(zz))[0]) == pytest.approx(want, rel=1e-14)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_sigma_prime_is_the_derivative(name: str) -> None:
    act = get_activation(name)
    eps = 1e-6
    numeric = (act.fn(Z + eps) - act.fn(Z - eps)) / (2 * eps)
    np.testing.assert_allclose(act.prime(Z, act.fn(Z)), numeric, rtol=1e-8, atol=1e-10)


def test_erf_against_known_values() -> None:
    x = np.array([[0.0, 0.5], [1.0, -2.0]])
    # erf(0.5), erf(1), erf(2) from Abramowitz & Stegun table 7.1 (to their 15 digits)
    want = [[0.0, 0.520499877813047], [0.842700792949715, -0.995322265018953]]
    got = erf(x)
    assert got.shape == (2, 2) and got.dtype == np.float64
    np.testing.assert_allclose(got, want, rtol=1e-14)


def test_float32_erf_is_within_its_stated_error() -> None:
    """A&S 7.1.26's bound, 1.5e-7, plus float32's rounding of the result (|erf| ≤ 1: 6e-8)."""
    x = np.linspace(-8.0, 8.0, 160_001)
    got = erf_float32(x.astype(np.float32))
    assert got.dtype == np.float32
    want = np.array([math.erf(v) for v in x.astype(np.float32).astype(np.float64)])
    assert np.max(np.abs(got.astype(np.float64) - want)) <= 1.5e-7 + 6e-8
    assert got[0] == -1.0 and got[-1] == 1.0
    half = np.linspace(0.0, 8.0, 8001, dtype=np.float32)
    np.testing.assert_array_equal(erf_float32(-half), -erf_float32(half))  # odd, as erf is


ALL_Z = np.concatenate([Z, [0.0, -0.0, 1e-300, -1e-300, -40.0, 40.0]])  # the kink too


@pytest.mark.parametrize("name", ELEMENTWISE)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fast_path_calls_equal_fn_and_prime_bit_for_bit(name: str, dtype: type) -> None:
    """``forward_ops``/``prime_ops`` on preallocated buffers round exactly like ``fn`` and
    ``prime`` (the tests hold the fast training path to backprop at 1e-12), in float64;
    in float32 (the metrics' pass) they stay within float32's precision."""
    act = get_activation(name)
    z = ALL_Z.reshape(3, 5).astype(dtype)
    a, p = np.full_like(z, np.nan), np.full_like(z, np.nan)
    for f, args in act.forward_ops(z, a, 0):
        f(*args)
    assert act.prime_ops is not None
    for f, args in act.prime_ops(z, a, p):
        f(*args)
    assert a.dtype == p.dtype == dtype
    z64 = z.astype(np.float64)
    want_a, want_p = act.fn(z64), act.prime(z64, act.fn(z64))
    if dtype == np.float64:
        np.testing.assert_array_equal(a, want_a)
        np.testing.assert_array_equal(p, want_p)
    else:
        np.testing.assert_allclose(a, want_a, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(p, want_p, rtol=1e-6, atol=1e-6)


def test_softmax_fast_path_calls_take_the_neurons_axis() -> None:
    act = get_activation("softmax")
    z = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0], [1000.0, 0.0, -1000.0]])
    for axis, zz in ((1, z), (0, np.ascontiguousarray(z.T))):
        a = np.empty_like(zz)
        for f, args in act.forward_ops(zz, a, axis):
            f(*args)
        np.testing.assert_allclose(a if axis == 1 else a.T, softmax(z), rtol=1e-15)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_prime_reads_z_and_a_consistently(name: str) -> None:
    """σ'(z, σ(z)) holds at the kink too: z > 0 decides."""
    act = get_activation(name)
    eps = 1e-7
    numeric = (act.fn(ALL_Z + eps) - act.fn(ALL_Z - eps)) / (2 * eps)
    got = act.prime(ALL_Z, act.fn(ALL_Z))
    away = np.abs(ALL_Z) > 1e-3
    np.testing.assert_allclose(got[away], numeric[away], rtol=1e-6, atol=1e-9)
    if act.kink:  # at 0 itself: the z ≤ 0 side
        np.testing.assert_array_equal(got[~away & (ALL_Z == 0)], act.prime(Z, act.fn(Z))[0])


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_sigma_keeps_shape_and_leaves_z_alone(name: str) -> None:
    z = np.arange(-3.0, 3.0).reshape(2, 3)
    keep = z.copy()
    act = get_activation(name)
    a = act.fn(z)
    a[...] = 42.0  # the output is never a view of z
    np.testing.assert_array_equal(z, keep)
    assert act.prime(z, act.fn(z)).shape == (2, 3)


def test_kinks_use_the_z_gt_0_convention() -> None:
    z = np.array([0.0])
    relu, leaky = get_activation("relu"), get_activation("leaky_relu")
    assert relu.prime(z, relu.fn(z))[0] == 0.0
    assert leaky.prime(z, leaky.fn(z))[0] == 0.01


@pytest.mark.parametrize("name", ["sigmoid", "swish", "gelu"])
def test_saturating_inputs_never_overflow(name: str) -> None:
    act = get_activation(name)
    z = np.array([-1e4, -800.0, 800.0, 1e4])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflow warning fails the test
        a = act.fn(z)
        p = act.prime(z, a)
    want_a = [0.0, 0.0, 800.0, 1e4] if name != "sigmoid" else [0.0, 0.0, 1.0, 1.0]
    want_p = [0.0, 0.0, 1.0, 1.0] if name != "sigmoid" else [0.0, 0.0, 0.0, 0.0]
    np.testing.assert_allclose(a, want_a, atol=1e-300)
    np.testing.assert_allclose(p, want_p, atol=1e-300)


def test_softmax() -> None:
    z = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0], [1000.0, 0.0, -1000.0]])
    a = softmax(z)
    e = np.exp([1.0, 2.0, 3.0])
    np.testing.assert_allclose(a[0], e / e.sum(), rtol=1e-15)
    np.testing.assert_allclose(a[1], [1 / 3] * 3, rtol=1e-15)
    np.testing.assert_allclose(a[2], [1.0, 0.0, 0.0])
    np.testing.assert_allclose(a.sum(axis=1), 1.0, rtol=1e-15)
    np.testing.assert_allclose(softmax(z[:2] + 50.0), a[:2], rtol=1e-14)  # shift-invariant


def test_softmax_has_no_elementwise_prime_and_is_output_only() -> None:
    act = get_activation("softmax")
    assert not act.hidden_ok and act.prime_ops is None
    assert all(ACTIVATIONS[name].hidden_ok for name in ELEMENTWISE)
    with pytest.raises(ValueError, match="log-likelihood"):
        act.prime(np.zeros((1, 3)), np.zeros((1, 3)))


def test_the_registry_describes_each_activation_truthfully() -> None:
    """What saturation checks, the boundary plot and the accuracy rule read from the registry
    holds of the functions themselves."""
    wide = np.linspace(-30.0, 30.0, 6001)
    for name in ELEMENTWISE:
        act = get_activation(name)
        a, p = act.fn(wide), act.prime(wide, act.fn(wide))
        if act.bounds is not None:
            lo, hi = act.bounds
            assert lo <= a.min() and a.max() <= hi, name
            assert a.min() < lo + 1e-6 and a.max() > hi - 1e-6, name  # the range is reached
        if act.prime_max is not None:
            assert p.max() == pytest.approx(act.prime_max, rel=1e-6), name
            assert p[0] < 1e-6 and p[-1] < 1e-6, name  # σ' vanishes on both sides
        else:
            assert max(p[0], p[-1]) > 0.5 or act.dies or act.kink, name
        assert (p[wide < 0].max() == 0.0) == act.dies, name
        lo_t, hi_t = act.classes
        assert act.cut == (lo_t + hi_t) / 2
    assert set(HIDDEN) == {n for n, act in ACTIVATIONS.items() if act.hidden_ok}
    assert set(OUTPUT) == set(ACTIVATIONS)
    labels = [act.label for act in ACTIVATIONS.values()]
    assert len(set(labels)) == len(labels)  # a person can tell them apart


def test_unknown_activation_lists_the_choices() -> None:
    with pytest.raises(ValueError, match=r"unknown activation 'mish'.*'leaky_relu'"):
        get_activation("mish")


def test_gelu_sigma_prime_is_the_textbook_derivative_from_z_and_a() -> None:
    """GELU's σ' reads Φ(z) off a = z·Φ(z) (no second erf): it is still Φ(z) + z·φ(z),
    with Φ written here through erfc (the app uses erf), near 0 and at denormal z too."""
    act = get_activation("gelu")
    z = np.concatenate(
        [np.linspace(-9.0, 9.0, 1801), [0.0, -0.0, 1e-300, -1e-300, 5e-324, 1e-12, -3e-8]]
    )
    got = act.prime(z, act.fn(z))
    want = np.array(
        [
            0.5 * math.erfc(-v / math.sqrt(2.0))
            + v * math.exp(-0.5 * v * v) / math.sqrt(2.0 * math.pi)
            for v in z
        ]
    )
    # erf's 1 + erf(z/√2) loses digits for z ≪ 0 (as the forward pass does): absolute 1e-15
    np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-15)
    assert got[-7] == got[-6] == got[-3] == 0.5
