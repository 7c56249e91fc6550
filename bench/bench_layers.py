"""What issue 13's per-layer numbers cost a frame and a step, as ratios measured in one run.

For W1 (2-8-8-1 tanh) and W3 (64-30-10 sigmoid CSV, as bench_stream's), after 500 steps,
CPU µs per call (this thread's, medians of 9 interleaved repeats, so the machine's drift
affects all alike and other processes' turns are not counted):

- ``full``: one training step then a frame with fresh metrics (what REST and every 3rd
  streamed frame build), with the layer histograms and history point (``+hist``) and with
  them switched off (``-hist``): the difference is what histograms cost a measured frame;
- ``stream``: a playing stream's cycle of ``grid_every`` frames (grid on the last, metrics
  every ``METRICS_EVERY``-th), per frame, with histograms and the predicted step after the
  grid frame, and without either: what issue 13 adds to a playing stream;
- ``step`` and ``predicted``: one fast-path step, and one step with its prediction
  (:func:`app.core.prediction.predicted_step`: a backprop and a forward pass over the batch
  around the same step). A playing stream predicts one step per frame.

Run: ``.venv/bin/python bench/bench_layers.py [--seconds 6]``. About 15 s, no server.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as app.main does for the server

import argparse
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_stream import W1, interleaved_us, w3_config  # noqa: E402

from app.core.prediction import predicted_step  # noqa: E402
from app.runs import frame_doc, layer_stats  # noqa: E402
from app.runs.experiment import Experiment  # noqa: E402
from app.runs.player import METRICS_EVERY  # noqa: E402
from app.runs.run import Run  # noqa: E402
from app.settings import Settings  # noqa: E402


class _Switch:
    """frame_doc's layer_stats, with its histograms switched on or off."""

    def __init__(self) -> None:
        self.on = True

    def measured(self, *args: Any) -> dict[str, Any] | None:
        return layer_stats.measured(*args) if self.on else None


def measure(name: str, changes: dict[str, Any], settings: Settings, seconds: float) -> None:
    run = Run(name, Experiment(**changes), settings)
    run.train(500)
    tr = run.state.trainer
    every = settings.grid_every
    switch = _Switch()
    frame_doc.layer_stats = switch  # type: ignore[assignment]

    def full(on: bool) -> Any:
        def go() -> None:
            switch.on = on
            tr.train(1)
            run.frame()

        return go

    def cycle(on: bool) -> Any:
        """A playing stream's frames: histograms (and a predicted step) with the grid."""

        def go() -> None:
            switch.on = on
            run.playing = True
            for k in range(1, every + 1):
                if k == 1:  # after the grid frame: the predicted step (when on)
                    run.lab.predict_next = on
                    run.train(1)  # the run's own training (its timeline's snapshot too)
                else:
                    tr.train(1)
                grid = k >= every
                run.frame(grid=grid, metrics=grid or k % METRICS_EVERY == 0)
            run.playing = False

        return go

    def step() -> None:
        tr.train(1)

    def predicted() -> None:
        predicted_step(tr)

    t = interleaved_us(
        {
            "full+hist": full(True),
            "full-hist": full(False),
            "stream+hist": cycle(True),
            "stream-hist": cycle(False),
            "step": step,
            "predicted": predicted,
        },
        seconds,
        clock=time.thread_time,
    )
    frame_doc.layer_stats = layer_stats  # type: ignore[assignment]
    s = t["step"]
    full_on, full_off = t["full+hist"] - s, t["full-hist"] - s
    st_on, st_off = t["stream+hist"] / every - s, t["stream-hist"] / every - s
    print(
        f"{name}: measured frame {full_off:7.1f} -> {full_on:7.1f} µs "
        f"(x{full_on / full_off:.2f}); stream frame {st_off:7.1f} -> {st_on:7.1f} µs "
        f"(x{st_on / st_off:.2f}); step {s:5.1f} µs, predicted step {t['predicted']:6.1f} µs "
        f"(+{t['predicted'] - s:.1f} µs, {(t['predicted'] - s) / st_off:.2f} stream frames)"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=6.0)
    args = parser.parse_args(argv)
    measure("W1", W1, Settings(), args.seconds)
    w3, w3_settings = w3_config()
    measure("W3", w3, w3_settings, args.seconds)


if __name__ == "__main__":
    main()
