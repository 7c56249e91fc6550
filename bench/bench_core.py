"""Microseconds per SGD step of the core, against NumPy references written here.

Run by ``make bench`` (never by the tests)::

    python bench/bench_core.py          # a table
    python bench/bench_core.py --json   # {"W1": {"fast_us": .., "instrumented_us": .., ...}}
    python bench/bench_core.py --clock cpu  # this thread's CPU time, not wall time

Workloads (issue 2):

- W1: 2-8-8-1 tanh, quadratic, batch 10, 500 circle points
- W2: 2-8-8-8-8-1, the same
- W3: 64-30-10 sigmoid, quadratic, batch 10, 1,797 random 64-feature points, one-hot targets

Four paths are timed in the same run, repeats interleaved (fast, instrumented, tuned,
naive, fast, ...) so that a noisy neighbour or a CPU frequency change hits all of them
alike; each figure is the median over the repeats. ``--clock cpu`` times this thread's CPU
(``time.thread_time``) instead of the wall clock: on a shared machine the turns other
processes take are then not counted, and the ratios vary much less between runs.

- fast: ``Trainer.train`` (flat parameter vector, preallocated buffers, no per-example trace)
- instrumented: ``Trainer.step_instrumented`` (the fast step in its recording mode: every
  z, a, σ', δ and gradient of the batch copied out as a ``Trace``, whose per-layer lists of
  views are made when first read)
- instr.+read: the same, and every one of the trace's lists read (its views made): what a
  caller that looks at every layer pays; reported beside the target, not in it
- tuned: the step a NumPy engineer tunes by hand (issue 11's reference): preallocated
  buffers, one column per example, the bias folded into the weight matrix ``[w | b]`` (a row
  of ones under each layer's activations), ``np.dot`` with ``out=``, η/m folded into δ^L,
  all parameters in one flat vector (one update call), the data permuted once per epoch
  and sliced per batch. Targets (issue 11): fast ≤ 1.0x tuned on W3; instrumented ≤ 2.5x
  fast on W1-W3.
- naive: Nielsen's ``update_mini_batch`` vectorised over the batch, allocating freely,
  the yardstick an engineer would write first
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as app.main does for the server

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


# -- the tuned reference: what a NumPy engineer writes by hand for one fixed network -------
def _tuned(w: Workload) -> tuple[Callable[[int], None], Array]:
    """SGD steps for ``w`` (tanh or sigmoid, quadratic cost, batch 10), written without the
    app's code: every buffer made once, the step a straight list of NumPy calls. Returns
    ``run(steps)`` and the flat parameters θ it trains."""
    rng = np.random.default_rng(1)
    net = Network.create(w.sizes, [w.activation] * (len(w.sizes) - 1), "xavier", rng)
    sizes, m, n = w.sizes, 10, len(w.x)
    last = len(sizes) - 2
    theta = np.empty(sum(k * (j + 1) for k, j in zip(sizes[1:], sizes[:-1], strict=True)))
    grad = np.empty_like(theta)
    W, G, offset = [], [], 0  # [w^l | b^l] and η·[∂C/∂w^l | ∂C/∂b^l], views into θ and grad
    for i, (k, j) in enumerate(zip(sizes[1:], sizes[:-1], strict=True)):
        W.append(theta[offset : offset + k * (j + 1)].reshape(k, j + 1))
        G.append(grad[offset : offset + k * (j + 1)].reshape(k, j + 1))
        W[i][:, :-1], W[i][:, -1] = net.weights[i], net.biases[i]
        offset += k * (j + 1)
    W_T = [wa[:, :-1].T for wa in W]  # (w^l)^T for BP2, views
    x_all = np.vstack([w.x.T, np.ones((1, n))])  # [x; 1], one column per example
    y_all = np.ascontiguousarray(w.y.T)
    A = [np.ones((k + 1, m)) for k in sizes[1:-1]]  # [a^l; 1] of the hidden layers
    a_h = [blk[:-1] for blk in A]
    a_L = np.empty((sizes[-1], m))
    outs = [*a_h, a_L]
    P = [np.empty((k, m)) for k in sizes[1:]]  # σ'(z^l)
    D = [np.empty((k, m)) for k in sizes[1:]]  # δ^l
    scale = np.array(LEARNING_RATE / m)
    one, half = np.array(1.0), np.array(0.5)
    mul, add, sub, dot, tanh = np.multiply, np.add, np.subtract, np.dot, np.tanh

    def sigma(a: Array, p: Array) -> None:
        """a ← σ(z) in place (z was written into a), p ← σ'(z) from a."""
        if w.activation == "tanh":
            tanh(a, a)
            mul(a, a, p)
            sub(one, p, p)
        else:  # ½(1 + tanh(z/2)), then a(1 − a)
            mul(a, half, a)
            tanh(a, a)
            add(a, one, a)
            mul(a, half, a)
            sub(one, a, p)
            mul(p, a, p)

    def step(x: Array, y: Array) -> None:
        below = x
        for i in range(last + 1):  # forward: z^l = [w^l | b^l] [a^{l-1}; 1]
            dot(W[i], below, outs[i])
            sigma(outs[i], P[i])
            below = A[i] if i < last else below
        d = D[last]
        sub(a_L, y, d)  # BP1 with η/m folded in: δ^L = (a^L − y) ⊙ σ'(z^L) · η/m
        mul(d, P[last], d)
        mul(d, scale, d)
        for i in range(last, 0, -1):
            dot(d, A[i - 1].T, G[i])  # BP3 + BP4: δ^l [a^{l-1}; 1]^T
            dot(W_T[i], d, D[i - 1])  # BP2
            d = D[i - 1]
            mul(d, P[i - 1], d)
        dot(d, x.T, G[0])
        sub(theta, grad, theta)

    x_perm, y_perm, cursor = x_all, y_all, n

    def run(steps: int) -> None:
        nonlocal x_perm, y_perm, cursor
        done = 0
        while done < steps:
            if cursor >= n:  # a new epoch: reshuffle once
                perm = rng.permutation(n)
                x_perm, y_perm, cursor = x_all[:, perm], y_all[:, perm], 0
            end = cursor + m
            if end > n:  # the epoch's short last batch: skipped (the buffers are for m)
                cursor = n
                continue
            step(x_perm[:, cursor:end], y_perm[:, cursor:end])
            cursor = end
            done += 1

    return run, theta


