"""Toy 2-D datasets, input features, targets and accuracy.

The six Playground sets are ports of TensorFlow Playground's ``src/dataset.ts``, with an
explicit ``numpy.random.Generator`` in place of ``Math.random``. ``noise`` is Playground's
0-50 % slider as a fraction in ``[0, 0.5]`` and enters exactly as there:

- circle (500): half with radius ``U(0, 2.5)``, half in the ring ``U(3.5, 5)``, uniform angle;
  the label is +1 if the point *moved by* ``U(-5, 5)·noise`` per axis lies within 2.5, else −1
  (the point itself is not moved, so noise flips labels near the boundary).
- xor (500): x, y uniform on ±5, pushed 0.3 away from the axes; label ``+1`` if
  ``(x + nx)(y + ny) ≥ 0`` with ``nx, ny ~ U(-5, 5)·noise``, else −1.
- gauss (500): two clusters at (2, 2) (+1) and (−2, −2) (−1), per-axis variance
  ``0.5 + 7·noise`` (0.5 … 4).
- spiral (500): two arms, point i of n per arm at radius ``5i/n``, angle ``3.5π·i/n`` (+π for
  the −1 arm), each coordinate moved by ``U(-1, 1)·noise``. At noise 0 it is deterministic.
- plane (1200): x, y uniform on ±6, label ``(x + nx + y + ny)/10`` with ``nx, ny ~ U(-6, 6)·noise``.
  Like Playground's unclamped d3 scale this lies in [−1.2, 1.2] at noise 0 (±1.8 at 0.5).
- multigauss (1200): x, y uniform on ±6; six bumps of height ±1 and radius 2 at
  (±4 | 0, ±2.5); the label is the bump value of largest magnitude at the noisy position.

Ours: blobs3 (500) three Gaussian blobs (variance as gauss) around a circle of radius 3.5;
spiral3 (500) three arms of the spiral above. Points are returned in generation order
(class by class); :func:`split` gives the shuffled train/test partition, as Playground shuffles
before slicing.

The book's digits (1797, :mod:`app.core.digits`): 8×8 images, so 64 inputs (the pixels in
[0, 1]) and no (x1, x2) plane: the input features do not apply. ``noise`` moves each pixel by
``U(−noise, noise)`` (clipped to [0, 1]); :func:`split_for` holds out a stratified set that
does not depend on the seed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from app.core import digits
from app.core.activations import ACTIVATIONS, OUTPUT, Activation, get_activation

Array = NDArray[np.float64]
Gen = Callable[[int, float, np.random.Generator], tuple[Array, Array]]

NOISE_MAX = 0.5
N_POINTS_MIN, N_POINTS_MAX = 4, 100_000
TRAIN_SHARE_MIN, TRAIN_SHARE_MAX = 0.1, 0.9
KINDS = ("classification", "regression", "multiclass")


@dataclass(frozen=True)
class DatasetSpec:
    """What a named dataset is, before any points are drawn."""

    name: str
    kind: str
    n_points: int
    n_classes: int
    description: str
    n_inputs: int = 2  # raw columns: 2 for the plane (features then apply), 64 for digits
    image: tuple[int, int] | None = None  # (rows, columns) when the inputs are an image's pixels


@dataclass(frozen=True)
class Dataset:
    """``points`` (N, 2) raw x1, x2 (or (N, d) for CSV data); ``labels`` (N,).

    Labels: classification ±1; multiclass 0..K−1 as floats; regression the target value.
    ``n_classes`` is 2, K, or 1 for regression.
    """

    name: str
    kind: str
    points: Array
    labels: Array
    n_classes: int


def _counts(n: int, k: int) -> list[int]:
    """Split n into k near-equal class sizes, larger first."""
    return [n // k + (1 if i < n % k else 0) for i in range(k)]


def _circle(n: int, noise: float, rng: np.random.Generator) -> tuple[Array, Array]:
    r = np.concatenate([rng.uniform(0.0, 2.5, n - n // 2), rng.uniform(3.5, 5.0, n // 2)])
    angle = rng.uniform(0.0, 2 * math.pi, n)
    p = np.column_stack([r * np.sin(angle), r * np.cos(angle)])
    moved = p + rng.uniform(-5.0, 5.0, (n, 2)) * noise
    return p, np.where(np.hypot(moved[:, 0], moved[:, 1]) < 2.5, 1.0, -1.0)


def _xor(n: int, noise: float, rng: np.random.Generator) -> tuple[Array, Array]:
    p = rng.uniform(-5.0, 5.0, (n, 2))
    p += np.where(p > 0, 0.3, -0.3)
    moved = p + rng.uniform(-5.0, 5.0, (n, 2)) * noise
    return p, np.where(moved[:, 0] * moved[:, 1] >= 0, 1.0, -1.0)


def _variance(noise: float) -> float:
    return 0.5 + (4.0 - 0.5) * noise / NOISE_MAX


def _blobs(
    centres: Sequence[tuple[float, float]],
    labels: Sequence[float],
    n: int,
    noise: float,
    rng: np.random.Generator,
) -> tuple[Array, Array]:
    sd = math.sqrt(_variance(noise))
    sizes = _counts(n, len(centres))
    p = np.concatenate([rng.normal(c, sd, (m, 2)) for c, m in zip(centres, sizes, strict=True)])
    return p, np.repeat(np.asarray(labels, dtype=np.float64), sizes)


def _gauss(n: int, noise: float, rng: np.random.Generator) -> tuple[Array, Array]:
    return _blobs([(2.0, 2.0), (-2.0, -2.0)], [1.0, -1.0], n, noise, rng)


def _blobs3(n: int, noise: float, rng: np.random.Generator) -> tuple[Array, Array]:
    angles = [math.pi / 2 + 2 * math.pi * c / 3 for c in range(3)]
    centres = [(3.5 * math.cos(a), 3.5 * math.sin(a)) for a in angles]
    return _blobs(centres, [0.0, 1.0, 2.0], n, noise, rng)


def _arms(
    shifts: Sequence[float],
    labels: Sequence[float],
    n: int,
    noise: float,
    rng: np.random.Generator,
) -> tuple[Array, Array]:
    parts = []
    for shift, m in zip(shifts, _counts(n, len(shifts)), strict=True):
        i = np.arange(m, dtype=np.float64)
        r, t = i / m * 5.0, 1.75 * i / m * 2 * math.pi + shift
        parts.append(np.column_stack([r * np.sin(t), r * np.cos(t)]))
    p = np.concatenate(parts) + rng.uniform(-1.0, 1.0, (n, 2)) * noise
    return p, np.repeat(np.asarray(labels, dtype=np.float64), _counts(n, len(shifts)))


def _spiral(n: int, noise: float, rng: np.random.Generator) -> tuple[Array, Array]:
    return _arms([0.0, math.pi], [1.0, -1.0], n, noise, rng)


def _spiral3(n: int, noise: float, rng: np.random.Generator) -> tuple[Array, Array]:
    return _arms([2 * math.pi * c / 3 for c in range(3)], [0.0, 1.0, 2.0], n, noise, rng)


def _uniform6(n: int, noise: float, rng: np.random.Generator) -> tuple[Array, Array]:
    """Points uniform on ±6 and their noisy copies at which the label is read."""
    p = rng.uniform(-6.0, 6.0, (n, 2))
    return p, p + rng.uniform(-6.0, 6.0, (n, 2)) * noise


def _plane(n: int, noise: float, rng: np.random.Generator) -> tuple[Array, Array]:
    p, moved = _uniform6(n, noise, rng)
    return p, (moved[:, 0] + moved[:, 1]) / 10.0


_BUMPS = np.array(
    [[-4, 2.5, 1], [0, 2.5, -1], [4, 2.5, 1], [-4, -2.5, -1], [0, -2.5, 1], [4, -2.5, -1]],
    dtype=np.float64,
)


def _multigauss(n: int, noise: float, rng: np.random.Generator) -> tuple[Array, Array]:
    p, moved = _uniform6(n, noise, rng)
    d = np.hypot(moved[:, None, 0] - _BUMPS[:, 0], moved[:, None, 1] - _BUMPS[:, 1])  # (N, 6)
    values = _BUMPS[:, 2] * np.clip(1.0 - d / 2.0, 0.0, 1.0)
    pick = np.argmax(np.abs(values), axis=1)  # first maximum, as Playground's strict ">"
    return p, values[np.arange(n), pick] + 0.0


_C, _R, _M = "classification", "regression", "multiclass"
_TABLE: list[tuple[str, str, int, int, Gen, str]] = [
    ("circle", _C, 500, 2, _circle, "Playground circle: a disc (+1) inside a ring (−1)"),
    ("xor", _C, 500, 2, _xor, "Playground exclusive or: +1 where x1·x2 > 0"),
    ("gauss", _C, 500, 2, _gauss, "Playground Gaussian: +1 around (2, 2), −1 around (−2, −2)"),
    ("spiral", _C, 500, 2, _spiral, "Playground spiral: two interleaved arms"),
    ("plane", _R, 1200, 1, _plane, "Playground plane: target (x1 + x2)/10"),
    ("multigauss", _R, 1200, 1, _multigauss, "Playground multi-Gaussian: six bumps of ±1"),
    ("blobs3", _M, 500, 3, _blobs3, "Three Gaussian blobs, classes 0, 1, 2"),
    ("spiral3", _M, 500, 3, _spiral3, "Three interleaved spiral arms, classes 0, 1, 2"),
]
_GENERATORS: dict[str, tuple[DatasetSpec, Gen]] = {
    name: (DatasetSpec(name, kind, n, k, desc), gen) for name, kind, n, k, gen, desc in _TABLE
}
DIGITS = DatasetSpec(
    "digits",
    _M,
    digits.N_DIGITS,
    digits.N_CLASSES,
    "The book's digits: 1,797 8×8 handwritten digits 0-9 (UCI optdigits, CC BY 4.0)",
    n_inputs=digits.N_PIXELS,
    image=(digits.SIDE, digits.SIDE),
)
DATASETS: dict[str, DatasetSpec] = {name: spec for name, (spec, _) in _GENERATORS.items()}
DATASETS[DIGITS.name] = DIGITS


def make_dataset(
    name: str, noise: float, rng: np.random.Generator, n_points: int | None = None
) -> Dataset:
    """Draw dataset ``name`` with ``noise`` in [0, 0.5]; points (N, 2), labels (N,).

    ``n_points`` defaults to the spec's size (Playground: 500 / 1200) and must be 4..100000.
    ``digits``: points (1797, 64), the pixels with noise (module docstring); its size is fixed.
    """
    if name not in DATASETS:
        raise ValueError(f"name: unknown dataset {name!r}; choose one of {sorted(DATASETS)}")
    if not 0.0 <= noise <= NOISE_MAX:
        raise ValueError(f"noise must be in [0, {NOISE_MAX}] (Playground's 0-50 %), got {noise}")
    if name == DIGITS.name:
        if n_points not in (None, DIGITS.n_points):
            raise ValueError(f"n_points: the digits are a fixed set of {DIGITS.n_points}")
        pixels, labels = digits.shared()  # read-only, one copy for all runs (noise 0)
        return Dataset(
            name, _M, digits.with_noise(pixels, float(noise), rng), labels, DIGITS.n_classes
        )
    spec, gen = _GENERATORS[name]
    n = spec.n_points if n_points is None else n_points
    if not N_POINTS_MIN <= n <= N_POINTS_MAX:
        raise ValueError(f"n_points must be in [{N_POINTS_MIN}, {N_POINTS_MAX}], got {n}")
    points, labels = gen(n, float(noise), rng)
    return Dataset(name, spec.kind, points, labels.astype(np.float64), spec.n_classes)


def split(
    n: int, train_share: float, rng: np.random.Generator
) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Shuffled (train, test) index arrays partitioning ``range(n)``.

    As Playground: shuffle, then the first ``floor(n·train_share)`` go to training, clamped so
    that both parts are non-empty. ``train_share`` in [0.1, 0.9], ``n ≥ 2``.
    """
    if not TRAIN_SHARE_MIN <= train_share <= TRAIN_SHARE_MAX:
        raise ValueError(
            f"train_share must be in [{TRAIN_SHARE_MIN}, {TRAIN_SHARE_MAX}], got {train_share}"
        )
    if n < 2:
        raise ValueError(f"n must be at least 2 to split into train and test, got {n}")
    n_train = min(max(math.floor(n * train_share + 1e-9), 1), n - 1)
    perm = rng.permutation(n).astype(np.intp)
    return perm[:n_train], perm[n_train:]


