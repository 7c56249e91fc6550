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
from app.runs.frame_pack import ref
from app.runs.frames import encode
from app.runs.rounding import CLIP, Array, make_finite, round_sig, rounded32

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
        # The axes never change: encoded once.
        self._axes = [orjson.Fragment(encode(v)) for v in self.axes]
        self._forward: Feedforward | None = None
        self._sent: _Sent | None = None
        self._key: tuple[bytes, ...] | None = None
        self._grid: dict[str, Any] = {}  # the last compute's, while ``_key`` holds
        self._encoded: orjson.Fragment | None = None
        self._packed: tuple[int, orjson.Fragment, bytes] | None = None

    def __call__(self, net: Network) -> orjson.Fragment:
        """The frame's ``grid`` object, encoded."""
        self._computed(net)
        if self._encoded is None:
            self._encoded = orjson.Fragment(encode(self._grid))
        return self._encoded

    def packed(self, net: Network, base: int) -> tuple[orjson.Fragment, bytes]:
        """A packed frame's ``grid`` (:mod:`app.runs.frame_pack`): the object with references,
        their offsets counted from ``base``, and the float32 bytes they refer to."""
        self._computed(net)
        if self._packed is None or self._packed[0] != base:
            sent = self._sent
            assert sent is not None
            grid = dict(self._grid)
            if sent.winner is None:
                grid["output"] = ref(base, sent.output.shape)
            grid["neurons"] = ref(base + sent.neurons_at, sent.neurons.shape)
            self._packed = (base, orjson.Fragment(encode(grid)), sent.out32.tobytes())
        return self._packed[1], self._packed[2]

    def _computed(self, net: Network) -> None:
        """:meth:`compute` with ``net``'s parameters, unless the last one had the same."""
        key = (*(w.tobytes() for w in net.weights), *(b.tobytes() for b in net.biases))
        if key != self._key:
            self._key = None
            self._grid = self.compute(net)
            self._encoded = self._packed = None
            self._key = key

    def _run(self, net: Network, layers: int | None = None) -> Feedforward:
        """The core's forward pass over every grid and thumbnail point, with ``net``'s
        parameters (the pass is made once per network shape)."""
        fwd = self._forward
        if fwd is None or fwd.sizes != net.sizes or [a.name for a in fwd.acts] != net.activations:
            fwd = self._forward = Feedforward(net.sizes, net.activations, self.inputs)
            self._sent = self._key = None
        fwd.set_network(net)
        fwd.run(layers)
        return fwd

    def compute(self, net: Network) -> dict[str, Any]:
        """The ``grid`` object (``docs/frames.md``); its arrays are reused by the next call."""
        self._key = None  # the cached encodings' arrays are overwritten
        fwd = self._run(net)
        sent = self._sent
        if sent is None:
            sent = self._sent = _Sent(fwd, self.argmax)
        sent.fill()
        x1, x2, t1, t2 = self._axes
        return {
            "x1": x1,
            "x2": x2,
            "output": sent.output,
            "neurons": sent.neurons,
            "thumb_x1": t1,
            "thumb_x2": t2,
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


class _Sent:
    """The grid's sent numbers for one forward pass's buffers: where they are read from, and
    preallocated buffers to round them in (4 significant digits, float32)."""

    def __init__(self, fwd: Feedforward, argmax: bool) -> None:
        n_grid, L = GRID * GRID, len(fwd.sizes)
        a_L = fwd.a(L)  # (n_L, N), one column per point: the grid's first, then the thumbnails
        # Hidden neurons on the thumbnail points, neuron by neuron, 16x16 each.
        sources = [fwd.a(layer)[:, n_grid:] for layer in range(2, L)]
        if not argmax:
            sources.insert(0, a_L[:1, :n_grid])
        n = sum(src.size for src in sources)
        self.vals, self.tmp, self.scale = np.empty(n), np.empty(n), np.empty(n)
        self.idx = np.empty(n, np.intp)
        self.out32 = np.zeros(n, "<f4")  # little-endian: a packed frame sends its bytes
        self.copies, offset = [], 0
        for src in sources:
            self.copies.append((self.vals[offset : offset + src.size].reshape(src.shape), src))
            offset += src.size
        n_hidden = sum(fwd.sizes[1:-1])
        self.neurons_at = n - n_hidden * THUMB * THUMB  # offset of ``neurons`` in ``out32``
        neurons = self.out32[self.neurons_at :]
        self.neurons = neurons.reshape(n_hidden, THUMB, THUMB)
        self.winner: tuple[NDArray[Any], NDArray[np.intp]] | None = None
        if argmax:  # several outputs: the winning class's index
            won = np.zeros(n_grid, np.intp)
            self.winner = (a_L[:, :n_grid], won)
            self.output: NDArray[Any] = won.reshape(GRID, GRID)
        else:
            self.output = self.out32[:n_grid].reshape(GRID, GRID)

    def fill(self) -> None:
        """Read the forward's buffers, and round what is sent into ``out32``."""
        for dst, src in self.copies:
            np.copyto(dst, src)
        vals, tmp = self.vals, self.tmp
        np.abs(vals, out=tmp)
        if not np.add.reduce(tmp) <= CLIP:  # some value is over CLIP, infinite or NaN
            make_finite(vals)
        round_sig(vals, tmp, out=self.out32, scratch=(self.idx, self.scale))
        if self.winner is not None:
            a, won = self.winner
            np.argmax(a, axis=0, out=won)


def _mesh(x1: Array, x2: Array) -> Array:
    """Points (len(x2)·len(x1), 2), row r column c at (x1[c], x2[r])."""
    g1, g2 = np.meshgrid(x1, x2)
    return np.column_stack([g1.reshape(-1), g2.reshape(-1)])
