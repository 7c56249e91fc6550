"""A run's snapshots: its training state at kept steps, within a memory budget.

A snapshot is a :class:`app.core.checkpoint.TrainerState` (θ, velocity, batch order and
position, random-generator state, step, epoch). :class:`Timeline` keeps them in step order
within :data:`BUDGET_BYTES` and :data:`MAX_SNAPSHOTS`: the :data:`RECENT` newest all, and
older ones thinned so that the gap around each grows with its age (removing, each time,
the snapshots whose removal leaves the smallest gap for their age: the kept steps end up
about exponentially spaced), the oldest always. When the bytes allow fewer than
:data:`MAX_SNAPSHOTS` (a large network), the newest kept all are half of what fits. When
to take one is the caller's (:class:`app.runs.lab.Lab`: every step early on, then at the
end of each stretch of training).

Bytes are counted as the snapshots hold them: θ and v (16 bytes per parameter), and
:data:`OVERHEAD` for the objects, per snapshot; per epoch held (once, however many kept
snapshots share it) its batch order (2 bytes per training example, 4 beyond 32,767) and
:data:`EPOCH_OVERHEAD` for the order's array and the generator's state. The batch order is
stored as the smallest integer type that holds it, one array per epoch shared by that
epoch's snapshots. The budget (:func:`budget_bytes`) is :data:`MAX_SNAPSHOTS` allowances of
:func:`snapshot_bytes` (at most :data:`BUDGET_BYTES`); a run whose every step starts an epoch
(a batch of the whole training set) keeps fewer snapshots within it.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from app.core import checkpoint
from app.core.checkpoint import TrainerState
from app.core.training import Trainer

BUDGET_BYTES = 1_000_000
MAX_SNAPSHOTS = 128
RECENT = 32  # the newest snapshots, all kept
EVERY_STEP_UNTIL = 100  # a snapshot at every step before this one
# The objects around the arrays, as bench/bench_timeline.py walks them (sys.getsizeof):
# about 350 bytes a snapshot (the state, θ's and v's headers, its list slots) and 650 an
# epoch (the order's header, the generator's state dicts and numbers).
OVERHEAD = 400
EPOCH_OVERHEAD = 700
ALLOWANCE = 600  # a snapshot's share of the budget beyond its arrays (MAX_SNAPSHOTS of them)


def order_itemsize(n: int) -> int:
    return 2 if n <= np.iinfo(np.int16).max + 1 else 4


def snapshot_bytes(n_params: int, n_train: int) -> int:
    """A snapshot's allowance in the budget: θ and v, a batch order, :data:`ALLOWANCE`."""
    return 16 * n_params + order_itemsize(n_train) * n_train + ALLOWANCE


def budget_bytes(n_params: int, n_train: int) -> int:
    """The most a run's snapshots may hold (its memory estimate's ``snapshots`` part)."""
    return min(BUDGET_BYTES, MAX_SNAPSHOTS * snapshot_bytes(n_params, n_train))


