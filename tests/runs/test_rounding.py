"""``round_sig`` against decimal rounding (``float(f"{x:.4g}")``), on random magnitudes."""

from __future__ import annotations

import numpy as np
import pytest

from app.runs.rounding import CLIP, round_sig, rounded32


def _away_from_ties(rng: np.random.Generator, n: int, e_lo: int, e_hi: int) -> np.ndarray:
    """``±(M + u)·10^(e−3)``: 4 digits M, |u| ≤ 0.45, so the 4-digit rounding is not a tie."""
    e = rng.integers(e_lo, e_hi + 1, n)
    digits = rng.integers(1000, 10000, n) + rng.uniform(-0.45, 0.45, n)
    x: np.ndarray = rng.choice([-1.0, 1.0], n) * digits * 10.0 ** (e - 3).astype(np.float64)
    return x


def _decimal(x: np.ndarray) -> np.ndarray:
    return np.array([float(f"{v:.4g}") for v in x])


def _bits(x: np.ndarray) -> np.ndarray:
    return x.view(np.int64 if x.dtype == np.float64 else np.int32)


def test_round_sig_is_decimal_rounding_where_the_scale_is_exact() -> None:
    """For decimal exponents -19..3 the scale 10^(3 − e) is an exact double, so
    ``rint(x·s) / s`` is the double nearest the 4-digit decimal, as ``float(f"{x:.4g}")``."""
    x = _away_from_ties(np.random.default_rng(0), 20_000, -19, 3)
    got = x.copy()
    round_sig(got, np.empty_like(got))
    np.testing.assert_array_equal(_bits(got), _bits(_decimal(x)))


def test_rounded32_is_decimal_rounding_in_float32() -> None:
    """Over the float32 range up to 10^8 (subnormals included) the float32 result is the
    decimal's; above, a 4-digit integer can lie halfway between two float32 numbers, and the
    cast of ``rint(x·s) / s`` (off by an ulp there) may round it the other way."""
    x = _away_from_ties(np.random.default_rng(1), 20_000, -50, 7)
    want = _decimal(x).astype(np.float32)
    np.testing.assert_array_equal(_bits(rounded32(x)), _bits(want))


def test_round_sig_at_powers_of_ten_zero_and_the_limits() -> None:
    powers = 10.0 ** np.arange(-45, 31)
    x = np.concatenate(
        [
            powers,
            -powers,
            np.nextafter(powers, 0.0),  # just below 10^k: rounds up to it
            np.nextafter(powers, np.inf),
            [0.0, -0.0, CLIP, -CLIP, 9.9994e-3, 9.99951e-3, 1e-300, 5e-324, -1e-320],
        ]
    )
    want = _decimal(x).astype(np.float32)
    np.testing.assert_array_equal(_bits(rounded32(x)), _bits(want))  # ±0 keep their sign


def test_round_sig_writes_float32_into_out() -> None:
    x = np.array([0.123456, -98765.4, 0.0])
    out = np.empty(3, dtype=np.float32)
    round_sig(x.copy(), np.empty(3), out=out)
    assert out.tolist() == pytest.approx([0.1235, -98770.0, 0.0], rel=1e-7)
    assert _bits(out).tolist() == _bits(rounded32(x)).tolist()


def test_an_exact_binary_tie_rounds_half_to_even() -> None:
    """Where ``x·s`` lands exactly on a half (0.12345·10⁴ is 1234.5 in binary arithmetic),
    ``rint`` rounds to even, unlike decimal rounding of x itself (0.12345 is a hair above)."""
    buf = np.array([0.12345])
    round_sig(buf, np.empty(1))
    assert buf[0] == 0.1234 and float(f"{0.12345:.4g}") == 0.1235
