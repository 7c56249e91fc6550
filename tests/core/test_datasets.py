"""Datasets checked against TensorFlow Playground's definitions (src/dataset.ts), not our output."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.datasets import (
    DATASETS,
    FEATURE_LABELS,
    FEATURES,
    Dataset,
    accuracy,
    default_output,
    features,
    make_dataset,
    output_size,
    split,
    targets,
)


def ds(name: str, noise: float = 0.0, seed: int = 0, n: int | None = None) -> Dataset:
    return make_dataset(name, noise, np.random.default_rng(seed), n)


def radius(d: Dataset) -> np.ndarray:
    return np.hypot(d.points[:, 0], d.points[:, 1])


# --- sizes, kinds, labels -------------------------------------------------------------------


def test_playground_sizes_and_kinds() -> None:
    for name in ("circle", "xor", "gauss", "spiral"):
        assert (DATASETS[name].kind, DATASETS[name].n_points, DATASETS[name].n_classes) == (
            "classification",
            500,
            2,
        )
    for name in ("plane", "multigauss"):
        assert (DATASETS[name].kind, DATASETS[name].n_points) == ("regression", 1200)
        assert DATASETS[name].n_classes == 1
    assert DATASETS["blobs3"].kind == "multiclass" and DATASETS["blobs3"].n_classes == 3
    assert all(spec.description for spec in DATASETS.values())


# The generated 2-D sets (the digits, 64 fixed pixels each, are tests/core/test_digits.py's).
PLANE_SETS = sorted(name for name, spec in DATASETS.items() if spec.n_inputs == 2)


@pytest.mark.parametrize("name", PLANE_SETS)
@pytest.mark.parametrize("noise", [0.0, 0.5])
def test_shapes_and_label_sets(name: str, noise: float) -> None:
    d = ds(name, noise)
    spec = DATASETS[name]
    assert (d.name, d.kind, d.n_classes) == (name, spec.kind, spec.n_classes)
    assert d.points.shape == (spec.n_points, 2) and d.labels.shape == (spec.n_points,)
    assert d.points.dtype == np.float64 and d.labels.dtype == np.float64
    assert np.all(np.isfinite(d.points)) and np.all(np.isfinite(d.labels))
    if d.kind == "classification":
        assert set(np.unique(d.labels)) == {-1.0, 1.0}
    elif d.kind == "multiclass":
        assert set(np.unique(d.labels)) == set(map(float, range(d.n_classes)))
        counts = np.bincount(d.labels.astype(int))
        assert counts.max() - counts.min() <= 1


@pytest.mark.parametrize("name", PLANE_SETS)
def test_n_points_override_is_exact(name: str) -> None:
    for n in (4, 7, 501):
        assert ds(name, 0.1, n=n).points.shape == (n, 2)


@pytest.mark.parametrize("name", PLANE_SETS)
def test_same_seed_same_data_different_seed_different_data(name: str) -> None:
    a, b, c = ds(name, 0.2, seed=7), ds(name, 0.2, seed=7), ds(name, 0.2, seed=8)
    np.testing.assert_array_equal(a.points, b.points)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert not np.array_equal(a.points, c.points)


def test_spiral_at_noise_zero_is_deterministic_as_in_playground() -> None:
    np.testing.assert_array_equal(ds("spiral", 0.0, seed=1).points, ds("spiral", 0.0, 2).points)


# --- each generator against its definition --------------------------------------------------


def test_circle_clean() -> None:
    d = ds("circle")
    r, inner = radius(d), d.labels == 1
    assert inner.sum() == 250
    assert np.all(r[inner] <= 2.5)
    assert np.all((r[~inner] >= 3.5) & (r[~inner] <= 5.0))


def test_circle_noise_flips_labels_near_the_boundary() -> None:
    d = ds("circle", 0.5)
    r = radius(d)
    # Playground moves only the point where the label is read, so the radii stay put ...
    assert np.sum(r <= 2.5) == 250 and np.all((r <= 2.5) | ((r >= 3.5) & (r <= 5.0)))
    # ... and about a quarter of the labels no longer follow "inside 2.5 -> +1".
    wrong = np.mean(np.where(r < 2.5, 1.0, -1.0) != d.labels)
    assert 0.1 < wrong < 0.45


def test_xor_clean_quadrant_rule_and_gap() -> None:
    d = ds("xor")
    x, y = d.points[:, 0], d.points[:, 1]
    np.testing.assert_array_equal(d.labels, np.where(x * y >= 0, 1.0, -1.0))
    assert np.all((np.abs(d.points) >= 0.3) & (np.abs(d.points) <= 5.3))


def test_xor_noise_violates_the_quadrant_rule() -> None:
    d = ds("xor", 0.5)
    wrong = np.mean(np.where(d.points[:, 0] * d.points[:, 1] >= 0, 1.0, -1.0) != d.labels)
    assert 0.08 < wrong < 0.3


@pytest.mark.parametrize(("noise", "sd"), [(0.0, math.sqrt(0.5)), (0.5, 2.0)])
def test_gauss_means_and_spread(noise: float, sd: float) -> None:
    d = ds("gauss", noise)
    for label, centre in ((1.0, 2.0), (-1.0, -2.0)):
        cluster = d.points[d.labels == label]
        assert len(cluster) == 250
        np.testing.assert_allclose(cluster.mean(axis=0), [centre, centre], atol=0.35)
        assert abs((cluster - centre).std() - sd) < 0.15 * sd


def test_spiral_clean_arms() -> None:
    d = ds("spiral")
    pos, neg = d.points[d.labels == 1], d.points[d.labels == -1]
    assert len(pos) == len(neg) == 250
    assert radius(d).max() <= 5.0 and radius(d).max() > 4.9
    np.testing.assert_allclose(neg, -pos, atol=1e-12)  # the −1 arm is the +1 arm turned by π


def test_spiral_noise_moves_points_at_most_noise_per_axis() -> None:
    clean, noisy = ds("spiral"), ds("spiral", 0.5)
    shift = np.abs(noisy.points - clean.points)
    assert shift.max() <= 0.5 and shift.mean() > 0.2
    assert radius(noisy).max() <= 5.0 + 0.5 * math.sqrt(2)


def test_plane() -> None:
    d = ds("plane")
    assert np.all(np.abs(d.points) <= 6.0)
    np.testing.assert_allclose(d.labels, d.points.sum(axis=1) / 10.0)
    assert np.all(np.abs(d.labels) <= 1.2)  # Playground's scale is not clamped
    n = ds("plane", 0.3)
    off = np.abs(n.labels - n.points.sum(axis=1) / 10.0)
    assert off.max() <= 2 * 6 * 0.3 / 10 + 1e-12 and off.mean() > 0.05


BUMPS = [(-4, 2.5, 1), (0, 2.5, -1), (4, 2.5, 1), (-4, -2.5, -1), (0, -2.5, 1), (4, -2.5, -1)]


def test_multigauss_clean_bumps() -> None:
    d = ds("multigauss")
    assert np.all(np.abs(d.points) <= 6.0) and np.all(np.abs(d.labels) <= 1.0)
    near_any = np.zeros(len(d.labels), dtype=bool)
    for cx, cy, sign in BUMPS:
        dist = np.hypot(d.points[:, 0] - cx, d.points[:, 1] - cy)
        near = dist < 2.0
        near_any |= near
        np.testing.assert_allclose(d.labels[near], sign * (1.0 - dist[near] / 2.0))
    assert near_any.sum() > 100
    np.testing.assert_array_equal(d.labels[~near_any], 0.0)


def test_multigauss_noise_blurs_labels() -> None:
    clean_rule = ds("multigauss", 0.0, seed=3).labels
    noisy = ds("multigauss", 0.5, seed=3)
    assert np.all(np.abs(noisy.labels) <= 1.0)
    assert not np.array_equal(noisy.labels, clean_rule)


def test_blobs3_and_spiral3() -> None:
    d = ds("blobs3")
    means = np.array([d.points[d.labels == k].mean(axis=0) for k in range(3)])
    np.testing.assert_allclose(np.hypot(means[:, 0], means[:, 1]), 3.5, atol=0.4)
    assert min(np.linalg.norm(means[i] - means[j]) for i, j in ((0, 1), (0, 2), (1, 2))) > 5
    spread = [ds("blobs3", z).points[d.labels == 0].std(axis=0).mean() for z in (0.0, 0.5)]
    assert spread[1] > 2 * spread[0]
    s = ds("spiral3")
    assert radius(s).max() <= 5.0
    assert set(np.unique(s.labels)) == {0.0, 1.0, 2.0}


# --- validation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"name": "moons"}, "name.*circle"),
        ({"noise": -0.01}, r"noise.*\[0, 0.5\]"),
        ({"noise": 0.51}, r"noise.*\[0, 0.5\]"),
        ({"noise": float("nan")}, "noise"),
        ({"n_points": 3}, r"n_points.*\[4, 100000\]"),
        ({"n_points": 100_001}, r"n_points.*\[4, 100000\]"),
    ],
)
def test_make_dataset_errors(kwargs: dict[str, object], match: str) -> None:
    args: dict[str, object] = {"name": "circle", "noise": 0.1, "n_points": None} | kwargs
    with pytest.raises(ValueError, match=match):
        make_dataset(rng=np.random.default_rng(0), **args)  # type: ignore[arg-type]


# --- split ----------------------------------------------------------------------------------


def test_split_playground_sizes() -> None:
    train, test = split(500, 0.5, np.random.default_rng(0))
    assert len(train) == len(test) == 250
    assert train.dtype == np.intp and not np.array_equal(np.sort(train), train)
    train, test = split(1200, 0.7, np.random.default_rng(0))
    assert (len(train), len(test)) == (840, 360)
    train, test = split(4, 0.1, np.random.default_rng(0))
    assert (len(train), len(test)) == (1, 3)  # never an empty part


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 3000), st.floats(0.1, 0.9), st.integers(0, 2**32 - 1))
def test_split_partitions(n: int, share: float, seed: int) -> None:
    train, test = split(n, share, np.random.default_rng(seed))
    assert len(train) >= 1 and len(test) >= 1
    assert abs(len(train) - n * share) <= 1
    np.testing.assert_array_equal(np.sort(np.concatenate([train, test])), np.arange(n))
    again = split(n, share, np.random.default_rng(seed))
    np.testing.assert_array_equal(train, again[0])


@pytest.mark.parametrize(
    ("n", "share", "match"),
    [
        (100, 0.05, r"train_share.*\[0.1, 0.9\]"),
        (100, 0.95, r"train_share.*\[0.1, 0.9\]"),
        (1, 0.5, "n must be at least 2"),
    ],
)
def test_split_errors(n: int, share: float, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        split(n, share, np.random.default_rng(0))


# --- features -------------------------------------------------------------------------------


def test_features_on_hand_picked_points() -> None:
    p = np.array([[math.pi / 2, -3.0], [2.0, math.pi]])
    got = features(p, ["x1", "x2", "x1^2", "x2^2", "x1x2", "sin_x1", "sin_x2"])
    want = [
        [math.pi / 2, -3.0, math.pi**2 / 4, 9.0, -1.5 * math.pi, 1.0, math.sin(-3.0)],
        [2.0, math.pi, 4.0, math.pi**2, 2 * math.pi, math.sin(2.0), 0.0],
    ]
    np.testing.assert_allclose(got, want, atol=1e-12)
    assert features(p, ["x2", "x1"]).tolist() == [[-3.0, math.pi / 2], [math.pi, 2.0]]


def test_feature_labels() -> None:
    assert list(FEATURE_LABELS) == list(FEATURES)
    assert FEATURE_LABELS["x1^2"] == "x₁²" and FEATURE_LABELS["sin_x2"] == "sin(x₂)"


@pytest.mark.parametrize(
    ("names", "match"),
    [([], "non-empty"), (["x1", "x3"], "'x3'"), (["x1", ""], "''"), (["x2", "x2"], "'x2'")],
)
def test_features_errors(names: list[str], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        features(np.zeros((3, 2)), names)


def test_features_need_two_columns() -> None:
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        features(np.zeros((3, 4)), ["x1"])


# --- targets, outputs, accuracy -------------------------------------------------------------

PM = np.array([1.0, -1.0, -1.0])


@pytest.mark.parametrize("act", ["tanh", "linear", "relu", "leaky_relu"])
def test_targets_classification_pm1(act: str) -> None:
    assert targets(PM, "classification", act, 2).tolist() == [[1.0], [-1.0], [-1.0]]
    assert output_size("classification", 2, act) == 1


def test_targets_sigmoid_softmax_multiclass_regression() -> None:
    assert targets(PM, "classification", "sigmoid", 2).tolist() == [[1.0], [0.0], [0.0]]
    assert targets(PM, "classification", "softmax", 2).tolist() == [[0, 1], [1, 0], [1, 0]]
    assert output_size("classification", 2, "softmax") == 2
    lab = np.array([2.0, 0.0, 1.0])
    for act in ("softmax", "sigmoid"):
        assert targets(lab, "multiclass", act, 3).tolist() == [[0, 0, 1], [1, 0, 0], [0, 1, 0]]
    assert output_size("multiclass", 3) == 3
    assert targets(np.array([0.5, -0.2]), "regression", "linear", 1).tolist() == [[0.5], [-0.2]]
    assert output_size("regression", 1) == 1


@pytest.mark.parametrize(
    ("labels", "kind", "act", "k", "match"),
    [
        (np.array([0.5]), "regression", "softmax", 1, "softmax"),
        (np.array([0.0, 1.0]), "classification", "tanh", 2, "−1 or \\+1"),
        (np.array([0.0, 3.0]), "multiclass", "softmax", 3, "0..2"),
        (np.array([0.5]), "multiclass", "softmax", 3, "integers"),
        (PM, "classification", "mish", 2, "mish"),
        (PM, "binary", "tanh", 2, "binary"),
        (np.array([0.0]), "multiclass", "softmax", 1, "at least 2"),
    ],
)
def test_targets_errors(labels: np.ndarray, kind: str, act: str, k: int, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        targets(labels, kind, act, k)


def test_default_output() -> None:
    assert default_output("classification") == ("tanh", "quadratic")
    assert default_output("regression") == ("linear", "quadratic")
    assert default_output("multiclass") == ("softmax", "log_likelihood")


def test_accuracy() -> None:
    y = targets(PM, "classification", "tanh", 2)
    assert accuracy(np.array([[0.3], [-0.1], [0.2]]), y, "classification", "tanh") == 2 / 3
    assert accuracy(np.array([[0.3], [-0.1], [-0.2]]), PM, "classification", "linear") == 1.0
    ys = targets(PM, "classification", "sigmoid", 2)
    assert accuracy(np.array([[0.6], [0.4], [0.55]]), ys, "classification", "sigmoid") == 2 / 3
    a2 = np.array([[0.2, 0.8], [0.9, 0.1], [0.3, 0.7]])
    y2 = targets(PM, "classification", "softmax", 2)
    assert accuracy(a2, y2, "classification", "softmax") == 2 / 3
    assert accuracy(a2, PM, "classification", "softmax") == 2 / 3
    a3 = np.array([[0.1, 0.2, 0.7], [0.5, 0.3, 0.2]])
    lab3 = np.array([2.0, 1.0])
    assert accuracy(a3, targets(lab3, "multiclass", "softmax", 3), "multiclass", "softmax") == 0.5
    assert accuracy(a3, lab3, "multiclass", "softmax") == 0.5
    assert accuracy(np.array([[0.1]]), np.array([[0.2]]), "regression", "linear") is None
