"""Rounding frame numbers to 4 significant digits, so float32 JSON stays short (``0.1235``).

Magnitudes above ``CLIP`` only occur in a diverging run; they are clipped because float32
tops out at 3.4e38 and orjson would write the resulting infinity as ``null``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]
Array32 = NDArray[np.float32]

CLIP = 1e30
SIG_DIGITS = 4
# _SCALE[e + _OFFSET] = 10^(SIG_DIGITS - 1 - e) for decimal exponents e in [-300, 30].
_OFFSET = 400
_SCALE = 10.0 ** (SIG_DIGITS - 1 - (np.arange(_OFFSET + 40) - _OFFSET).clip(-300, 300))
# 0-d arrays: a ufunc takes them a little faster than Python scalars.
_TINY, _OFFSET_F = np.array(1e-300), np.array(float(_OFFSET))


def round_sig(
    buf: Array,
    tmp: Array,
    out: NDArray[Any] | None = None,
    scratch: tuple[NDArray[np.intp], Array] | None = None,
) -> None:
    """Round finite ``buf`` (|x| ≤ CLIP) to 4 significant digits, in place or into ``out``
    (cast to its dtype, float32 for a frame; ``buf`` is then left scaled); ``tmp``: scratch;
    ``scratch``: an intp and a float64 buffer of ``buf``'s size, for a caller on a hot path
    (else two arrays are allocated).

    ``x`` becomes ``rint(x·s) / s`` with ``s = 10^(3 − e)``, ``e = ⌊log10 |x|⌋`` (``|x|`` is
    taken as at least 1e-300, so that zero has a scale too).
    """
    np.abs(buf, out=tmp)
    np.maximum(tmp, _TINY, out=tmp)
    np.log10(tmp, out=tmp)
    tmp += _OFFSET_F
    if scratch is None:
        scale = _SCALE[tmp.astype(np.intp)]  # floor: the values are positive here
    else:
        idx, scale = scratch
        np.copyto(idx, tmp, casting="unsafe")  # floor, as above
        _SCALE.take(idx, out=scale, mode="wrap")  # in range: e is in [-300, 30]
    buf *= scale
    np.rint(buf, out=buf)
    np.divide(buf, scale, out=buf if out is None else out, casting="same_kind")


def make_finite(buf: Array) -> None:
    """Clip to ±CLIP (infinities included) and replace NaN by 0, in place."""
    np.clip(buf, -CLIP, CLIP, out=buf)
    nan = np.isnan(buf)
    if nan.any():
        buf[nan] = 0.0


def rounded32(values: Array) -> Array32:
    """A finite float32 copy of ``values`` rounded to 4 significant digits."""
    buf = np.array(values, dtype=np.float64).reshape(-1)
    make_finite(buf)
    round_sig(buf, np.empty_like(buf))
    return buf.astype(np.float32).reshape(np.shape(values))


def round4(x: float) -> float | None:
    """A Python float rounded to 4 significant digits; None if it is not finite."""
    if not math.isfinite(x):
        return None
    return float(f"{x:.4g}")
