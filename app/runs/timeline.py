"""A run's snapshots: its training state at kept steps, within a memory budget.

A snapshot is a :class:`app.core.checkpoint.TrainerState` (θ, velocity, batch order and
position, random-generator state, step, epoch). :class:`Timeline` keeps them in step order
within :data:`BUDGET_BYTES` and :data:`MAX_SNAPSHOTS`: the :data:`RECENT` newest all, and
older ones thinned so that the gap around each grows with its age (removing, each time,
the snapshot whose removal leaves the smallest gap for its age: the kept steps end up
about exponentially spaced), the oldest always. When to take one is the caller's
(:class:`app.runs.lab.Lab`: every step early on, then at the end of each stretch of
training).

Bytes are counted by :func:`snapshot_bytes`: θ and v (16 bytes per parameter), the batch
order when no other kept snapshot holds the same one (2 bytes per training example, 4
beyond 32,767), and :data:`OVERHEAD` for the objects. The batch order is stored as the
smallest integer type that holds it, one array per epoch shared by that epoch's snapshots.
"""

from __future__ import annotations

import bisect
import dataclasses
from typing import Any

import numpy as np
from numpy.typing import NDArray

from app.core.checkpoint import TrainerState

BUDGET_BYTES = 1_000_000
MAX_SNAPSHOTS = 128
RECENT = 32  # the newest snapshots, all kept
EVERY_STEP_UNTIL = 100  # a snapshot at every step before this one
OVERHEAD = 600  # a snapshot's objects: the state, two arrays' headers, the generator's dict


def order_itemsize(n: int) -> int:
    return 2 if n <= np.iinfo(np.int16).max + 1 else 4


def snapshot_bytes(n_params: int, n_train: int) -> int:
    """The most one snapshot may hold: θ and v, its own batch order, the objects."""
    return 16 * n_params + order_itemsize(n_train) * n_train + OVERHEAD


def budget_bytes(n_params: int, n_train: int) -> int:
    """The most a run's snapshots may hold (its memory estimate's ``snapshots`` part)."""
    return min(BUDGET_BYTES, MAX_SNAPSHOTS * snapshot_bytes(n_params, n_train))


class Timeline:
    """Kept snapshots, ascending by step (at most one per step)."""

    def __init__(self, budget: int = BUDGET_BYTES, most: int = MAX_SNAPSHOTS) -> None:
        self.budget, self.most = budget, most
        self._steps: list[int] = []
        self._snaps: list[TrainerState] = []
        self._order_src: NDArray[np.integer[Any]] | None = None  # the trainer's order last seen
        self._order: NDArray[np.integer] | None = None  # ... stored compactly
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
        self._order_src = self._order = None
        self.bytes = 0

    def at_or_before(self, step: int) -> TrainerState | None:
        """The kept snapshot with the largest step ≤ ``step``, if any."""
        i = bisect.bisect_right(self._steps, step)
        return self._snaps[i - 1] if i else None

    def record(self, st: TrainerState) -> None:
        """Keep ``st``; snapshots at its step and after it (a future left by a rewind, or
        the same step before a change) are dropped first. Then thinned to the budget."""
        cut = bisect.bisect_left(self._steps, st.step)
        for i in range(len(self._steps) - 1, cut - 1, -1):
            self._drop(i)
        st = self._compact(st)
        self._steps.append(st.step)
        self._snaps.append(st)
        self.bytes += st.nbytes + OVERHEAD
        if st.order is not None:
            held = self._held.get(id(st.order), 0)
            self._held[id(st.order)] = held + 1
            if not held:
                self.bytes += st.order.nbytes
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
                self.bytes -= st.order.nbytes

    def _compact(self, st: TrainerState) -> TrainerState:
        """``st`` with its order in the smallest integer type, shared with the snapshots of
        the same epoch (the trainer's order is a new array each epoch, never written to)."""
        if st.order is None:
            return st
        if st.order is not self._order_src:
            n = len(st.order)
            dtype = np.int16 if order_itemsize(n) == 2 else np.int32
            self._order_src, self._order = st.order, st.order.astype(dtype)
        return dataclasses.replace(st, order=self._order)

    def _thin(self) -> None:
        while self._snaps and (len(self._snaps) > self.most or self.bytes > self.budget):
            self._drop(self._victim())

    def _victim(self) -> int:
        """The snapshot to drop: among those neither the oldest nor among the
        :data:`RECENT` newest, the one whose removal leaves the smallest gap for its age;
        with none such, the oldest but one (or, of one or two, the oldest: the latest
        stays)."""
        n = len(self._steps)
        recent = min(RECENT, max(1, self.most // 2))
        lo, hi = 1, n - recent  # candidates: indices lo..hi-1
        if hi <= lo:
            return 0 if n <= 2 else 1
        steps = np.asarray(self._steps, dtype=np.float64)
        i = np.arange(lo, hi)
        gap = steps[i + 1] - steps[i - 1]
        age = steps[-1] - steps[i]
        return int(i[np.argmin(gap / (age + 1.0))])