def shared_data(name: str, noise: float, train_share: float) -> tuple[bool, bool]:
    """(points, x and y): which of a run's data arrays are the process's shared read-only
    copies rather than its own: the digits' pixels without noise (:func:`digits.shared`),
    and the ordered x, y made from them at the book's share :data:`digits.TRAIN_SHARE`
    (``app/runs/state.py``) as well."""
    points = name == DIGITS.name and noise == 0.0
    return points, points and train_share == digits.TRAIN_SHARE


def split_for(
    ds: Dataset, train_share: float, rng: np.random.Generator
) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """The (train, test) partition of ``ds``: :func:`split` with ``rng``, but for the digits
    the stratified split of :func:`app.core.digits.split`, the same for every seed (``rng``
    unused)."""
    if ds.name == DIGITS.name:
        if not TRAIN_SHARE_MIN <= train_share <= TRAIN_SHARE_MAX:
            raise ValueError(
                f"train_share must be in [{TRAIN_SHARE_MIN}, {TRAIN_SHARE_MAX}], got {train_share}"
            )
        return digits.split(ds.labels, train_share)
    return split(len(ds.points), train_share, rng)


FEATURES: dict[str, Callable[[Array], Array]] = {
    "x1": lambda p: p[:, 0].copy(),
    "x2": lambda p: p[:, 1].copy(),
    "x1^2": lambda p: p[:, 0] ** 2,
    "x2^2": lambda p: p[:, 1] ** 2,
    "x1x2": lambda p: p[:, 0] * p[:, 1],
    "sin_x1": lambda p: np.sin(p[:, 0]),
    "sin_x2": lambda p: np.sin(p[:, 1]),
}
FEATURE_LABELS: dict[str, str] = {
    "x1": "x₁",
    "x2": "x₂",
    "x1^2": "x₁²",
    "x2^2": "x₂²",
    "x1x2": "x₁x₂",
    "sin_x1": "sin(x₁)",
    "sin_x2": "sin(x₂)",
}


