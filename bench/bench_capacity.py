"""How many default runs one server holds: make default runs, each trained 2,000 steps (so
its rewind snapshots and per-layer history fill), until the memory budget refuses one; print
the count and the server's resident memory before and after.

    python bench/bench_capacity.py [--port 8766] [--steps 2000]

Starts its own server on 127.0.0.1 (per-client caps raised: every run comes from here).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=8766)
    ap.add_argument("--steps", type=int, default=2000)
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
        with httpx.Client(base_url=url, headers={"Origin": url}, timeout=60) as c:
            base, made = rss_mb(), 0
            while True:
                r = c.post("/api/runs", json={})
                if r.status_code != 201:
                    print(f"run {made + 1} refused: {r.status_code} {r.json().get('detail')}")
                    break
                made += 1
                s = c.post(f"/api/runs/{r.json()['id']}/step", json={"steps": args.steps})
                s.raise_for_status()
            print(f"{made} default runs trained {args.steps} steps each: resident memory")
            print(f"{base:.0f} MB at start, {rss_mb():.0f} MB with them")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
