"""The book's digits (issue 13, item 6): seconds from pressing play to 90 % test accuracy.

Target: a 64-30-10 network reaches >= 90 % test accuracy (on the 360 held-out digits)
within 30 s of pressing play, at the settings the page offers for the digits (the
``BOOK_DIGITS`` link of app/api/presets.py: sigmoid hidden layer, softmax + log-likelihood,
η 0.5, mini-batches of 10) and the page's default speed (the link grammar's ``speed``
default, steps per frame).

1. **Stream.** A real uvicorn (``bench/procs.py``: the CLI, pinned to core 0; this client on
   core 1). Per round: ``POST /api/runs`` with the link's config (a new seed each round),
   open the stream, send the page's speed, then ``play``; the clock starts when ``play`` is
   sent. Every frame's ``test.accuracy`` is read as the page reads it (a playing stream
   measures train/test every 3rd frame; ``metrics_step`` says at which step). Reported:
   seconds to the first frame showing >= 90 %, the step it shows, and the test accuracy
   shown at 30 s (``--seconds``), and the median over the rounds. Also the seconds from
   the ``POST`` (the page's click on the digits) to play being answered.
2. **Fast path alone** (the reference, in this process on core 0, the same seeds): the
   engine's ``trainer.train`` in chunks of 10 steps (one frame's worth at the default
   speed), test accuracy measured after each chunk by the run's own evaluator: seconds of
   training (evaluation excluded) to 90 %, and the step. The ratio stream / fast path says
   how much of the stream's time is frames, sends and pacing, not learning. The fast path
   then trains on to ``--seconds`` of training time, and its test accuracy there is reported
   beside the stream's at the same wall time.

Run: ``.venv/bin/python bench/bench_digits.py [--rounds 3] [--seconds 30] [--json out.json]``.
Loopback only; about 3.5 minutes with the defaults.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as app.main does for the server

import argparse
import asyncio
import json
import statistics
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from procs import free_port, start_server  # noqa: E402  (bench/ is on sys.path)

from app.api.mapping import experiment_of  # noqa: E402
from app.api.models import RunConfig  # noqa: E402
from app.api.presets import BOOK_DIGITS, KEYS  # noqa: E402
from app.runs.frame_pack import unpack  # noqa: E402
from app.runs.state import build  # noqa: E402
from app.settings import Settings  # noqa: E402

TARGET = 0.9
PAGE_SPEED: int = KEYS["speed"].default  # the page's default steps per frame


def pin(cpu: int) -> None:
    if (os.cpu_count() or 1) >= 2:
        os.sched_setaffinity(0, {cpu})


def get(base: str, path: str) -> Any:
    with urllib.request.urlopen(base + path, timeout=10) as r:
        return json.loads(r.read())


def post(base: str, path: str, body: Any) -> Any:
    req = urllib.request.Request(
        base + path, json.dumps(body).encode(), {"content-type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def book_config(base: str) -> dict[str, Any]:
    """The digits link as the server reads it (GET /api/preset, as the page does)."""
    link = get(base, "/api/preset?hash=" + urllib.parse.quote(BOOK_DIGITS))["hash"]
    assert link["ignored"] == [], link["ignored"]
    config: dict[str, Any] = link["config"]
    return config


def read(message: str | bytes) -> dict[str, Any]:
    """A stream message: a packed frame (binary) read back as the page reads it, or JSON."""
    if isinstance(message, bytes):
        return unpack(message)
    return orjson.loads(message)  # type: ignore[no-any-return]


async def stream_round(base: str, config: dict[str, Any], seconds: float) -> dict[str, Any]:
    import websockets

    t_click = time.perf_counter()
    run_id = post(base, "/api/runs", config)["id"]
    # packed frames, as the page asks for them (app/runs/frame_pack.py): the stream's cap on
    # bytes per second (max_stream_kb_per_s) then allows the page's frame rate, not JSON's
    url = base.replace("http", "ws") + f"/api/runs/{run_id}/stream?encoding=f32"
    out: dict[str, Any] = {"seconds_to_target": None, "step_at_target": None}
    async with websockets.connect(url, max_size=None) as ws:
        first = read(await ws.recv())
        assert first["sizes"] == [64, 30, 10] and first["grid"] is None
        await ws.send(json.dumps({"type": "speed", "steps_per_frame": PAGE_SPEED}))
        t0 = time.perf_counter()
        out["click_to_play_s"] = t0 - t_click
        await ws.send(json.dumps({"type": "play"}))
        last: dict[str, Any] = first
        frames = 0
        while time.perf_counter() - t0 < seconds:
            msg = read(await ws.recv())
            if msg.get("type") != "frame":
                continue
            frames += 1
            last = msg
            acc = msg["test"]["accuracy"]
            if out["seconds_to_target"] is None and acc is not None and acc >= TARGET:
                out["seconds_to_target"] = time.perf_counter() - t0
                out["step_at_target"] = msg["metrics_step"]
                out["accuracy_at_target"] = acc
        await ws.send(json.dumps({"type": "pause"}))
    out["accuracy_at_end"] = last["test"]["accuracy"]
    out["step_at_end"] = last["step"]
    out["fps"] = frames / seconds
    return out


def fast_round(config: dict[str, Any], seconds: float) -> dict[str, Any]:
    """The engine alone on the same config: training seconds (evaluation excluded) and
    steps to the target, test accuracy measured after every ``PAGE_SPEED`` steps; then on
    to ``seconds`` of training (measured every 1,000 steps), and the test accuracy there."""
    st = build(experiment_of(RunConfig.model_validate(config)), Settings())
    out: dict[str, Any] = {"seconds_to_target": None, "step_at_target": None}
    trained, steps, acc = 0.0, 0, None
    while trained < seconds:
        chunk = PAGE_SPEED if out["seconds_to_target"] is None else 1_000
        t = time.perf_counter()
        st.trainer.train(chunk)
        trained += time.perf_counter() - t
        steps += chunk
        acc = st.evaluator(st.cost, 0.0).test_accuracy
        if out["seconds_to_target"] is None and acc is not None and acc >= TARGET:
            out.update(seconds_to_target=trained, step_at_target=steps)
    out.update(accuracy_at_end=acc, step_at_end=steps, seconds_at_end=trained)
    return out


def median(values: list[float | None]) -> float | None:
    got = [v for v in values if v is not None]
    return statistics.median(got) if len(got) == len(values) and got else None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=30.0, help="how long each round plays")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)

    port = free_port()
    proc = start_server(port)
    base = f"http://127.0.0.1:{port}"
    streams = []
    try:
        pin(1)
        config = book_config(base)
        for i in range(args.rounds):
            r = asyncio.run(stream_round(base, {**config, "seed": i + 1}, args.seconds))
            streams.append(r)
            print(f"stream round {i + 1} (seed {i + 1}): {r}", flush=True)
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    pin(0)
    fasts = []
    for i in range(args.rounds):
        r = fast_round({**config, "seed": i + 1}, args.seconds)
        fasts.append(r)
        print(f"fast path round {i + 1} (seed {i + 1}): {r}", flush=True)

    s_sec = median([r["seconds_to_target"] for r in streams])
    f_sec = median([r["seconds_to_target"] for r in fasts])
    result = {
        "config": config,
        "speed_steps_per_frame": PAGE_SPEED,
        "stream": {
            "median_seconds_to_90": s_sec,
            "median_step_at_90": median([r["step_at_target"] for r in streams]),
            f"median_test_accuracy_at_{args.seconds:g}s": median(
                [r["accuracy_at_end"] for r in streams]
            ),
            "median_click_to_play_s": median([r["click_to_play_s"] for r in streams]),
            "median_fps": median([r["fps"] for r in streams]),
            "rounds": streams,
        },
        "fast_path": {
            "median_seconds_to_90": f_sec,
            "median_step_at_90": median([r["step_at_target"] for r in fasts]),
            f"median_test_accuracy_at_{args.seconds:g}s": median(
                [r["accuracy_at_end"] for r in fasts]
            ),
            "rounds": fasts,
        },
        "ratio_stream_to_fast": (s_sec / f_sec) if s_sec and f_sec else None,
    }
    print(
        f"\nThe book's digits, 64-30-10, speed {PAGE_SPEED} steps/frame "
        f"(target: 90 % test accuracy within {args.seconds:g} s of play)\n"
        f"  stream:    {s_sec if s_sec is None else round(s_sec, 2)} s to 90 % (median of "
        f"{args.rounds}); test accuracy at {args.seconds:g} s: "
        f"{result['stream'][f'median_test_accuracy_at_{args.seconds:g}s']}\n"
        f"  fast path: {f_sec if f_sec is None else round(f_sec, 3)} s of training to 90 %; "
        f"test accuracy after {args.seconds:g} s of training: "
        f"{result['fast_path'][f'median_test_accuracy_at_{args.seconds:g}s']}\n"
        f"  ratio stream / fast path: {result['ratio_stream_to_fast']}"
    )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