def features(points: Array, names: Sequence[str]) -> Array:
    """Input matrix (N, len(names)) from raw points (N, 2), one column per feature name.

    Only 2-column points: CSV data with d ≠ 2 columns is used as is, not through this.
    """
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise ValueError(f"points: features need shape (N, 2), got {pts.shape}")
    if isinstance(names, str) or len(names) == 0:
        raise ValueError(f"names: need a non-empty list of features from {list(FEATURES)}")
    seen: set[str] = set()
    for nm in names:
        if nm not in FEATURES:
            raise ValueError(f"names: unknown feature {nm!r}; choose from {list(FEATURES)}")
        if nm in seen:
            raise ValueError(f"names: feature {nm!r} is listed twice")
        seen.add(nm)
    return np.column_stack([FEATURES[nm](pts) for nm in names]).astype(np.float64)


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"kind: unknown kind {kind!r}; choose one of {list(KINDS)}")


def _check(kind: str, output_activation: str) -> Activation:
    """The output activation (from :mod:`app.core.activations`), if ``kind`` can use it."""
    _check_kind(kind)
    act = ACTIVATIONS.get(output_activation)
    if act is None or not act.output_ok:
        raise ValueError(f"output_activation: unknown {output_activation!r}; one of {OUTPUT}")
    if kind == "regression" and not act.elementwise:
        raise ValueError(
            f"output_activation: {act.label} over a single output is always 1; "
            "regression needs an elementwise output (e.g. linear)"
        )
    return act


