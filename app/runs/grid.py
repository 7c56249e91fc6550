"""The network's output over a grid of the input plane: the decision boundary, and each
hidden neuron's output (TensorFlow Playground's thumbnails)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import orjson
from numpy.typing import NDArray

from app.core.network import Network
from app.runs.frames import encode
from app.runs.rounding import Array, rounded32

GRID = 64
THUMB = 16


class GridBuilder:
    """Network output over a 64x64 grid and each hidden neuron's output over 16x16.

    ``to_inputs`` maps raw points (P, 2) to network inputs (the selected features).
    ``extent`` is ``[[x1min, x1max], [x2min, x2max]]``. The result comes pre-encoded
    (an :class:`orjson.Fragment`) and is reused while the parameters are unchanged.
    """

    def __init__(
        self,
        extent: list[list[float]],
        to_inputs: Callable[[Array], Array],
        n_out: int,
    ) -> None:
        (a1, b1), (a2, b2) = extent
        self.x1, self.x2 = np.linspace(a1, b1, GRID), np.linspace(a2, b2, GRID)
        self.t1, self.t2 = np.linspace(a1, b1, THUMB), np.linspace(a2, b2, THUMB)
        # One float32 pass over the 64x64 grid and the 16x16 thumbnail grid stacked.
        grid, thumbs = to_inputs(_mesh(self.x1, self.x2)), to_inputs(_mesh(self.t1, self.t2))
        self.inputs = np.concatenate([grid, thumbs]).astype(np.float32)
        self.argmax = n_out > 1
        self.axes = [rounded32(v) for v in (self.x1, self.x2, self.t1, self.t2)]
        self._key: tuple[bytes, ...] | None = None
        self._encoded = orjson.Fragment(b"null")

    def __call__(self, net: Network) -> orjson.Fragment:
        """The frame's ``grid`` object, encoded."""
        key = (*(w.tobytes() for w in net.weights), *(b.tobytes() for b in net.biases))
        if key != self._key:
            self._key = None
            self._encoded = orjson.Fragment(encode(self.compute(net)))
            self._key = key
        return self._encoded

    def compute(self, net: Network) -> dict[str, Any]:
        n_grid = GRID * GRID
        last = len(net.weights) - 1
        a: Any = self.inputs
        hidden = []
        for i, (w, b, act) in enumerate(
            zip(net.weights, net.biases, net.layer_activations, strict=True)
        ):
            z = a @ w.T.astype(np.float32)
            z += b.astype(np.float32)
            a = act.fn(z)
            if i < last:
                hidden.append(a[n_grid:].T.reshape(-1))  # neuron by neuron, 16x16 each
        n_hidden = sum(net.sizes[1:-1])
        values = [*hidden] if self.argmax else [a[:n_grid, 0], *hidden]
        flat = rounded32(np.concatenate(values)) if values else np.zeros(0, np.float32)
        if self.argmax:
            output: NDArray[Any] = np.argmax(a[:n_grid], axis=1).astype(np.int32)
            neurons = flat
        else:
            output, neurons = flat[:n_grid], flat[n_grid:]
        return {
            "x1": self.axes[0],
            "x2": self.axes[1],
            "output": output.reshape(GRID, GRID),
            "neurons": neurons.reshape(n_hidden, THUMB, THUMB),
            "thumb_x1": self.axes[2],
            "thumb_x2": self.axes[3],
        }

    def neuron(self, net: Network, l: int, j: int) -> dict[str, Any]:  # noqa: E741
        """One neuron's output ``a^l_j`` over the full G x G grid (l = 1: the input
        feature); ``values[r][c]`` at ``(x1[c], x2[r])``. Hovering a neuron shows it in the
        big output plot, as TensorFlow Playground does."""
        a: Any = self.inputs[: GRID * GRID]
        for w, b, act in zip(net.weights[: l - 1], net.biases, net.layer_activations, strict=False):
            z = a @ w.T.astype(np.float32)
            z += b.astype(np.float32)
            a = act.fn(z)
        values = rounded32(np.ascontiguousarray(a[:, j]))
        return {
            "l": l,
            "j": j,
            "x1": self.axes[0],
            "x2": self.axes[1],
            "values": values.reshape(GRID, GRID),
        }


def _mesh(x1: Array, x2: Array) -> Array:
    """Points (len(x2)·len(x1), 2), row r column c at (x1[c], x2[r])."""
    g1, g2 = np.meshgrid(x1, x2)
    return np.column_stack([g1.reshape(-1), g2.reshape(-1)])