def check_tuned(steps: int = 150) -> None:
    """The tuned reference does the fast path's work: from the same start, on the same
    batches (within the first epoch), it ends at the same parameters."""
    for w in workloads():
        fast = _trainer(w)
        run, theta = _tuned(w)
        fast.train(steps)
        run(steps)
        diff = float(np.abs(fast.theta - theta).max())
        if not diff < 1e-9:
            raise RuntimeError(
                f"{w.name}: the tuned reference differs from the fast path by {diff}"
            )


# -- the naive yardstick: Nielsen's network.py, vectorised over the minibatch ---------------
def _naive(w: Workload) -> Callable[[int], None]:
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


CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.thread_time}


def _time_us(run: Callable[[int], object], steps: int, clock: Callable[[], float]) -> float:
    t0 = clock()
    run(steps)
    return (clock() - t0) / steps * 1e6


def measure(
    w: Workload, repeats: int = REPEATS, clock: Callable[[], float] = time.perf_counter
) -> tuple[dict[str, float], float]:
    """Medians of ``fast_us``, ``instrumented_us``, ``instrumented_read_us``, ``tuned_us``,
    ``naive_us``; and the fast path's best repeat."""
    fast, instr, instr_read = _trainer(w), _trainer(w), _trainer(w)

    def instrumented(steps: int) -> None:
        for _ in range(steps):
            instr.step_instrumented()

    def instrumented_read(steps: int) -> None:
        for _ in range(steps):
            t = instr_read.step_instrumented()
            _ = t.z, t.a, t.delta, t.sigma_prime, t.grad_w, t.grad_b

    paths: dict[str, Callable[[int], object]] = {
        "fast_us": fast.train,
        "instrumented_us": instrumented,
        "instrumented_read_us": instrumented_read,
        "tuned_us": _tuned(w)[0],
        "naive_us": _naive(w),
    }
    steps = STEPS[w.name]
    for run in paths.values():  # warm up caches, buffers and the allocator
        run(steps // 10)
    samples: dict[str, list[float]] = {key: [] for key in paths}
    for _ in range(repeats):
        for key, run in paths.items():
            samples[key].append(_time_us(run, steps, clock))
    if fast.status != "ok" or {instr.status, instr_read.status} != {"ok"}:
        raise RuntimeError(f"{w.name} diverged during the benchmark")
    medians = {key: round(statistics.median(v), 2) for key, v in samples.items()}
    pairs = {
        "fast_per_tuned": ("fast_us", "tuned_us"),
        "instrumented_per_fast": ("instrumented_us", "fast_us"),
        "instrumented_read_per_fast": ("instrumented_read_us", "fast_us"),
    }
    for name, (num, den) in pairs.items():
        ratios = [a / b for a, b in zip(samples[num], samples[den], strict=True)]
        medians[name] = round(statistics.median(ratios), 3)
    return medians, min(samples["fast_us"])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--repeats", type=int, default=REPEATS)
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="wall")
    args = parser.parse_args(argv)
    check_tuned()
    clock = CLOCKS[args.clock]
    measured = {w.name: measure(w, args.repeats, clock) for w in workloads()}
    if args.json:
        print(json.dumps({name: medians for name, (medians, _) in measured.items()}))
        return
    print(
        f"{'':4} {'fast µs':>8} {'instr. µs':>10} {'tuned µs':>9} {'naive µs':>9} "
        f"{'fast/tuned':>11} {'instr/fast':>11} {'+read/fast':>11} {'fast best µs':>13}"
    )
    for name, (r, best) in measured.items():
        print(
            f"{name:4} {r['fast_us']:8.1f} {r['instrumented_us']:10.1f} {r['tuned_us']:9.1f} "
            f"{r['naive_us']:9.1f} {r['fast_per_tuned']:11.2f} {r['instrumented_per_fast']:11.2f} "
            f"{r['instrumented_read_per_fast']:11.2f} {best:13.1f}"
        )
    print(
        f"{args.clock} clock; medians of {args.repeats} interleaved repeats; the ratios are "
        "medians of each "
        "repeat's own ratio; 'fast best' is the quickest repeat; '+read' is the instrumented "
        "step with every list of its trace read (its views made).\n"
        "Targets (issue 11): fast/tuned <= 1.0 on W3; instr/fast <= 2.5 on W1-W3."
    )


if __name__ == "__main__":
    main()