def default_output(kind: str) -> tuple[str, str]:
    """Playground-like (output activation, cost) for a dataset kind."""
    _check_kind(kind)
    return {
        "classification": ("tanh", "quadratic"),
        "regression": ("linear", "quadratic"),
        "multiclass": ("softmax", "log_likelihood"),
    }[kind]


def output_size(kind: str, n_classes: int, output_activation: str | None = None) -> int:
    """n_L: 1 for regression and ±1 classification (2 with softmax), K for multiclass."""
    _check_kind(kind)
    act = None if output_activation is None else _check(kind, output_activation)
    if kind == "multiclass":
        if n_classes < 2:
            raise ValueError(f"n_classes must be at least 2 for multiclass, got {n_classes}")
        return n_classes
    if kind == "classification" and act is not None and not act.elementwise:
        return 2  # one output per class (softmax)
    return 1


def targets(labels: Array, kind: str, output_activation: str, n_classes: int) -> Array:
    """Desired outputs y, shape (N, n_L) with n_L = ``output_size(kind, n_classes, act)``.

    - classification (labels ±1): sigmoid -> 0/1; softmax -> one-hot (N, 2), column 1 = +1;
      tanh, linear, relu, leaky_relu -> ±1 (Playground's labels).
    - multiclass (labels 0..K−1): one-hot 0/1, (N, K), for every output activation.
    - regression: the value, (N, 1); softmax is refused.
    """
    n_out = output_size(kind, n_classes, output_activation)
    lab = np.asarray(labels, dtype=np.float64).reshape(-1)
    if kind == "regression":
        return lab[:, None].copy()
    if kind == "classification":
        if not np.all(np.abs(lab) == 1.0):
            raise ValueError("labels: classification labels must all be −1 or +1")
        pos = (lab > 0).astype(np.float64)
        act = get_activation(output_activation)
        if not act.elementwise:  # softmax: one output per class
            return np.column_stack([1.0 - pos, pos])
        neg_t, pos_t = act.classes
        return np.where(pos > 0, pos_t, neg_t)[:, None]
    cls = lab.astype(np.intp)
    if np.any(cls != lab) or np.any(cls < 0) or np.any(cls >= n_out):
        raise ValueError(f"labels: multiclass labels must be integers 0..{n_out - 1}")
    return np.eye(n_out, dtype=np.float64)[cls]


