"""Microseconds per SGD step of the core, against a plain vectorised NumPy yardstick.

Run by ``make bench`` (never by the tests)::

    python bench/bench_core.py          # a table
    python bench/bench_core.py --json   # {"W1": {"fast_us": .., "instrumented_us": .., ...}}

Workloads (issue 2):

- W1: 2-8-8-1 tanh, quadratic, batch 10, 500 circle points
- W2: 2-8-8-8-8-1, the same
- W3: 64-30-10 sigmoid, quadratic, batch 10, 1,797 random 64-feature points, one-hot targets

Three paths are timed in the same run, repeats interleaved (fast, instrumented, reference,
fast, ...) so that a noisy neighbour or a CPU frequency change hits all of them alike; each
figure is the median over the repeats.

- fast: ``Trainer.train`` (flat parameter vector, preallocated buffers, no per-example trace)
- instrumented: ``Trainer.step_instrumented`` (``backprop`` keeps every z, a, δ)
- reference: Nielsen's ``update_mini_batch`` vectorised over the batch, allocating freely,
  written here as the yardstick an engineer would write first
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.core.network import Network
from app.core.training import Hyper, Trainer

Array = NDArray[np.float64]

STEPS = {"W1": 1500, "W2": 1000, "W3": 1000}  # steps per timed repeat
REPEATS = 11
LEARNING_RATE = 0.03


@dataclass
class Workload:
    name: str
    sizes: list[int]
    activation: str
    x: Array
    y: Array


def _circle(rng: np.random.Generator) -> tuple[Array, Array]:
    """500 circle points, ±1 labels: Playground's set if the datasets module has it."""
    try:
        from app.core.datasets import make_dataset

        ds = make_dataset("circle", 0.0, rng)
        return ds.points, ds.labels[:, None]
    except (ImportError, ValueError):
        x = rng.uniform(-5, 5, size=(500, 2))
        return x, np.sign(2.5**2 - (x * x).sum(axis=1))[:, None]


def workloads() -> list[Workload]:
    rng = np.random.default_rng(0)
    x_c, y_c = _circle(rng)
    x_d = rng.uniform(0, 1, size=(1797, 64))
    y_d = np.eye(10)[rng.integers(0, 10, size=1797)]
    return [
        Workload("W1", [2, 8, 8, 1], "tanh", x_c, y_c),
        Workload("W2", [2, 8, 8, 8, 8, 1], "tanh", x_c, y_c),
        Workload("W3", [64, 30, 10], "sigmoid", x_d, y_d),
    ]


def _trainer(w: Workload) -> Trainer:
    rng = np.random.default_rng(1)
    net = Network.create(w.sizes, [w.activation] * (len(w.sizes) - 1), "xavier", rng)
    hyper = Hyper(learning_rate=LEARNING_RATE, batch_size=10)
    return Trainer(net, "quadratic", w.x, w.y, hyper, rng)


# -- the yardstick: Nielsen's network.py, vectorised over the minibatch ----------------------
def _reference(w: Workload) -> Callable[[int], None]:
    rng = np.random.default_rng(1)
    net = Network.create(w.sizes, [w.activation] * (len(w.sizes) - 1), "xavier", rng)
    weights = [wt.copy() for wt in net.weights]
    biases = [b.copy() for b in net.biases]
    if w.activation == "tanh":
        sigma: Callable[[Array], Array] = np.tanh

        def sigma_prime(z: Array) -> Array:
            return 1.0 - np.tanh(z) ** 2
    else:

        def sigma(z: Array) -> Array:
            return 1.0 / (1.0 + np.exp(-z))

        def sigma_prime(z: Array) -> Array:
            s = sigma(z)
            return s * (1 - s)

    n, m, eta = len(w.x), 10, LEARNING_RATE

    def update_mini_batch(x: Array, y: Array) -> None:
        activation, activations, zs = x, [x], []
        for wt, b in zip(weights, biases, strict=True):
            z = activation @ wt.T + b
            zs.append(z)
            activation = sigma(z)
            activations.append(activation)
        delta = (activations[-1] - y) * sigma_prime(zs[-1])
        nabla_w = [delta.T @ activations[-2]]
        nabla_b = [delta.sum(axis=0)]
        for layer in range(2, len(weights) + 1):
            delta = (delta @ weights[-layer + 1]) * sigma_prime(zs[-layer])
            nabla_w.insert(0, delta.T @ activations[-layer - 1])
            nabla_b.insert(0, delta.sum(axis=0))
        k = eta / len(x)
        for i in range(len(weights)):
            weights[i] = weights[i] - k * nabla_w[i]
            biases[i] = biases[i] - k * nabla_b[i]

    perm, cursor = rng.permutation(n), 0

    def run(steps: int) -> None:
        nonlocal perm, cursor
        for _ in range(steps):
            if cursor >= n:  # a new epoch: reshuffle
                perm, cursor = rng.permutation(n), 0
            idx = perm[cursor : cursor + m]
            update_mini_batch(w.x[idx], w.y[idx])
            cursor += m

    return run


def _time_us(run: Callable[[int], object], steps: int) -> float:
    t0 = time.perf_counter()
    run(steps)
    return (time.perf_counter() - t0) / steps * 1e6


def measure(w: Workload, repeats: int = REPEATS) -> tuple[dict[str, float], float]:
    """Medians of ``fast_us``, ``instrumented_us``, ``reference_us``; and the fast path's best."""
    fast, instr = _trainer(w), _trainer(w)
    reference = _reference(w)

    def instrumented(steps: int) -> None:
        for _ in range(steps):
            instr.step_instrumented()

    paths: dict[str, Callable[[int], object]] = {
        "fast_us": fast.train,
        "instrumented_us": instrumented,
        "reference_us": reference,
    }
    steps = STEPS[w.name]
    for run in paths.values():  # warm up caches, buffers and the allocator
        run(steps // 10)
    samples: dict[str, list[float]] = {key: [] for key in paths}
    for _ in range(repeats):
        for key, run in paths.items():
            samples[key].append(_time_us(run, steps))
    if fast.status != "ok" or instr.status != "ok":
        raise RuntimeError(f"{w.name} diverged during the benchmark")
    medians = {key: round(statistics.median(v), 2) for key, v in samples.items()}
    return medians, min(samples["fast_us"])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--repeats", type=int, default=REPEATS)
    args = parser.parse_args(argv)
    measured = {w.name: measure(w, args.repeats) for w in workloads()}
    if args.json:
        print(json.dumps({name: medians for name, (medians, _) in measured.items()}))
        return
    print(
        f"{'':4} {'fast µs':>9} {'instr. µs':>10} {'ref. µs':>9} {'fast/ref':>9} "
        f"{'instr/fast':>11} {'fast best µs':>13}"
    )
    for name, (r, best) in measured.items():
        f, i, ref = r["fast_us"], r["instrumented_us"], r["reference_us"]
        print(f"{name:4} {f:9.1f} {i:10.1f} {ref:9.1f} {f / ref:9.2f} {i / f:11.2f} {best:13.1f}")
    print(f"medians of {args.repeats} interleaved repeats; 'fast best' is the quickest repeat")


if __name__ == "__main__":
    main()
