"""What a feedback rule costs: SGD steps and frames under each rule, as ratios to the
transpose (backprop) measured in the same run.

    python bench/bench_feedback.py          # a table
    python bench/bench_feedback.py --json   # {"W1": {"inverse": {"train": 1.9, ...}, ...}}

Workloads: W1 2-8-8-1 tanh (the page's size), W3 64-30-10 sigmoid (the largest default
caps allow in width), batch 10, quadratic cost. Repeats are interleaved (transpose,
inverse, random, transpose, ...) so that a noisy neighbour hits all of them alike; each
figure is the median over the repeats.

- train: ``Trainer.train`` (the engine's fast path), microseconds per step. The inverse adds
  one ``np.linalg.pinv`` (an SVD) per layer l = 3..L per step; random nothing (a fixed
  matrix in place of the transpose's view).
- frame: ``FrameBuilder.fill`` on a fresh θ (no cache hit), microseconds per frame. A rule
  other than the transpose adds backprop's own pass for the true δ and gradient, and the
  alignment.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as app.main does for the server

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.core import feedback as fb
from app.core.costs import get_cost
from app.core.network import Network
from app.core.training import Hyper, Trainer
from app.runs.frames import FrameBuilder

WORKLOADS = {"W1": ([2, 8, 8, 1], "tanh", 500), "W3": ([64, 30, 10], "sigmoid", 1797)}
STEPS, FRAMES, REPEATS = 1000, 200, 7


def _setup(sizes: list[int], act: str, n: int, rule: str) -> tuple[Trainer, FrameBuilder]:
    rng = np.random.default_rng(0)
    net = Network.create(sizes, [act] * (len(sizes) - 1), "xavier", rng)
    x = rng.normal(size=(n, sizes[0]))
    y = rng.uniform(size=(n, sizes[-1]))
    feedback = fb.make(rule, sizes, 1)
    tr = Trainer(net, "quadratic", x, y, Hyper(0.01, 10), rng, feedback)
    builder = FrameBuilder(net, get_cost("quadratic", act), 10, 2, feedback)
    return tr, builder


def _time_train(tr: Trainer) -> float:
    t0 = time.perf_counter()
    tr.train(STEPS)
    return (time.perf_counter() - t0) / STEPS * 1e6


def _time_frames(tr: Trainer, builder: FrameBuilder) -> float:
    bx, by = (v.copy() for v in tr.next_batch())
    probe = (np.zeros(2), tr.x[0].copy(), tr.y[0].copy())
    theta = tr.theta.copy()
    t0 = time.perf_counter()
    for i in range(FRAMES):
        theta[0] = i * 1e-9  # a new θ each time: no cached frame
        builder.fill(theta, probe, (bx, by), "none", 0.0, len(tr.x), 0.0)
    return (time.perf_counter() - t0) / FRAMES * 1e6


def measure() -> dict[str, dict[str, dict[str, float]]]:
    out: dict[str, dict[str, dict[str, float]]] = {}
    for name, (sizes, act, n) in WORKLOADS.items():
        setups = {rule: _setup(sizes, act, n, rule) for rule in fb.NAMES}
        times: dict[str, dict[str, list[float]]] = {r: {"train": [], "frame": []} for r in setups}
        for _ in range(REPEATS):
            for rule, (tr, builder) in setups.items():
                times[rule]["train"].append(_time_train(tr))
                times[rule]["frame"].append(_time_frames(tr, builder))
        med = {r: {k: statistics.median(v) for k, v in t.items()} for r, t in times.items()}
        base = med[fb.DEFAULT]
        out[name] = {
            r: {
                "train_us": round(m["train"], 1),
                "frame_us": round(m["frame"], 1),
                "train": round(m["train"] / base["train"], 2),
                "frame": round(m["frame"] / base["frame"], 2),
            }
            for r, m in med.items()
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = measure()
    if args.json:
        print(json.dumps(result))
        return
    print(f"{'':4} {'rule':10} {'µs/step':>9} {'x':>6} {'µs/frame':>9} {'x':>6}")
    for name, rules in result.items():
        for rule, m in rules.items():
            print(
                f"{name:4} {rule:10} {m['train_us']:9.1f} {m['train']:6.2f} "
                f"{m['frame_us']:9.1f} {m['frame']:6.2f}"
            )


if __name__ == "__main__":
    main()
