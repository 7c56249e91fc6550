"""Each σ against its textbook formula, each σ' against central differences of σ."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from app.core.activations import ACTIVATIONS, get_activation, softmax

ELEMENTWISE = ["sigmoid", "tanh", "relu", "leaky_relu", "linear"]
# Away from 0, where ReLU and leaky ReLU have a kink.
Z = np.array([-7.5, -2.0, -0.3, -1e-2, 1e-2, 0.4, 1.0, 3.0, 9.0])

FORMULA = {
    "sigmoid": lambda z: 1.0 / (1.0 + math.exp(-z)),
    "tanh": math.tanh,
    "relu": lambda z: max(0.0, z),
    "leaky_relu": lambda z: z if z > 0 else 0.01 * z,
    "linear": lambda z: z,
}


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_sigma_is_the_textbook_formula(name: str) -> None:
    act = get_activation(name)
    want = [FORMULA[name](float(z)) for z in Z]
    np.testing.assert_allclose(act.fn(Z), want, rtol=1e-14, atol=1e-16)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_sigma_prime_is_the_derivative(name: str) -> None:
    act = get_activation(name)
    eps = 1e-6
    numeric = (act.fn(Z + eps) - act.fn(Z - eps)) / (2 * eps)
    np.testing.assert_allclose(act.prime(Z), numeric, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_prime_from_a_equals_prime(name: str) -> None:
    act = get_activation(name)
    z = np.concatenate([Z, [0.0, -0.0, 1e-300, -1e-300]])  # the kink too: z > 0 decides
    np.testing.assert_array_equal(act.prime_from_a(act.fn(z)), act.prime(z))


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_sigma_keeps_shape_and_leaves_z_alone(name: str) -> None:
    z = np.arange(-3.0, 3.0).reshape(2, 3)
    keep = z.copy()
    a = get_activation(name).fn(z)
    a[...] = 42.0  # the output is never a view of z
    np.testing.assert_array_equal(z, keep)
    assert get_activation(name).prime(z).shape == (2, 3)


def test_kinks_use_the_z_gt_0_convention() -> None:
    z = np.array([0.0])
    assert get_activation("relu").prime(z)[0] == 0.0
    assert get_activation("leaky_relu").prime(z)[0] == 0.01


def test_sigmoid_saturates_without_overflow() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflow warning fails the test
        a = get_activation("sigmoid").fn(np.array([-1e4, -800.0, 800.0, 1e4]))
        p = get_activation("sigmoid").prime(np.array([-1e4, 1e4]))
    np.testing.assert_array_equal(a, [0.0, 0.0, 1.0, 1.0])
    np.testing.assert_array_equal(p, [0.0, 0.0])


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
    assert not act.hidden_ok
    assert all(ACTIVATIONS[name].hidden_ok for name in ELEMENTWISE)
    with pytest.raises(ValueError, match="log-likelihood"):
        act.prime(np.zeros((1, 3)))


def test_unknown_activation_lists_the_choices() -> None:
    with pytest.raises(ValueError, match=r"unknown activation 'swish'.*'leaky_relu'"):
        get_activation("swish")
