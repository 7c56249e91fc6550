"""How many runs one server holds: make runs, each trained 2,000 steps with frames (so its
rewind snapshots, per-layer history and frame builders fill), until the memory budget
refuses one; print the count, the server's resident memory before and after, its growth per
run against the runs' estimate, and, for the digits, whether a class of 30 fits.

    python bench/bench_capacity.py [--port 8766] [--steps 2000] [--dataset default|digits|class]

``default``: the default run. ``digits``: the book's digits run (64-30-10, the preset
BOOK_DIGITS). ``class``: a class of 30 on the digits first, then default runs beside them
until the budget is full. Each run is stepped to the step before its first epoch ends (its
frame needs the builder of the epoch's short last batch), then to ``--steps`` (a frame with
the grid), as a student's stream would make them. Starts its own server on 127.0.0.1 with
the default memory budgets (per-client caps raised: every run comes from here).
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.api.mapping import experiment_of  # noqa: E402
from app.api.models import RunConfig  # noqa: E402
from app.api.presets import BOOK_DIGITS  # noqa: E402
from app.runs.budget import estimate  # noqa: E402
from app.settings import Settings  # noqa: E402

CLASS = 30


def book_digits(c: httpx.Client) -> dict[str, Any]:
    """The preset's config, through the server's own parser of the link grammar."""
    r = c.get("/api/preset", params={"hash": "#" + BOOK_DIGITS})
    r.raise_for_status()
    return dict(r.json()["hash"]["config"])


def use(c: httpx.Client, config: dict[str, Any], steps: int) -> httpx.Response:
    """Create a run and train it as a stream would (frames at the epoch's short last batch
    and at the end); the creation's response (201, or the refusal)."""
    r = c.post("/api/runs", json=config)
    if r.status_code != 201:
        return r
    info = r.json()
    rid = info["id"]
    per_epoch = math.ceil(info["n_train"] / info["config"]["batch_size"])
    first = min(per_epoch - 1, steps)
    if first:
        c.post(f"/api/runs/{rid}/step", json={"steps": first}).raise_for_status()
    if steps - first:
        c.post(f"/api/runs/{rid}/step", json={"steps": steps - first}).raise_for_status()
    c.get(f"/api/runs/{rid}/frame", params={"grid": "true"}).raise_for_status()
    return r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=8766)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--dataset", choices=["default", "digits", "class"], default="default")
    args = ap.parse_args()
    env = dict(os.environ, BPV_MAX_RUNS_PER_CLIENT="1000", BPV_CLIENT_MEMORY_MB="100000")
    exe = Path(sys.executable).with_name("backprop-viz")
    cmd = [str(exe), "--host", "127.0.0.1", "--port", str(args.port)]
    quiet = subprocess.DEVNULL
    server = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=quiet, stderr=quiet)
    url = f"http://127.0.0.1:{args.port}"

    def rss_mb() -> float:
        status = Path(f"/proc/{server.pid}/status").read_text()
        return int(status.split("VmRSS:")[1].split()[0]) / 1024

    try:
        for _ in range(200):
            try:
                httpx.get(f"{url}/healthz")
                break
            except httpx.TransportError:
                time.sleep(0.1)
        with httpx.Client(base_url=url, headers={"Origin": url}, timeout=120) as c:
            digits = book_digits(c)
            configs = {"default": {}, "digits": digits}
            settings = Settings()
            est = {
                k: estimate(experiment_of(RunConfig.model_validate(v)), settings).mb
                for k, v in configs.items()
            }
            base = rss_mb()
            made = {"default": 0, "digits": 0}
            order = [args.dataset] if args.dataset != "class" else ["digits", "default"]
            for kind in order:
                limit = CLASS if args.dataset == "class" and kind == "digits" else None
                while limit is None or made[kind] < limit:
                    r = use(c, configs[kind], args.steps)
                    if r.status_code != 201:
                        detail = r.json().get("detail")
                        print(f"{kind} run {made[kind] + 1} refused: {r.status_code} {detail}")
                        break
                    made[kind] += 1
            grown = rss_mb() - base
            n = made["default"] + made["digits"]
            booked = sum(made[k] * est[k] for k in made)
            print(
                f"memory_mb {settings.memory_mb:g}; estimates: default {est['default']:.2f} MB, "
                f"digits 64-30-10 {est['digits']:.2f} MB"
            )
            print(
                f"{made['digits']} digits and {made['default']} default runs, each trained "
                f"{args.steps} steps with frames: resident memory {base:.0f} MB at start, "
                f"{base + grown:.0f} MB with them"
            )
            print(
                f"growth {grown:.0f} MB, {grown / max(n, 1):.2f} MB a run, against "
                f"{booked:.0f} MB of estimates ({booked / max(n, 1):.2f} MB a run)"
            )
            if args.dataset != "default":
                fits = "fits" if made["digits"] >= CLASS else "does NOT fit"
                print(f"a class of {CLASS} on the book's digits {fits} the default budget")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
