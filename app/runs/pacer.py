"""The display rate under load: streams share one core, so each gets fewer frames/s.

Every playing stream reports what its frames cost in its own code (training between
frames, building and encoding the frame). Everything else a frame costs the process
(uvicorn's WebSocket framing and socket writes, asyncio's scheduling, the collector, REST
requests) is measured as a whole: process CPU time not spent in the streams' own code,
per frame. If every stream runs at ``f`` frames/s the server spends
``f · Σ (cost_i + overhead)`` seconds per second, so the common rate is
``f = cpu_share / Σ (cost_i + overhead)``, clamped to ``[min_fps, max_fps]``.
"""

from __future__ import annotations

import time

MAX_STEPS_PER_FRAME = 1000
_SMOOTHING = 0.2
_CALIBRATE_EVERY_S = 1.0
_MIN_FRAMES = 20  # per calibration window
_INITIAL_OVERHEAD_S = 150e-6  # until the first calibration
_MAX_OVERHEAD_S = 2e-3  # a burst of other work (200 runs created at once) is not per frame


class Pacer:
    def __init__(self, max_fps: float, min_fps: float, cpu_share: float) -> None:
        self.max_fps = max_fps
        self.min_fps = min(min_fps, max_fps)
        self.cpu_share = cpu_share
        self.overhead = _INITIAL_OVERHEAD_S
        self._costs: dict[int, float] = {}
        self._total = 0.0
        self._frames = 0
        self._busy = 0.0
        self._since_cpu = time.process_time()
        self._since = time.monotonic()

    @property
    def playing(self) -> int:
        return len(self._costs)

    def report(self, key: int, seconds: float) -> None:
        """A playing stream's latest frame cost in its own code (smoothed per stream)."""
        if not self._costs:
            self._restart_window()  # what happened while nobody played is not per frame
        old = self._costs.get(key)
        new = seconds if old is None else old + _SMOOTHING * (seconds - old)
        self._costs[key] = new
        self._total += new - (old or 0.0)
        self._frames += 1
        self._busy += seconds
        if time.monotonic() - self._since >= _CALIBRATE_EVERY_S:
            self._calibrate()

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
        old = self._costs.pop(key, None)
        if old is not None:
            self._total -= old
        if not self._costs:
            self._total = 0.0  # no drift from float sums

    def fps(self) -> float:
        demand = self._total + len(self._costs) * self.overhead
        if demand <= 0.0:
            return self.max_fps
        return max(self.min_fps, min(self.max_fps, self.cpu_share / demand))
