"""Many students (issue 3): N concurrent streaming runs against one uvicorn process.

The server runs pinned to core 0 (``taskset -c 0``), this load generator pinned to core 1.
For each N (30, 100, 200 by default) the script creates N runs of the default experiment,
opens N WebSockets (with the server's own Origin), plays them all, warms up, then measures:

- frames/s per client (min, median) over the window;
- frame latency p50/p99: receipt time minus the frame's server build time ``t`` (same host);
- REST p99: ``GET /api/runs/{id}`` and ``GET /api/options`` every 50 ms during the load;
- the rate the server chose (the ``fps`` field of the frames: it lowers it under load);
- training steps/s per client (median, min): what the rate and the pacer's training
  budget leave each run (the default experiment asks for 10 steps per frame);
- server RSS while streaming, and after the runs are deleted.

Targets: 30 runs at >= 20 frames/s with p99 <= 50 ms; 200 runs at >= 10 frames/s with
p99 <= 250 ms. Loopback only, bounded in time (about 15 s per N plus setup).

Run: ``.venv/bin/python bench/bench_load.py [--clients 30,100,200] [--seconds 10]``.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as app.main does for the server

import argparse
import asyncio
import json
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import websockets
from procs import free_port, rss_mb, start_server  # bench/ is on sys.path when run
from websockets.typing import Origin

WARMUP_S = 3.0


@dataclass
class Client:
    run_id: str
    times: list[float] = field(default_factory=list)  # receipt times
    latencies: list[float] = field(default_factory=list)
    steps: list[float] = field(default_factory=list)  # the run's step in each frame
    fps: float = 0.0
    errors: int = 0


def _field(data: bytes, name: bytes) -> float:
    """A top-level number of a frame, without parsing the whole frame."""
    i = data.find(b'"' + name + b'":') + len(name) + 3
    j = i
    while data[j] not in b",}":
        j += 1
    return float(data[i:j]) if data[i:j] != b"null" else float("nan")


async def stream(base: str, client: Client, stop: asyncio.Event) -> None:
    url = base.replace("http", "ws") + f"/api/runs/{client.run_id}/stream"
    async with websockets.connect(url, origin=Origin(base), max_size=None, compression=None) as ws:
        await ws.recv()
        await ws.send('{"type": "play"}')
        while not stop.is_set():
            try:
                data = await asyncio.wait_for(ws.recv(decode=False), 1.0)
            except TimeoutError:
                continue
            now = time.time()
            if not data.startswith(b'{"type":"frame"'):
                client.errors += 1
                continue
            client.times.append(now)
            client.latencies.append(now - _field(data, b"t"))
            client.steps.append(_field(data, b"step"))
            client.fps = _field(data, b"fps")


async def rest_probe(http: httpx.AsyncClient, run_id: str, stop: asyncio.Event) -> list[float]:
    out = []
    paths = [f"/api/runs/{run_id}", "/api/options"]
    i = 0
    while not stop.is_set():
        t0 = time.perf_counter()
        r = await http.get(paths[i % 2])
        out.append(time.perf_counter() - t0)
        assert r.status_code == 200, r.status_code
        i += 1
        await asyncio.sleep(0.05)
    return out


def _trained(c: Client, t0: float, t1: float) -> float:
    """Training steps per second of one client's run over the window."""
    inside = [s for t, s in zip(c.times, c.steps, strict=True) if t0 <= t < t1]
    return (inside[-1] - inside[0]) / (t1 - t0) if len(inside) > 1 else 0.0


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


async def phase(base: str, pid: int, n: int, seconds: float) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        ids = []
        for _ in range(n):
            r = await http.post("/api/runs", json={})
            r.raise_for_status()
            ids.append(r.json()["id"])
        clients = [Client(i) for i in ids]
        stop = asyncio.Event()
        tasks = [asyncio.create_task(stream(base, c, stop)) for c in clients]
        await asyncio.sleep(WARMUP_S)
        t0 = time.time()
        probe_stop = asyncio.Event()
        probe = asyncio.create_task(rest_probe(http, ids[0], probe_stop))
        await asyncio.sleep(seconds)
        t1 = time.time()
        probe_stop.set()
        rest = await probe
        rss_streaming = rss_mb(pid)
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        for run_id in ids:
            await http.delete(f"/api/runs/{run_id}", headers={"content-type": "application/json"})
        await asyncio.sleep(0.5)
        rss_after = rss_mb(pid)
    fps = [sum(t0 <= t < t1 for t in c.times) / (t1 - t0) for c in clients]
    steps_per_s = [_trained(c, t0, t1) for c in clients]
    lat = [
        latency
        for c in clients
        for t, latency in zip(c.times, c.latencies, strict=True)
        if t0 <= t < t1
    ]
    return {
        "clients": n,
        "fps_min": min(fps),
        "fps_median": statistics.median(fps),
        "server_fps": statistics.median(c.fps for c in clients),
        "steps_per_s_min": min(steps_per_s),
        "steps_per_s_median": statistics.median(steps_per_s),
        "latency_p50_ms": pct(lat, 0.5) * 1e3,
        "latency_p99_ms": pct(lat, 0.99) * 1e3,
        "rest_p99_ms": pct(rest, 0.99) * 1e3,
        "rest_requests": len(rest),
        "rss_streaming_mb": rss_streaming,
        "rss_after_delete_mb": rss_after,
        "errors": sum(c.errors for c in clients),
    }


async def main_async(counts: list[int], seconds: float) -> list[dict[str, Any]]:
    port = free_port()
    env = {
        "BPV_MAX_RUNS": str(max(counts) + 20),
        "BPV_LIMIT_CONCURRENCY": "2000",
        # One address plays the whole class here: lift the per-client caps.
        "BPV_MAX_RUNS_PER_CLIENT": str(max(counts) + 20),
        "BPV_CLIENT_MEMORY_MB": "100000",
        "BPV_MAX_WAITING_PER_CLIENT": str(2 * max(counts) + 20),  # N handshakes at once
    }
    proc = start_server(port, env)
    base = f"http://127.0.0.1:{port}"
    try:
        rss0 = rss_mb(proc.pid)
        results = []
        for n in counts:
            r = await phase(base, proc.pid, n, seconds)
            r["rss_idle_server_mb"] = rss0
            results.append(r)
            print(
                f"N={n:4d}  fps min {r['fps_min']:5.1f} median {r['fps_median']:5.1f} "
                f"(server rate {r['server_fps']:.1f})  steps/s median "
                f"{r['steps_per_s_median']:.0f} (min {r['steps_per_s_min']:.0f})  "
                f"latency p50 {r['latency_p50_ms']:6.1f} ms "
                f"p99 {r['latency_p99_ms']:6.1f} ms  REST p99 {r['rest_p99_ms']:6.1f} ms  "
                f"RSS {r['rss_streaming_mb']:.0f} MB (idle {rss0:.0f}, after delete "
                f"{r['rss_after_delete_mb']:.0f})",
                flush=True,
            )
        return results
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", default="30,100,200")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if (os.cpu_count() or 1) >= 2:
        os.sched_setaffinity(0, {1})
    counts = [int(c) for c in args.clients.split(",")]
    results = asyncio.run(main_async(counts, args.seconds))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
