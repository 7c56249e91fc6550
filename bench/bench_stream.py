"""Streaming benchmarks (issue 3): frame cost, and the overhead of streaming on training.

1. Frame cost: µs to build and encode one frame for W1 (2-8-8-1 tanh) and W3 (64-30-10
   sigmoid, quadratic), as multiples of one fast-path step of the same network, measured
   in the same process right after a real training step (so nothing cached can be
   reused), the step's and the frames' repeats interleaved (medians of 9). A frame's cost
   is the time of (training call, frame) minus the time of the same training call alone
   (``train(1)``, timed as its own interleaved function: its fixed cost, about a step, is
   the trainer's, not the frame's); it is reported in fast steps (``train(20) / 20``).
   Target: a W1 frame, streamed, costs at most 5 W1 steps. Four numbers per network:
   ``full``, a frame with fresh train/test metrics (a forward pass over every point: what
   REST and every 3rd streamed frame build); ``between``, the streamed frames in between
   (they repeat the last metrics); ``grid``, a full frame with the decision-boundary grid
   (every ``grid_every``-th streamed frame, 10 by default); and ``stream``, the mean over
   a playing stream's frames: a whole cycle of ``grid_every`` frames timed as the stream
   builds them (step, frame; the grid on the last, fresh metrics on every
   ``METRICS_EVERY``-th and on the grid frame), minus its training calls: ``stream`` packed
   as the page asks for them (``?encoding=f32``, app/runs/frame_pack.py), ``stream json``
   as JSON text (a script's default). ``encode floor`` is
   orjson alone writing as many float32 numbers as the frame carries, as one flat array:
   a lower bound no JSON frame builder can beat; ``layers enc`` is orjson writing the
   frame's ``layers`` alone (the same numbers in the documented shape), part of every
   frame's cost; ``builder`` is the frame builder alone (the engine's update-free recording
   of the probe and batch, the send buffer's gather and rounding, and ``layers`` encoded),
   the part of ``between`` that app/runs/frames.py and its frame_arena, frame_send and
   frame_template own. ``work floor`` (:func:`work_floor`): the NumPy work of what a
   playing stream's frames show, each part timed alone and weighted by how often the
   stream does it (recording and send plan every frame; metrics and the saturation count
   on the frames with fresh metrics; grid and histograms on the grid frame), with nothing
   around it: what a frame would cost if all its Python were free.
2. Streaming overhead: one client streams W2 (2-8-8-8-8-1), packed frames as the page asks
   for them, from a real uvicorn process at
   "max" speed (``steps_per_frame`` = 100,000: the server trains for the frame interval,
   then sends the frame, at 30 frames/s) with the server's defaults. The training steps/s
   achieved is compared with the core's fast path in the same server process (REST
   requests of 20,000 steps) measured just before and after each of 3 rounds; the median
   round is reported. Target: >= 0.8.

Run: ``.venv/bin/python bench/bench_stream.py [--json out.json] [--seconds 9] [--clock cpu]``.
Loopback only; about 40 s.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as app.main does for the server

import argparse
import asyncio
import json
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from procs import free_port, start_server  # noqa: E402  (bench/ is on sys.path)

from app.runs.experiment import Experiment  # noqa: E402
from app.runs.frame_pack import unpack  # noqa: E402
from app.runs.pacer import MAX_STEPS_PER_FRAME  # noqa: E402
from app.runs.run import Run  # noqa: E402
from app.settings import Settings  # noqa: E402

try:  # the playing stream's loop (moving from app.runs.stream to app.runs.player)
    from app.runs.player import METRICS_EVERY
except ImportError:
    from app.runs.stream import METRICS_EVERY

W1 = {"hidden": [8, 8], "batch_size": 10}
W2 = {"hidden": [8, 8, 8, 8], "batch_size": 10}


def w3_config() -> tuple[dict[str, Any], Settings]:
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, size=(1797, 64))
    labels = rng.integers(0, 10, size=1797)
    rows = [",".join(f"{v:.4f}" for v in row) + f",{c}" for row, c in zip(x, labels, strict=True)]
    config = {
        "dataset": "csv",
        "csv": "\n".join(rows),
        "hidden": [30],
        "hidden_activation": "sigmoid",
        "output_activation": "sigmoid",
        "cost": "quadratic",
        "batch_size": 10,
        "train_share": 0.9,
    }
    return config, replace(Settings(), max_width=30, max_body_bytes=10_000_000)


def interleaved_us(
    fns: dict[str, Any],
    seconds: float = 3.0,
    repeats: int = 9,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, float]:
    """Median µs per call of each function, their repeats interleaved (A B C A B C ...), so
    that a drift in the machine's speed affects them alike. ``clock``: wall time, or e.g.
    ``time.thread_time`` (this thread's CPU: other processes' turns are not counted)."""
    counts = {}
    for name, fn in fns.items():
        fn()
        n, t0 = 0, clock()
        while clock() - t0 < seconds / (repeats * len(fns)):
            fn()
            n += 1
        counts[name] = max(n, 1)
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            n = counts[name]
            t0 = clock()
            for _ in range(n):
                fn()
            samples[name].append((clock() - t0) / n * 1e6)
    return {name: float(np.median(v)) for name, v in samples.items()}


def per_call_us(
    fn: Any, seconds: float = 1.0, clock: Callable[[], float] = time.perf_counter
) -> float:
    """Median µs per call over 5 repeats."""
    return interleaved_us({"fn": fn}, seconds, repeats=5, clock=clock)["fn"]


def frame_cost(
    name: str,
    changes: dict[str, Any],
    settings: Settings,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, Any]:
    """A frame as a playing stream builds it: one training step, then the frame, so nothing
    the frame builder caches can be reused; the step's own time is subtracted."""
    run = Run(name, Experiment(**changes), settings)
    run.train(500)
    tr = run.state.trainer
    every = settings.grid_every

    def step_then(**kw: bool) -> Any:
        def go() -> None:
            tr.train(1)
            run.frame(**kw)

        return go

    def steps() -> None:
        tr.train(20)

    def one_step() -> None:
        tr.train(1)

    def cycle_steps() -> None:
        """The training calls of :func:`stream_cycle`, without its frames."""
        for _ in range(every):
            tr.train(1)

    def step_then_builder() -> None:
        """The frame builder alone: the engine's recording, the send buffer, ``layers``."""
        tr.train(1)
        st, h, p = run.state, tr.hyper, run.probe
        bx, by = tr.next_batch()
        builder = st.builder(len(bx))
        probe = (st.dataset.points[st.train_idx[p]], st.x[p], st.y[p])
        builder.fill(tr.theta, probe, (bx, by), h.regulariser, h.lmbda, st.n_train, 0.0)
        _ = builder.layers

    def stream_cycle(packed: bool) -> Callable[[], None]:
        """``grid_every`` frames as a playing stream builds them (app/runs/player.py): a
        playing run's frames send the layer histograms with the grid only, and the first
        step after the grid frame is the predicted one (docs/frames.md). ``packed``: the
        frames the page asks for (``?encoding=f32``), else JSON (a script's default)."""

        def go() -> None:
            run.playing = True
            for k in range(1, every + 1):
                if k == 1:
                    run.train(1)
                else:
                    tr.train(1)
                grid = k >= every
                run.frame(grid=grid, metrics=grid or k % METRICS_EVERY == 0, packed=packed)
            run.playing = False

        return go

    t = interleaved_us(
        {
            "step": steps,
            "step1": one_step,
            "cycle_steps": cycle_steps,
            "full": step_then(metrics=True),
            "between": step_then(metrics=False),
            "builder": step_then_builder,
            "grid": step_then(grid=True),
            "stream": stream_cycle(True),
            "stream_json": stream_cycle(False),
        },
        clock=clock,
    )
    step, step1 = t["step"] / 20, t["step1"]
    full, between, grid = t["full"] - step1, t["between"] - step1, t["grid"] - step1
    only_builder = t["builder"] - step1
    stream = (t["stream"] - t["cycle_steps"]) / every
    stream_json = (t["stream_json"] - t["cycle_steps"]) / every
    frame = run.frame()
    numbers = np.asarray(_floats(orjson.loads(frame)), np.float32)
    floor = per_call_us(
        lambda: orjson.dumps(numbers, option=orjson.OPT_SERIALIZE_NUMPY), clock=clock
    )
    template = run.state.builder(run.state.trainer.hyper.batch_size).template

    def encode_layers_again() -> None:
        template.invalidate()  # the encoded layers are stale: encoded again
        _ = template.layers

    encode_layers = per_call_us(encode_layers_again, clock=clock)
    work = work_floor(run, clock)
    return {
        "step_us": step,
        "train1_us": step1,
        "full_us": full,
        "between_us": between,
        "builder_us": only_builder,
        "builder_steps": only_builder / step,
        "stream_us": stream,
        "stream_steps": stream / step,
        "stream_json_us": stream_json,
        "stream_json_steps": stream_json / step,
        "full_steps": full / step,
        "grid_us": grid,
        "grid_steps": grid / step,
        "encode_floor_us": floor,
        "encode_layers_us": encode_layers,
        "encode_layers_steps": encode_layers / step,
        "encode_floor_steps": floor / step,
        "repeat_frame_us": per_call_us(run.frame, clock=clock),  # nothing changed: cached
        "floor_us": work["floor_us"],
        "floor_steps": work["floor_us"] / work["step_us"],
        "floor_parts_steps": {
            k: v / work["step_us"] for k, v in work.items() if k not in ("floor_us", "step_us")
        },
        "frame_bytes": float(len(frame)),
        "packed_bytes": float(len(run.frame(packed=True))),
        "grid_bytes": float(len(run.frame(grid=True))),
        "packed_grid_bytes": float(len(run.frame(grid=True, packed=True))),
    }


