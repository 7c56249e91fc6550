"""Each stream's display rate and training time, from a fair share of one core.

Every playing stream reports, per frame, what building and sending its frame cost
(``frame_i``), what its training cost, what the training it asks for would cost
(``request_i``: its ``steps_per_frame`` at its measured speed; "max" speed asks for far
more than a frame interval) and how late its tick ran. Everything else a frame costs the
process (uvicorn's reading and scheduling, the collector, REST requests) is
measured as a whole: the event loop thread's CPU time not spent in the streams' own code,
per frame (``overhead``). All of these are CPU time (``time.thread_time``), not wall time:
the core's time is what is shared, and a busy machine's preemptions are no stream's cost.
A frame of stream ``i`` (building and sending it) costs ``c_i = frame_i + overhead``.

The plan, recomputed at most every ``_PLAN_EVERY_S`` and when a stream joins or leaves:
1. **A share of the core per stream, by cost** (:func:`class_shares`). At the cap, stream
   ``i`` would use ``d_i = max_fps · (c_i + request_i)`` seconds of CPU per second. The
   streams' ``cpu_share`` of the core is shared max-min fairly: a stream wanting less
   than an even split gets all it wants, the rest split what is left evenly. What a stream
   costs is charged to it alone: a large network at "max" speed uses its own share, and
   thirty light students keep all they ask for. Streams asking for more than ``_EXPENSIVE``
   (10) times what the class's lighter quarter asks are *expensive* (:func:`expensive`),
   and come last (:func:`class_shares`): the others get all they ask for first, as long as
   each expensive stream keeps its frames at ``min_fps`` (when the core is too small for
   that, at ``_LOWEST_FPS``). Twenty of the largest networks at
   "max" speed ask a hundred times what a student's default experiment does, and an even
   split among thirty streams is a little less than that student needs for 30 frames/s:
   they share what the class leaves. (Not an even split as the yardstick: a busy machine
   inflates every measured cost alike, a student's too, and an even split of a big class is
   less than anyone asks.)
2. **Each stream's own rate and training budget from its share** ``a_i``
   (:func:`rate_for_share`). The training throughput at rate ``f`` is
   ``min(f · request_i, a_i − f · c_i)``; the rate is the highest ``f ≤ max_fps`` (and
   ``≤ a_i / c_i``: its frames must fit) that keeps at least ``1 − _THROUGHPUT_SLACK`` of
   the best throughput any rate down to ``steady_fps`` gives. A student alone at "max"
   speed gets ``max_fps`` and trains for the rest of every interval; a full class gets about
   ``steady_fps``, everyone training a little less per frame rather than the display
   stuttering. The budget is what the share leaves per frame: ``a_i / f − c_i``.
3. **Below** ``min_fps`` only for a stream whose own frames cost more than its share pays
   at ``min_fps``: it gets what its share pays for (never fewer than ``_LOWEST_FPS``); the
   class keeps its rate.
4. **Measured, not assumed, capacity.** The core may be shared with other processes, and
   the costs are estimates. When the streams' ticks run late on average by more than
   ``_LATE`` of their interval, the core the plan shares out shrinks (by ``_SHRINK`` per
   plan), but never below ``_HEADROOM`` times the CPU time the event loop actually got and
   used in that time: late ticks on a loop that was mostly waiting are the machine's
   scheduling, not too much work, and cutting the plan would not make them punctual.
   When ticks are on time the share grows back to ``cpu_share`` (``_GROW`` per plan).
   Expensive streams give up the difference first (step 1).
Each stream's kept rate moves ``_RATE_SMOOTHING`` of the way to its plan (costs are noisy;
the display should not be), all the way when a stream joins or leaves, and never above what
its frames fit in.

5. **Modest streams go first** (:meth:`Pacer.defer`). Shares say how much of the core each
   stream gets, not when: with the loop planned near full, a cheap stream's tick would queue
   behind the long ticks of expensive streams (twenty large networks at "max" speed), and a
   student asking for little would lose frames to them. So an expensive stream waits before
   its tick whenever another stream's tick falls due before the expensive tick would end
   (its training budget and frame cost), for at most ``_MAX_DEFER_S`` per tick.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

MAX_STEPS_PER_FRAME = 100_000
_SMOOTHING = 0.2
_PLAN_EVERY_S = 0.1
_THROUGHPUT_SLACK = 0.1
_RATE_SMOOTHING = 0.3  # per plan
_LOWEST_FPS = 0.5  # a frame every 2 s at least, however expensive it is
_CALIBRATE_EVERY_S = 1.0
_MIN_FRAMES = 20  # per calibration window
_INITIAL_OVERHEAD_S = 150e-6  # until the first calibration
_MAX_OVERHEAD_S = 2e-3  # a burst of other work (200 runs created at once) is not per frame
_MIN_COST_S = 1e-6  # a frame never costs nothing
_LATE = 0.25  # of a stream's interval, on average over a plan: the loop is overloaded
_ON_TIME = 0.1  # ... under this, it is not
_SHRINK = 0.85  # per late plan
_GROW = 0.1  # of cpu_share, per on-time plan: back in a second after a burst
_MIN_SCALE = 0.05
_JUDGE_S = 0.05  # the shortest window lateness is judged over
_HEADROOM = 1.25  # over the CPU the loop used: noisy costs never cut what streams use
_SERVED_HEADROOM = 3.0  # see Pacer.training_budget
_EXPENSIVE = 10.0  # times the lighter quarter's demand: a stream asking more is expensive
_MAX_DEFER_S = 0.05  # an expensive stream's tick waits for modest ones at most this long


@dataclass
class _Stream:
    """One stream's smoothed seconds per frame, and what the plan gives it."""

    frame: float  # building, encoding and sending its frame (-1: none built yet)
    request: float  # the training it asks for (steps_per_frame at its speed)
    fps: float = 0.0  # kept rate (0: not planned yet)
    budget: float = 0.0  # training seconds per frame
    share: float = 0.0  # seconds of CPU per second
    served: bool = False  # its share covers all it asks for
    expensive: bool = False  # see expensive()


