"""The display rate and the training time of every stream: all streams share one core.

Every playing stream reports, per frame, what building its frame cost (``frame_i``), what
its training cost, and what the training it asks for would cost (``request_i``: its
``steps_per_frame`` at its measured speed; "max" speed asks for far more than a frame
interval). Everything else a frame costs the process (uvicorn's WebSocket framing and
socket writes, asyncio's scheduling, the collector, REST requests) is measured as a whole:
process CPU time not spent in the streams' own code, per frame (``overhead``). With
``c_i = frame_i + overhead``, a common rate ``f`` leaves ``cpu_share / f − Σ c_i`` seconds
per frame interval for training.

The plan, recomputed at most every ``_PLAN_EVERY_S`` and when a stream joins or leaves:
1. Training time at a rate ``f`` is shared max-min fairly (water-filling): a stream asking
   for less than the common level gets what it asks, the others get the level
   (:meth:`Pacer.budget`; a frame always trains at least one step).
2. Each stream is owed the most training throughput (seconds of training per second) any
   rate down to ``steady_fps`` gives it, but never more than an even share of the core
   minus its frames.
   The rate is the highest ``f ≤ max_fps`` that pays every stream at least
   ``1 − _THROUGHPUT_SLACK`` of what it is owed (or, if no rate does, the one that pays
   the worst-paid stream the largest share). A student alone at "max" speed gets
   ``max_fps`` and trains for the rest of every interval; one fast-forward among 29 light
   runs does not slow the others; a full classroom gets about ``steady_fps`` and shares
   the core, everyone training a little less per frame rather than the display stuttering.
3. Below ``steady_fps`` only when the frames alone do not fit, never under ``min_fps``.
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
_RATES = 24  # candidate frame rates per plan
_THROUGHPUT_SLACK = 0.1
_RATE_SMOOTHING = 0.3  # per plan
_CALIBRATE_EVERY_S = 1.0
_MIN_FRAMES = 20  # per calibration window
_INITIAL_OVERHEAD_S = 150e-6  # until the first calibration
_MAX_OVERHEAD_S = 2e-3  # a burst of other work (200 runs created at once) is not per frame


@dataclass
class _Stream:
    """One stream's smoothed seconds per frame."""

    frame: float  # building and encoding its frame
    request: float  # the training it asks for (steps_per_frame at its speed)


class Pacer:
    def __init__(
        self, max_fps: float, min_fps: float, cpu_share: float, steady_fps: float = 10.0
    ) -> None:
        self.max_fps = max_fps
        self.min_fps = min(min_fps, max_fps)
        self.steady_fps = min(max(steady_fps, self.min_fps), max_fps)
        self.cpu_share = cpu_share
        self.overhead = _INITIAL_OVERHEAD_S
        self._streams: dict[int, _Stream] = {}
        self._fps = max_fps
        self._level = 0.0  # training seconds per frame for every stream
        self._planned_at = -math.inf
        self._frames = 0
        self._busy = 0.0
        self._since_cpu = time.process_time()
        self._since = time.monotonic()
        self._plan(self._since)

    @property
    def playing(self) -> int:
        return len(self._streams)

    def report(self, key: int, train_s: float, frame_s: float | None, request_s: float) -> None:
        """A playing stream's latest frame: seconds spent training before it, building it
        (None: no frame was built, the client had not read the last one yet), and the
        seconds the training it asks for would take."""
        if not self._streams:
            self._restart_window()  # what happened while nobody played is not per frame
        s = self._streams.get(key)
        if s is None:
            self._streams[key] = _Stream(frame_s or 0.0, request_s)
            self._planned_at = -math.inf
        else:
            if frame_s is not None:
                s.frame += _SMOOTHING * (frame_s - s.frame)
            s.request += _SMOOTHING * (request_s - s.request)
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
        cpu = time.process_time()
        per_frame = (cpu - self._since_cpu - self._busy) / self._frames
        per_frame = min(_MAX_OVERHEAD_S, max(0.0, per_frame))
        self.overhead += 0.5 * (per_frame - self.overhead)
        self._restart_window()

    def _restart_window(self) -> None:
        self._since_cpu, self._since = time.process_time(), time.monotonic()
        self._frames, self._busy = 0, 0.0

    def leave(self, key: int) -> None:
        if self._streams.pop(key, None) is not None:
            self._plan(time.monotonic())

    def _plan(self, now: float) -> None:
        """The common frame rate, and the training level that fills its interval."""
        self._planned_at = now
        n = len(self._streams)
        if not n:
            self._fps, self._level = self.max_fps, self.cpu_share / self.max_fps
            return
        share = self.cpu_share
        req = np.fromiter((s.request for s in self._streams.values()), float, n)
        c = np.fromiter((s.frame for s in self._streams.values()), float, n) + self.overhead
        order = np.argsort(req)
        req, c = req[order], c[order]
        frames = float(c.sum())  # seconds for one frame of every stream
        frames_fit = share / frames if frames > 0.0 else math.inf
        top = max(self.min_fps, min(self.max_fps, frames_fit))
        bottom = max(self.min_fps, min(self.steady_fps, top))
        rates = np.geomspace(top, bottom, _RATES) if top > bottom else np.array([top])
        level = _water_level(req, share / rates - frames)
        gets = rates[:, None] * np.minimum(req[None, :], level[:, None])  # training s/s
        # What each stream is owed: the most it gets at any of these rates, but no more than
        # an even share of the core (minus its frames): one fast-forward cannot slow the rest.
        owed = np.minimum(gets.max(axis=0), share / n - bottom * c)
        # The worst-paid stream's share of what it is owed, at each rate (owed ≤ 0: nothing).
        paid = np.where(owed > 0.0, gets / np.where(owed > 0.0, owed, 1.0), 1.0).min(axis=1)
        good = paid >= 1.0 - _THROUGHPUT_SLACK - 1e-12
        # The highest rate that pays everyone; if none does (streams that want different
        # rates), the rate that pays the worst-paid stream best.
        best = int(np.argmax(good)) if good.any() else int(np.argmax(paid))
        # Move part of the way there: the measured costs are noisy, the display should not
        # be. The level is the one at the rate actually kept.
        target = float(rates[best])
        fps = self._fps + _RATE_SMOOTHING * (target - self._fps)
        self._fps = min(top, max(self.min_fps, fps))
        self._level = float(_water_level(req, np.array([share / self._fps - frames]))[0])

    def fps(self) -> float:
        """The common frame rate every playing stream should keep now."""
        return self._fps

    def budget(self) -> float:
        """Seconds of training a stream may spend before its next frame (the driver always
        trains at least one step)."""
        return self._level


def _water_level(r: NDArray[np.float64], left: NDArray[np.float64]) -> NDArray[np.float64]:
    """Max-min fair training level per frame for sorted requests ``r`` (n,), for each amount
    of time ``left`` (k,): requests under the level are met in full, the rest get the level.
    When every request is met, the level is the largest request plus what is left over."""
    n = len(r)
    before = np.concatenate([[0.0], np.cumsum(r)])  # time taken by the k smallest
    share = (left[:, None] - before[None, :n]) / (n - np.arange(n))[None, :]
    short = r[None, :] > share  # the k-th smallest request is more than an even split
    k = np.where(short.any(axis=1), short.argmax(axis=1), n)
    met = np.take_along_axis(share, np.minimum(k, n - 1)[:, None], axis=1)[:, 0]
    level = np.where(k < n, met, left - before[n] + r[-1])
    return np.maximum(level, 0.0)