def work_floor(run: Run, clock: Callable[[], float]) -> dict[str, float]:
    """The NumPy work of what a playing stream's frames show, each part timed alone (no
    frame document, no Python around it), weighted by how often the stream does it: every
    frame the engine's recording of the probe and batch and the send plan (gather,
    products, norms, rounding); on the frames with fresh metrics the pass over every point
    (train and test cost and accuracy) and the saturation count on it; on the grid frame
    the decision-boundary grid (its forward pass and rounding) and the layer histograms.
    ``floor_us``: their weighted sum per frame, a lower bound on a frame's cost that only
    showing less, or less often, or compiled kernels would lower; ``step_us``: the fast step
    timed among them (``train(20) / 20``), their unit."""
    from app.core import saturation
    from app.runs import layer_stats

    st, tr = run.state, run.state.trainer
    every = run.settings.grid_every
    fresh = sum(1 for k in range(1, every + 1) if k >= every or k % METRICS_EVERY == 0)
    b = st.builder(tr.hyper.batch_size)
    ev, net = st.evaluator, st.net
    cancels = st.cost.sigma_prime_cancels

    def metrics() -> None:
        ev._key = ev._ran = None  # measured again, as at every fresh frame
        ev(st.cost, 0.0)

    def histograms() -> None:
        b.fills += 1  # a new fill's: counted again, not the last ones again
        layer_stats.histograms(b)

    parts: dict[str, Callable[[], object]] = {
        "recording": lambda: b.step(b.x_T, b.y_T),
        "send_plan": lambda: b.plan.finish(b.buf, False),
        "metrics": metrics,
        "saturation": lambda: saturation.count(ev.forward_at_theta(), ev.y, cancels, st.n_train),
        "histograms": histograms,
    }
    if st.grid is not None:
        grid = st.grid
        parts["grid"] = lambda: grid.compute(net)
    parts["steps"] = lambda: tr.train(20)  # the fast step, timed among the parts
    t = interleaved_us(parts, seconds=2.0, clock=clock)
    step = t.pop("steps") / 20
    weight = {"metrics": fresh / every, "saturation": fresh / every}
    weight.update(histograms=1 / every, grid=1 / every)
    out = {name: us * weight.get(name, 1.0) for name, us in t.items()}
    out["floor_us"] = sum(out.values())
    out["step_us"] = step
    return out