class Pacer:
    def __init__(
        self, max_fps: float, min_fps: float, cpu_share: float, steady_fps: float = 10.0
    ) -> None:
        self.max_fps = max_fps
        self.min_fps = min(min_fps, max_fps)
        self.steady_fps = min(max(steady_fps, self.min_fps), max_fps)
        self.cpu_share = cpu_share
        self.overhead = _INITIAL_OVERHEAD_S
        self.scale = 1.0  # the part of cpu_share the loop turned out to have (step 4)
        self._streams: dict[int, _Stream] = {}
        self._planned_at = -math.inf
        self._joined = False  # a stream joined or left since the last plan
        self._frames = 0
        self._busy = 0.0
        self._late = 0.0  # sum of lateness / interval since the capacity was last judged
        self._ticks = 0
        self._judged_at = (time.monotonic(), time.thread_time())  # (wall, loop CPU)
        self._since_cpu = time.thread_time()
        self._since = time.monotonic()
        self._due: dict[int, float] = {}  # modest streams' next ticks (time.monotonic())

    @property
    def playing(self) -> int:
        return len(self._streams)

    def report(
        self,
        key: int,
        train_s: float,
        frame_s: float | None,
        request_s: float,
        late_s: float = 0.0,
    ) -> None:
        """A playing stream's latest tick: seconds spent training before it, building its
        frame (None: no frame was built, the client had not read the last one yet), the
        seconds the training it asks for would take, and how late the tick ran."""
        if not self._streams:
            self._restart_window()  # what happened while nobody played is not per frame
        s = self._streams.get(key)
        if s is None:
            self._streams[key] = _Stream(-1.0 if frame_s is None else frame_s, request_s)
            self._planned_at = -math.inf
            self._joined = True
        else:
            if frame_s is not None:  # the first one is taken as it is
                s.frame += (_SMOOTHING if s.frame >= 0.0 else 1.0) * (frame_s - s.frame)
            s.request += _SMOOTHING * (request_s - s.request)
            if s.fps > 0.0:
                self._late += min(1.0, max(0.0, late_s) * s.fps)
                self._ticks += 1
        self._frames += frame_s is not None
        self._busy += train_s + (frame_s or 0.0)
        now = time.monotonic()
        if now - self._since >= _CALIBRATE_EVERY_S:
            self._calibrate()
        if now - self._planned_at >= _PLAN_EVERY_S:
            self._plan(now)

    def _calibrate(self) -> None:
        if self._frames < _MIN_FRAMES:
            return
        cpu = time.thread_time()
        per_frame = (cpu - self._since_cpu - self._busy) / self._frames
        per_frame = min(_MAX_OVERHEAD_S, max(0.0, per_frame))
        self.overhead += 0.5 * (per_frame - self.overhead)
        self._restart_window()

    def _restart_window(self) -> None:
        self._since_cpu, self._since = time.thread_time(), time.monotonic()
        self._frames, self._busy = 0, 0.0

    def leave(self, key: int) -> None:
        self._due.pop(key, None)
        if self._streams.pop(key, None) is not None:
            self._joined = True
            self._plan(time.monotonic())

    def _judge_capacity(self, now: float) -> None:
        """Step 4 of the plan, over at least ``_JUDGE_S`` of ticks."""
        wall0, cpu0 = self._judged_at
        if now - wall0 < _JUDGE_S:
            return
        cpu = time.thread_time()
        if self._ticks:
            late = self._late / self._ticks
            if late > _LATE:
                used = (cpu - cpu0) / (now - wall0) / self.cpu_share  # of cpu_share
                shrunk = max(self.scale * _SHRINK, _HEADROOM * used)
                self.scale = max(_MIN_SCALE, min(self.scale, shrunk))
            elif late < _ON_TIME:
                self.scale = min(1.0, self.scale + _GROW)
        self._late, self._ticks = 0.0, 0
        self._judged_at = (now, cpu)

    def _plan(self, now: float) -> None:
        self._planned_at = now
        self._judge_capacity(now)
        streams = list(self._streams.values())
        if not streams:
            return
        n = len(streams)
        c = np.fromiter((max(0.0, s.frame) for s in streams), float, n) + self.overhead
        c = np.maximum(c, _MIN_COST_S)
        req = np.fromiter((s.request for s in streams), float, n)
        wanted = self.max_fps * (c + req)
        costly = expensive(wanted)
        floors = (self.min_fps * c, min(_LOWEST_FPS, self.min_fps) * c)
        shares = class_shares(wanted, costly, floors, self.cpu_share, self.scale)
        target = rate_for_share(
            shares, c, req, self.max_fps, self.min_fps, self.steady_fps, _THROUGHPUT_SLACK
        )
        # A stream joining or leaving changes the shares at once; noisy costs move the
        # rates only part of the way.
        smoothing = 1.0 if self._joined else _RATE_SMOOTHING
        self._joined = False
        for s, a, want, cost, f, big in zip(
            streams, shares, wanted, c, target, costly, strict=True
        ):
            kept = f if s.fps == 0.0 else s.fps + smoothing * (f - s.fps)
            fits = max(_LOWEST_FPS, a / cost)  # its frames alone must fit in its share
            s.fps = float(min(self.max_fps, fits, max(kept, min(self.min_fps, fits))))
            s.share = float(a)
            s.budget = float(max(0.0, a / s.fps - cost))
            s.served = bool(a >= want * (1.0 - 1e-9))
            s.expensive = bool(big)

    def next_tick(self, key: int, at: float) -> None:
        """Stream ``key`` plans its next tick at ``at`` (``time.monotonic()``)."""
        s = self._streams.get(key)
        if s is not None and not s.expensive:
            self._due[key] = at
        else:
            self._due.pop(key, None)

    def defer(self, key: int, now: float, waited: float) -> float:
        """Seconds stream ``key`` should wait before the tick it is about to start (0: go),
        having waited ``waited`` already for this one: step 5 of the plan (only an expensive
        stream ever waits, and only for a modest one's tick)."""
        s = self._streams.get(key)
        if s is None or not s.expensive or s.fps <= 0.0 or not self._due or waited >= _MAX_DEFER_S:
            return 0.0
        ends = now + s.budget + max(0.0, s.frame) + self.overhead
        first = min(self._due.values())
        if first >= ends:
            return 0.0
        # Just after the first modest tick falls due: its timer is older, so it runs first.
        return min(max(first - now, 0.0) + 1e-4, _MAX_DEFER_S - waited)

    def fps(self, key: int | None = None) -> float:
        """The frame rate stream ``key`` should keep now; without a key, the median rate of
        the playing streams (``max_fps`` when none plays)."""
        s = self._streams.get(key) if key is not None else None
        if s is not None and s.fps > 0.0:
            return s.fps
        rates = [s.fps for s in self._streams.values() if s.fps > 0.0]
        return float(np.median(rates)) if rates else self.max_fps

    def budget(self, key: int | None = None) -> float:
        """Seconds of training stream ``key`` may spend before its next frame (the driver
        always trains at least one step); without a key, the median budget."""
        s = self._streams.get(key) if key is not None else None
        if s is not None and s.fps > 0.0:
            return s.budget
        budgets = [s.budget for s in self._streams.values() if s.fps > 0.0]
        if budgets:
            return float(np.median(budgets))
        return max(0.0, self.cpu_share * self.scale / self.max_fps - self.overhead)

    def training_budget(self, key: int) -> float:
        """The training time stream ``key`` may spend now: its :meth:`budget`, with
        ``_SERVED_HEADROOM`` when its share covers everything it asks for (its steps' time
        is an estimate, and noise must not cut steps a student asked for and can have)."""
        s = self._streams.get(key)
        if s is not None and s.served:
            return self.budget(key) * _SERVED_HEADROOM
        return self.budget(key)