class Timeline:
    """Kept snapshots, ascending by step (at most one per step)."""

    def __init__(self, budget: int = BUDGET_BYTES, most: int = MAX_SNAPSHOTS) -> None:
        self.budget, self.most = budget, most
        self._steps: list[int] = []
        self._snaps: list[TrainerState] = []
        self._order_src: Any = _NOTHING  # the trainer's order last seen (None: not drawn yet)
        self._order: NDArray[np.integer[Any]] | None = None  # ... stored compactly
        self._rng: Mapping[str, Any] | None = None  # the generator's state since then
        self._held: dict[int, int] = {}  # id(order) → how many kept snapshots hold it
        self.bytes = 0

    @property
    def steps(self) -> list[int]:
        return list(self._steps)

    @property
    def last_step(self) -> int | None:
        return self._steps[-1] if self._steps else None

    def clear(self) -> None:
        self._steps.clear()
        self._snaps.clear()
        self._held.clear()
        self.moved()
        self.bytes = 0

    def moved(self) -> None:
        """The trainer was put in another state (a rewind): read its generator again."""
        self._order_src, self._order, self._rng = _NOTHING, None, None

    def at_or_before(self, step: int) -> TrainerState | None:
        """The kept snapshot with the largest step ≤ ``step``, if any."""
        i = bisect.bisect_right(self._steps, step)
        return self._snaps[i - 1] if i else None

    def capture(self, tr: Trainer) -> None:
        """Keep a snapshot of ``tr`` now (:meth:`record`). The generator moves only when a
        new permutation is drawn (a new ``tr.order``), so its state is read once an epoch."""
        same = tr.order is self._order_src
        st = checkpoint.capture(tr, self._rng if same else None)
        if not same:
            self._order_src, self._rng = tr.order, st.rng
            self._order = None if tr.order is None else _compact(tr.order)
        st.order = self._order
        self.record(st)

    def record(self, st: TrainerState) -> None:
        """Keep ``st``; snapshots at its step and after it (a future left by a rewind, or
        the same step before a change) are dropped first. Then thinned to the budget."""
        self.drop_after(st.step - 1)
        self._steps.append(st.step)
        self._snaps.append(st)
        self.bytes += st.nbytes + OVERHEAD
        if st.order is not None:
            held = self._held.get(id(st.order), 0)
            self._held[id(st.order)] = held + 1
            if not held:
                self.bytes += st.order.nbytes + EPOCH_OVERHEAD
        if len(self._snaps) > self.most or self.bytes > self.budget:
            self._thin()

    def drop_after(self, step: int) -> None:
        """Forget the snapshots after ``step`` (the run changed there)."""
        for i in range(len(self._steps) - 1, bisect.bisect_right(self._steps, step) - 1, -1):
            self._drop(i)

    def _drop(self, i: int) -> None:
        st = self._snaps.pop(i)
        del self._steps[i]
        self.bytes -= st.nbytes + OVERHEAD
        if st.order is not None:
            key = id(st.order)
            self._held[key] -= 1
            if not self._held[key]:
                del self._held[key]
                self.bytes -= st.order.nbytes + EPOCH_OVERHEAD

    def _thin(self) -> None:
        """Down to 7/8 of the most snapshots or bytes allowed, in one pass: the snapshots
        dropped are those whose removal leaves the smallest gap for their age, never two
        neighbours at once, never the oldest nor the :data:`RECENT` newest. Then a room of
        1/8 fills before the next pass (so a snapshot costs ~1 µs on average)."""
        while len(self._snaps) > self.most or self.bytes > self.budget:
            n = len(self._snaps)
            want = n - min(n, self.most * 7 // 8)
            if self.bytes > self.budget * 7 // 8:
                per = self.bytes / n
                want = max(want, math.ceil((self.bytes - self.budget * 7 // 8) / per))
            victims = self._victims(max(1, want))
            for i in sorted(victims, reverse=True):
                self._drop(i)

    def _victims(self, want: int) -> list[int]:
        n = len(self._steps)
        fit = min(self.most, int(self.budget * n / max(self.bytes, 1)))  # about, by bytes
        recent = min(RECENT, max(1, fit // 2))
        lo, hi = 1, n - recent  # candidates: indices lo..hi-1
        if hi <= lo:  # only the oldest and the newest: the oldest but one goes (or the oldest)
            return [0 if n <= 2 else 1]
        steps = np.asarray(self._steps, dtype=np.float64)
        i = np.arange(lo, hi)
        score = (steps[i + 1] - steps[i - 1]) / (steps[-1] - steps[i] + 1.0)
        taken: set[int] = set()
        for j in i[np.argsort(score, kind="stable")].tolist():
            if j - 1 not in taken and j + 1 not in taken:
                taken.add(j)
                if len(taken) >= want:
                    break
        return list(taken)


_NOTHING = object()


def _compact(order: NDArray[np.integer[Any]]) -> NDArray[np.integer[Any]]:
    """The order in the smallest integer type that holds it (a copy: the trainer's own is
    a new array each epoch and never written to, but may be the one a rewind gave it)."""
    dtype = np.int16 if order_itemsize(len(order)) == 2 else np.int32
    return order.astype(dtype)
