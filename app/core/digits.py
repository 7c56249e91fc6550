"""The book's digits: the 1,797 8×8 handwritten digits of the UCI optdigits set.

E. Alpaydin and C. Kaynak, *Optical Recognition of Handwritten Digits* (UCI Machine Learning
Repository, 1998, CC BY 4.0), as scikit-learn ships it (``sklearn/datasets/data/digits.csv.gz``,
the UCI test set): one digit a line, 64 pixel counts 0..16 (row by row, top left first), then
the label 0..9. The file is :data:`PATH`, unchanged; ``app/data/DIGITS-LICENSE.md`` says where
it comes from. Nothing here needs scikit-learn.

- :func:`load`: pixels ``(1797, 64)`` scaled to [0, 1] (count / 16) and labels ``(1797,)``,
  read once and checked against :data:`SHA256`;
- :func:`shared`: the same, one read-only copy for every run (the data sets use it);
- :func:`split`: the stratified train/test partition, drawn from a fixed generator
  (:data:`SPLIT_SEED`), so the held-out digits at a training share are the same whatever the
  run's seed: at the share 0.8, 1,437 train and 360 test, 35-37 of each digit.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import math
import threading
from functools import lru_cache
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]

PATH = Path(__file__).resolve().parent.parent / "data" / "digits.csv.gz"
SHA256 = "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22"
N_DIGITS = 1797
SIDE = 8  # the image is SIDE × SIDE pixels
N_PIXELS = SIDE * SIDE
N_CLASSES = 10
MAX_COUNT = 16  # a pixel counts the "on" bits of a 4×4 block of the 32×32 scan
SPLIT_SEED = 1797  # the held-out digits do not move with a run's seed
TRAIN_SHARE = 0.8  # the book's digits preset: 1,437 train, 360 test


class DigitsError(RuntimeError):
    """The shipped file is missing or not the one this module was written for."""


@lru_cache(maxsize=1)
def _read() -> tuple[NDArray[np.uint8], NDArray[np.uint8]]:
    try:
        raw = PATH.read_bytes()
    except OSError as e:
        raise DigitsError(f"the digits data {PATH} cannot be read: {e}") from None
    digest = hashlib.sha256(raw).hexdigest()
    if digest != SHA256:
        raise DigitsError(f"{PATH} has SHA-256 {digest}, expected {SHA256}")
    rows = list(csv.reader(io.StringIO(gzip.decompress(raw).decode("ascii"))))
    data = np.asarray(rows, dtype=np.uint8)
    if data.shape != (N_DIGITS, N_PIXELS + 1):
        raise DigitsError(f"{PATH}: shape {data.shape}, expected ({N_DIGITS}, {N_PIXELS + 1})")
    data.setflags(write=False)
    return data[:, :N_PIXELS], data[:, N_PIXELS]


def load() -> tuple[Array, Array]:
    """Pixels ``(1797, 64)`` in [0, 1] (count / 16, row-major 8×8) and labels ``(1797,)``
    0..9 as floats; fresh arrays on each call."""
    counts, labels = _read()
    return counts.astype(np.float64) / MAX_COUNT, labels.astype(np.float64)


_SHARED_LOCK = threading.Lock()  # runs are built in worker threads: one copy, not one each


def shared() -> tuple[Array, Array]:
    """:func:`load`'s pixels and labels, made once per process and read-only
    (``writeable=False``): every run of the digits without noise holds these same arrays
    (0.93 MB) instead of a copy each; writing into them raises ``ValueError``."""
    with _SHARED_LOCK:
        return _shared()


@lru_cache(maxsize=1)
def _shared() -> tuple[Array, Array]:
    pixels, labels = load()
    pixels.setflags(write=False)
    labels.setflags(write=False)
    return pixels, labels


def with_noise(pixels: Array, noise: float, rng: np.random.Generator) -> Array:
    """``pixels`` (N, 64) each moved by ``U(−noise, noise)`` and clipped to [0, 1] (a new
    array): the digits' meaning of the data sets' noise (0-0.5); noise 0 returns ``pixels``
    itself and draws nothing."""
    if noise == 0.0:
        return pixels
    return np.clip(pixels + rng.uniform(-noise, noise, pixels.shape), 0.0, 1.0)


def split(labels: Array, train_share: float) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Stratified (train, test) index arrays partitioning ``range(len(labels))``.

    ``floor(N·train_share)`` train examples, as :func:`app.core.datasets.split`; the test
    examples are shared out over the classes in proportion to their sizes (largest
    remainders first), and which digits of a class are held out comes from
    ``default_rng(SPLIT_SEED)``, not from the run's seed. Both index arrays come in one fixed
    shuffled order (not class by class).
    """
    lab = np.asarray(labels).astype(np.intp)
    n = len(lab)
    n_train = min(max(math.floor(n * train_share + 1e-9), 1), n - 1)
    n_test = n - n_train
    classes, sizes = np.unique(lab, return_counts=True)
    quota = sizes * n_test / n
    take = np.floor(quota).astype(np.intp)
    extra = n_test - int(take.sum())
    take[np.argsort(-(quota - take), kind="stable")[:extra]] += 1
    rng = np.random.default_rng(SPLIT_SEED)
    is_test = np.zeros(n, dtype=bool)
    for c, t in zip(classes, take, strict=True):
        members = np.flatnonzero(lab == c)
        is_test[rng.permutation(members)[:t]] = True
    order = rng.permutation(n).astype(np.intp)
    return order[~is_test[order]], order[is_test[order]]