def _floats(obj: Any) -> list[float]:
    """Every non-integer number of a parsed frame, in order."""
    if isinstance(obj, float):
        return [obj]
    if isinstance(obj, dict):
        obj = list(obj.values())
    if isinstance(obj, list):
        return [v for item in obj for v in _floats(item)]
    return []


def post(base: str, path: str, body: Any) -> Any:
    req = urllib.request.Request(
        base + path, json.dumps(body).encode(), {"content-type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


async def _stream(base: str, run_id: str, spf: int, seconds: float) -> tuple[int, int, float]:
    import websockets

    # packed frames, as the page asks for them (app/runs/frame_pack.py)
    url = base.replace("http", "ws") + f"/api/runs/{run_id}/stream?encoding=f32"

    def read(message: str | bytes) -> Any:
        return unpack(message) if isinstance(message, bytes) else orjson.loads(message)

    async with websockets.connect(url, max_size=None) as ws:
        read(await ws.recv())
        await ws.send(json.dumps({"type": "speed", "steps_per_frame": spf}))
        await ws.send(json.dumps({"type": "play"}))
        for _ in range(10):  # warm up
            read(await ws.recv())
        first = read(await ws.recv())
        t0, frames, last = time.monotonic(), 0, first
        while time.monotonic() - t0 < seconds:
            last = read(await ws.recv())
            frames += 1
        elapsed = time.monotonic() - t0
        return last["step"] - first["step"], frames, elapsed


def pin(cpu: int) -> None:
    """Core 0 for the server and for the core measurements, core 1 for the client."""
    if (os.cpu_count() or 1) >= 2:
        os.sched_setaffinity(0, {cpu})


def server_fast_path(base: str, run_id: str, steps: int = 20_000) -> float:
    """Steps/s of the core's fast path inside the server process: one REST request for
    ``steps`` steps (trained in ~5 ms chunks, one frame at the end). The same process as
    the stream, because the speed of small NumPy operations varies between processes."""
    t0 = time.perf_counter()
    post(base, f"/api/runs/{run_id}/step?grid=false", {"steps": steps})
    return steps / (time.perf_counter() - t0)


def stream_overhead(seconds: float, rounds: int = 3) -> dict[str, float]:
    """Rounds of: the fast path by REST, the stream at "max" speed, the fast path again.
    Each round's ratio compares the stream with the mean of the fast path just before and
    after it (the machine's speed drifts); the result is the median round."""
    port = free_port()
    proc = start_server(port)
    pin(1)
    ratios, rates, cores, fps = [], [], [], []
    try:
        base = f"http://127.0.0.1:{port}"
        run_id = post(base, "/api/runs", W2)["id"]
        server_fast_path(base, run_id)  # warm up
        before = server_fast_path(base, run_id)
        for _ in range(rounds):
            steps, frames, elapsed = asyncio.run(
                _stream(base, run_id, MAX_STEPS_PER_FRAME, seconds / rounds)
            )
            after = server_fast_path(base, run_id)
            core = (before + after) / 2
            rates.append(steps / elapsed)
            cores.append(core)
            ratios.append(steps / elapsed / core)
            fps.append(frames / elapsed)
            before = after
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    mid = int(np.argsort(ratios)[len(ratios) // 2])
    return {
        "core_steps_per_s": cores[mid],
        "stream_steps_per_s": rates[mid],
        "ratio": ratios[mid],
        "ratios": ratios,
        "fps": fps[mid],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--seconds", type=float, default=9.0, help="streaming time")
    parser.add_argument(
        "--frames-only", action="store_true", help="frame cost only (no server, about 40 s less)"
    )
    parser.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="frame costs timed by the wall clock or this thread's CPU time (time.thread_time: "
        "other processes' turns on a shared machine are not counted)",
    )
    args = parser.parse_args(argv)
    clock = time.thread_time if args.clock == "cpu" else time.perf_counter
    pin(0)
    w3, w3_settings = w3_config()
    results: dict[str, Any] = {
        "frame": {
            "W1": frame_cost("W1", W1, Settings(), clock),
            "W3": frame_cost("W3", w3, w3_settings, clock),
        },
    }
    if not args.frames_only:
        results["stream"] = stream_overhead(args.seconds)
    print("Frame cost after a training step (build + encode), µs and in fast-path steps")
    print(
        f"{'':4} {'step':>6} {'full':>7} {'between':>8} {'grid':>7} {'stream f32':>15} "
        f"{'stream json':>15} {'encode floor':>13} {'layers enc':>11} {'builder':>13} "
        f"{'repeat':>7} {'bytes json/f32 (grid json/f32)':>31}"
    )
    for name, r in results["frame"].items():
        print(
            f"{name:4} {r['step_us']:6.1f} {r['full_us']:7.1f} {r['between_us']:8.1f} "
            f"{r['grid_us']:7.1f} {r['stream_us']:7.1f} ({r['stream_steps']:5.1f}) "
            f"{r['stream_json_us']:7.1f} ({r['stream_json_steps']:5.1f}) "
            f"{r['encode_floor_us']:6.1f} ({r['encode_floor_steps']:3.1f}) "
            f"{r['encode_layers_us']:5.1f} ({r['encode_layers_steps']:3.1f}) "
            f"{r['builder_us']:6.1f} ({r['builder_steps']:4.1f}) "
            f"{r['repeat_frame_us']:7.1f} {r['frame_bytes']:7.0f}/{r['packed_bytes']:<7.0f}"
            f"({r['grid_bytes']:.0f}/{r['packed_grid_bytes']:.0f})"
        )
    t1 = [results["frame"][w]["train1_us"] for w in ("W1", "W3")]
    print(
        "'stream': the mean over a playing stream's frames, grid frames included, minus the "
        "stream's train(1) calls, packed as the page asks for them (f32) and as JSON text "
        f"(a script's default)  (W1: {t1[0]:.1f} µs, W3: {t1[1]:.1f} µs each); in steps "
        "of train(20)/20 (target: W1 <= 5 steps)"
    )
    for name, r in results["frame"].items():
        parts = ", ".join(f"{k} {v:.2f}" for k, v in r["floor_parts_steps"].items())
        print(
            f"{name} work floor: {r['floor_us']:.1f} µs = {r['floor_steps']:.1f} steps a frame "
            f"({parts}): the NumPy work of what the frames show, each part timed alone and "
            "weighted by how often a playing stream does it"
        )
    if args.frames_only:
        if args.json:
            args.json.write_text(json.dumps(results, indent=2))
        return
    s = results["stream"]
    print('\nStreaming W2 at "max" speed, one client (target: ratio >= 0.8)')
    print(
        f"{s['fps']:5.1f} frames/s: {s['stream_steps_per_s']:6.0f} steps/s vs core "
        f"{s['core_steps_per_s']:6.0f} -> ratio {s['ratio']:.2f} "
        f"(rounds: {', '.join(f'{r:.2f}' for r in s['ratios'])})"
    )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