def accuracy(a_L: Array, y: Array, kind: str, output_activation: str) -> float | None:
    """Fraction of examples classified correctly; None for regression.

    ``a_L`` (N, n_L) outputs, ``y`` the matching :func:`targets` (N, n_L) (labels (N,) are
    accepted too). One output: the class is positive where ``a > 0.5`` for sigmoid, ``a > 0``
    otherwise. Several outputs: the class is the argmax. None also for zero examples.
    """
    act = _check(kind, output_activation)
    if kind == "regression":
        return None
    a = np.asarray(a_L, dtype=np.float64)
    a = a[:, None] if a.ndim == 1 else a
    t = np.asarray(y, dtype=np.float64)
    if t.shape[0] != a.shape[0]:
        raise ValueError(f"y: {t.shape[0]} targets for {a.shape[0]} outputs")
    if a.shape[0] == 0:
        return None
    guess = predicted_class(a, output_activation)
    if a.shape[1] == 1:
        return float(np.mean(guess == (t.reshape(-1) > act.cut)))
    if t.ndim == 2 and t.shape[1] == a.shape[1]:
        truth = predicted_class(t, output_activation)
    else:
        t = t.reshape(-1)
        truth = (t > 0).astype(np.intp) if kind == "classification" else t.astype(np.intp)
    return float(np.mean(guess == truth))


def predicted_class(a_L: NDArray[Any], output_activation: str) -> NDArray[Any]:
    """The class each row of outputs ``a_L`` (N, n_L) stands for, :func:`accuracy`'s rule:
    one output, positive (True) where ``a`` is above the activation's ``cut``; several, the
    argmax. Of :func:`targets` (N, n_L), it is each example's true class."""
    if a_L.shape[1] == 1:
        return np.asarray(a_L[:, 0] > ACTIVATIONS[output_activation].cut)
    return np.asarray(np.argmax(a_L, axis=1))
