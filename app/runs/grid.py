"""The network's output over a grid of the input plane: the decision boundary, and each
hidden neuron's output (TensorFlow Playground's thumbnails)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import orjson
from numpy.typing import NDArray

from app.core.forward import Feedforward
from app.core.network import Network
from app.runs.frames import encode
from app.runs.rounding import Array, rounded32

GRID = 64
THUMB = 16


class GridBuilder:
    """Network output over a 64x64 grid and each hidden neuron's output over 16x16.

    ``to_inputs`` maps raw points (P, 2) to network inputs (the selected features).
    ``extent`` is ``[[x1min, x1max], [x2min, x2max]]``. The outputs come from the core's
    :class:`app.core.forward.Feedforward` (its dtype). The result comes pre-encoded (an
    :class:`orjson.Fragment`) and is reused while the parameters are unchanged.
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
        # One pass over the 64x64 grid and the 16x16 thumbnail grid stacked.
        grid, thumbs = to_inputs(_mesh(self.x1, self.x2)), to_inputs(_mesh(self.t1, self.t2))
        self.inputs = np.concatenate([grid, thumbs])
        self.argmax = n_out > 1
        self.axes = [rounded32(v) for v in (self.x1, self.x2, self.t1, self.t2)]
        self._forward: Feedforward | None = None
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

    def _run(self, net: Network, layers: int | None = None) -> Feedforward:
        """The core's forward pass over every grid and thumbnail point, with ``net``'s
        parameters (the pass is made once per network shape)."""
        fwd = self._forward
        if fwd is None or fwd.sizes != net.sizes or [a.name for a in fwd.acts] != net.activations:
            fwd = self._forward = Feedforward(net.sizes, net.activations, self.inputs)
        fwd.set_network(net)
        fwd.run(layers)
        return fwd

    def compute(self, net: Network) -> dict[str, Any]:
        n_grid, L = GRID * GRID, net.L
        fwd = self._run(net)
        a_L = fwd.a(L)  # (n_L, N), one column per point
        # Hidden neurons on the thumbnail points, neuron by neuron, 16x16 each.
        hidden = [fwd.a(layer)[:, n_grid:].reshape(-1) for layer in range(2, L)]
        n_hidden = sum(net.sizes[1:-1])
        values = [*hidden] if self.argmax else [a_L[0, :n_grid], *hidden]
        flat = rounded32(np.concatenate(values)) if values else np.zeros(0, np.float32)
        if self.argmax:
            output: NDArray[Any] = np.argmax(a_L[:, :n_grid], axis=0).astype(np.int32)
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
        a = self._run(net, l - 1).a(l)
        values = rounded32(a[j, : GRID * GRID])
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