def max_min_shares(demand: NDArray[np.float64], total: float) -> NDArray[np.float64]:
    """Max-min fair split of ``total`` seconds of CPU per second among streams wanting
    ``demand`` (n,): ``min(demand_i, level)``, with the level that spends ``total`` (or
    every demand in full when they all fit)."""
    if float(demand.sum()) <= total:
        return demand.copy()
    d = np.sort(demand)
    n = len(d)
    before = np.concatenate([[0.0], np.cumsum(d)[:-1]])  # taken by the k smallest
    even = (total - before) / (n - np.arange(n))  # the level if the k-th and up are capped
    k = int(np.argmax(d > even))  # the first demand over an even split of what is left
    level = float(even[k])
    return np.minimum(demand, level)


def expensive(demand: NDArray[np.float64]) -> NDArray[np.bool_]:
    """Which streams (n,) ask for more than ``_EXPENSIVE`` times what the lighter quarter of
    them asks (its largest demand)."""
    return demand > _EXPENSIVE * float(np.quantile(demand, 0.25, method="lower"))


def class_shares(
    demand: NDArray[np.float64],
    costly: NDArray[np.bool_],
    floors: tuple[NDArray[np.float64], ...],
    total: float,
    scale: float,
) -> NDArray[np.float64]:
    """Steps 1 and 4: each stream's share (n,) of the ``scale · total`` seconds of CPU per
    second that turned out to be there, for its ``demand`` (n,).

    The ``costly`` streams (:func:`expensive`) come last. ``floors`` (each (n,)) are what
    a stream's frames cost at the rates the costly ones are held to, highest first (at
    ``min_fps``, then at ``_LOWEST_FPS``). With the first floors that fit beside them, the
    others get all they ask for and the costly ones share the rest max-min. Otherwise (no
    costly stream, or the others alone ask for more than there is: a class too big for the
    core, where a stream at "max" speed is one more student) it is plain
    :func:`max_min_shares` over what is there. So twenty of the largest networks at "max"
    speed slow themselves, and not the students beside them, also when other processes take
    much of the core (on a loaded machine the core shrinks until the networks' frames at
    ``min_fps`` no longer fit beside the class; an even split would then cut every student
    to a third of its rate)."""
    there = total * scale
    if costly.any() and not costly.all():
        modest = float(demand[~costly].sum())
        for floor in floors:
            held = float(np.minimum(floor, demand)[costly].sum())
            if modest + held <= there:
                shares = demand.copy()
                shares[costly] = max_min_shares(demand[costly], there - modest)
                return shares
    return max_min_shares(demand, there)


def rate_for_share(
    share: NDArray[np.float64],
    cost: NDArray[np.float64],
    request: NDArray[np.float64],
    max_fps: float,
    min_fps: float,
    steady_fps: float,
    slack: float,
) -> NDArray[np.float64]:
    """Each stream's planned rate (n,) for its ``share`` of the core (s/s), its ``cost`` per
    frame and the training it asks for per frame (``request``, s): the highest rate keeping
    ``1 − slack`` of the best training throughput any rate down to ``steady_fps`` gives,
    within what its frames fit in (``share / cost``), and at least ``min_fps`` when the
    share pays for it."""
    top = np.minimum(max_fps, share / cost)
    bottom = np.minimum(steady_fps, top)
    # Throughput min(f · request, share − f · cost) peaks where the two meet.
    peak = np.clip(share / (cost + request), bottom, top)
    best = np.minimum(peak * request, share - peak * cost)
    highest = (share - (1.0 - slack) * best) / cost  # where share − f · cost falls to it
    rate = np.minimum(top, np.maximum(peak, highest))
    return np.maximum(rate, np.minimum(min_fps, top))
