"""The rewind timeline: what its snapshots cost in time, and that their budget holds.

Time: a run trains through :meth:`app.runs.run.Run.train`, which keeps a snapshot at the end
of every call (app/runs/timeline.py); the reference, measured in the same run, is the
trainer's own fast path (``Trainer.train``) on the same run with no snapshot. For W1
(2-8-8-1 tanh, batch 10) and W3 (64-30-10 sigmoid, batch 10, as bench_stream's), three
figures in µs per call (medians of 9 interleaved repeats), at 10 steps a call (one frame
of a playing stream at the default speed) and their ratio:

- ``fast``: ``trainer.train(10)``, no snapshot;
- ``run``: ``run.train(10)``, a snapshot at its end;
- ``snapshot``: the snapshot alone (capture, keep, thin), the step moved on by 10 each time:
  the direct figure, steadier than the difference of the other two on a busy machine.

Memory: a 10,000-step run of each, 10 steps a call, and the kept snapshots' count and bytes
against the budget (``docs/api.md``, "Rewind"), with the kept steps' gaps (the newest all
kept, the oldest spaced widest), and for W1 with a batch of the whole training set (every
step a new epoch: the most objects per byte). The bytes are the timeline's own count at
every call (its largest), and, independently, what the kept snapshots hold as walked object
by object every 100 steps (each distinct array's buffer, every object's and the generator
states' own size, ``sys.getsizeof``): both must be within the budget.

Run: ``.venv/bin/python bench/bench_timeline.py [--seconds 3]``. About 15 s, no server.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as app.main does for the server

import argparse
import itertools
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from bench_stream import W1, interleaved_us, w3_config  # noqa: E402

from app.runs.experiment import Experiment  # noqa: E402
from app.runs.run import Run  # noqa: E402
from app.settings import Settings  # noqa: E402


def _run(config: dict[str, Any], settings: Settings) -> Run:
    return Run("bench", Experiment(**config), settings)


def timing(name: str, config: dict[str, Any], settings: Settings, seconds: float) -> None:
    run, alone = _run(config, settings), _run(config, settings)
    run.train(500)  # past the every-step start, and the timeline full
    tr = alone.state.trainer
    tr.train(500)
    # The snapshot alone, as the run takes it after each call (its step moved on by 10)
    ghost = _run(config, settings)
    ghost.train(500)
    g_tr, g_tl = ghost.state.trainer, ghost.lab.timeline

    def snapshot() -> None:
        g_tr.step += 10
        g_tl.capture(g_tr)

    us = interleaved_us(
        {"fast": lambda: tr.train(10), "run": lambda: run.train(10), "snapshot": snapshot},
        seconds,
    )
    print(
        f"{name}: fast {us['fast']:.1f} µs, run {us['run']:.1f} µs a call: "
        f"{us['run'] / us['fast']:.3f}x; the snapshot alone {us['snapshot']:.1f} µs, "
        f"{us['snapshot'] / us['fast']:.3f}x of 10 fast steps"
    )


def memory(name: str, config: dict[str, Any], settings: Settings) -> None:
    run = _run(config, settings)
    tl = run.lab.timeline
    worst_bytes = worst_count = worst_walked = 0
    for i in range(1000):
        run.train(10)
        worst_bytes, worst_count = max(worst_bytes, tl.bytes), max(worst_count, len(tl.steps))
        if i % 10 == 9:  # walked every 100 steps (a walk takes about a millisecond)
            worst_walked = max(worst_walked, held_bytes(tl))
    steps = tl.steps
    gaps = [b - a for a, b in itertools.pairwise(steps)]
    print(
        f"{name}: step {run.step}, {len(steps)} kept (at most {worst_count}, cap {tl.most}), "
        f"{worst_bytes / 1e3:.0f} kB at most of a {tl.budget / 1e3:.0f} kB budget; "
        f"gaps oldest {gaps[:4]} … newest {gaps[-4:]}"
    )
    walked = held_bytes(tl)
    print(
        f"{name}: walked: {walked / 1e3:.0f} kB held by the {len(steps)} snapshots at the end "
        f"(the timeline counts {tl.bytes / 1e3:.0f} kB), {worst_walked / 1e3:.0f} kB at most "
        f"every 100 steps; budget {tl.budget / 1e3:.0f} kB"
    )
    assert worst_count <= tl.most and worst_bytes <= tl.budget
    assert max(walked, worst_walked) <= tl.budget, (walked, worst_walked, tl.budget)
    assert steps[0] == 0 and steps[-1] == run.step


def held_bytes(tl: Any) -> int:
    """What the kept snapshots hold, walked: each distinct object once (the batch orders and
    generator states that snapshots of one epoch share are counted once), arrays with their
    buffers (``nbytes``) and headers, dicts and their values as ``sys.getsizeof`` says."""
    seen: set[int] = set()

    def size(o: Any) -> int:
        if o is None or id(o) in seen:
            return 0
        seen.add(id(o))
        n = sys.getsizeof(o)
        if isinstance(o, np.ndarray):
            return n if o.base is None else n + size(o.base)  # a view: its owner's buffer
        if isinstance(o, dict):
            n += sum(size(k) + size(v) for k, v in o.items())
        return n

    total = sys.getsizeof(tl._snaps) + sys.getsizeof(tl._steps)
    for st in tl._snaps:
        total += size(st) + size(st.theta) + size(st.velocity) + size(st.order) + size(st.rng)
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    w3, w3_settings = w3_config()
    for name, config, settings in (("W1", W1, Settings()), ("W3", w3, w3_settings)):
        timing(name, config, settings, args.seconds)
        memory(name, config, settings)
    # The most objects per byte: every step a new epoch (its own order and generator state).
    memory("W1, batch = training set", {**W1, "batch_size": 250}, Settings())


if __name__ == "__main__":
    main()
