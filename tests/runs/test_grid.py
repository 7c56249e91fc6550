"""The decision-boundary grid as a page receives it, against the reference forward pass."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pytest

from app.core.datasets import features
from app.core.network import Network, feedforward
from app.runs.grid import GRID, THUMB, GridBuilder

EXTENT = [[-6.0, 6.0], [-5.0, 4.0]]
NAMES = ["x1", "x2", "x1x2", "sin_x1"]


def _builder(n_out: int) -> GridBuilder:
    return GridBuilder(EXTENT, lambda p: features(p, NAMES), n_out)


def _received(builder: GridBuilder, net: Network) -> dict[str, Any]:
    """The grid object as it is written into a frame, parsed back."""
    return dict(orjson.loads(orjson.dumps({"grid": builder(net)}))["grid"])


def _mesh(x1: Any, x2: Any) -> np.ndarray:
    g1, g2 = np.meshgrid(np.asarray(x1, float), np.asarray(x2, float))
    return features(np.column_stack([g1.ravel(), g2.ravel()]), NAMES)


def _net(acts: list[str], n_out: int) -> Network:
    rng = np.random.default_rng(8)
    return Network.create([len(NAMES), 5, 3, n_out], acts, "xavier", rng)


@pytest.mark.parametrize("acts", [["tanh", "tanh", "tanh"], ["relu", "sigmoid", "sigmoid"]])
def test_every_grid_value_is_the_network_output_there(acts: list[str]) -> None:
    net = _net(acts, 1)
    grid = _received(_builder(1), net)
    x1, x2 = np.asarray(grid["x1"]), np.asarray(grid["x2"])
    assert len(x1) == len(x2) == GRID
    assert x1[0] == pytest.approx(-6.0) and x2[-1] == pytest.approx(4.0)
    # The reference at the exact grid coordinates (the axes are shown rounded).
    exact = (np.linspace(-6, 6, GRID), np.linspace(-5, 4, GRID))
    fwd = feedforward(net, _mesh(*exact))
    want = fwd.a[-1][:, 0].reshape(GRID, GRID)
    np.testing.assert_allclose(grid["output"], want, rtol=1e-3, atol=1e-6)
    # Thumbnails: every hidden neuron over the 16 x 16 grid, in layer and neuron order.
    thumbs = feedforward(net, _mesh(np.linspace(-6, 6, THUMB), np.linspace(-5, 4, THUMB)))
    want_n = np.concatenate([a.T.reshape(-1, THUMB, THUMB) for a in thumbs.a[1:-1]])
    np.testing.assert_allclose(grid["neurons"], want_n, rtol=1e-3, atol=1e-6)


def test_several_outputs_show_the_winning_class() -> None:
    net = _net(["tanh", "tanh", "softmax"], 3)
    grid = _received(_builder(3), net)
    exact = (np.linspace(-6, 6, GRID), np.linspace(-5, 4, GRID))
    a = feedforward(net, _mesh(*exact)).a[-1]
    want = np.argmax(a, axis=1).reshape(GRID, GRID)
    top2 = np.sort(a, axis=1)[:, -2:]
    clear = (top2[:, 1] - top2[:, 0] > 1e-5).reshape(GRID, GRID)  # no near-tie
    assert clear.mean() > 0.99
    np.testing.assert_array_equal(np.asarray(grid["output"])[clear], want[clear])
    assert set(np.unique(grid["output"])) <= {0, 1, 2}


@pytest.mark.parametrize("l", [1, 2, 3, 4])
def test_a_hovered_neuron_over_the_full_grid(l: int) -> None:  # noqa: E741
    net = _net(["leaky_relu", "tanh", "linear"], 1)
    got = _builder(1).neuron(net, l, 1 if l < 4 else 0)
    exact = (np.linspace(-6, 6, GRID), np.linspace(-5, 4, GRID))
    a = feedforward(net, _mesh(*exact)).a[l - 1][:, 1 if l < 4 else 0]
    assert got["l"] == l
    np.testing.assert_allclose(got["values"], a.reshape(GRID, GRID), rtol=1e-3, atol=1e-6)


def test_the_grid_follows_the_weights() -> None:
    net = _net(["tanh", "tanh", "tanh"], 1)
    builder = _builder(1)
    first = _received(builder, net)
    assert _received(builder, net) == first  # unchanged weights: the same grid
    net.weights[0][:] *= -1.0
    net.biases[-1][:] += 0.5
    moved = _received(builder, net)
    exact = (np.linspace(-6, 6, GRID), np.linspace(-5, 4, GRID))
    want = feedforward(net, _mesh(*exact)).a[-1][:, 0].reshape(GRID, GRID)
    np.testing.assert_allclose(moved["output"], want, rtol=1e-3, atol=1e-6)
    assert moved["output"] != first["output"]


def test_a_diverged_network_sends_numbers_clipped_to_the_documented_limit() -> None:
    """Weights so large that the float32 pass overflows (±inf, and inf − inf = NaN further on):
    the page still gets numbers, clipped to ±1e30 (docs/frames.md), never null or NaN."""
    net = _net(["linear", "linear", "linear"], 1)
    for w in net.weights:
        w[:] = 1e25
        w[:, ::2] *= -1.0
    grid = _received(_builder(1), net)
    values = np.concatenate(
        [np.ravel(grid["output"]), np.ravel(np.asarray(grid["neurons"], dtype=float))]
    )
    assert values.dtype == float and np.isfinite(values).all()
    assert np.abs(values).max() == 1e30
    hidden = np.asarray(grid["neurons"])
    assert np.abs(hidden).max() == 1e30 and np.abs(hidden).min() < 1e30
