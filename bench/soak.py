"""Classroom soak: the Docker image's exact CMD, 100 streaming students, 5 joining or
leaving every second, for 10 minutes (issue 5).

Outer process: replays the Dockerfile into a temporary folder (tests/docker/dockerfile_replay)
and re-runs itself inside a private network namespace, where the image's ``0.0.0.0:8000``
is loopback only. Inner process: starts the CMD pinned to core 0, runs the load generator
pinned to core 1, samples the server's RSS every 5 s and prints a report.

    python bench/soak.py                      # 10 minutes, 100 clients, churn 5/s
    python bench/soak.py --minutes 1 --json   # a quick look

Every run keeps what issue 13 added (its rewind snapshots within their budget, the per-layer
history and histogram snapshots): the RSS samples show whether they grow. Besides the
growth over the last 5 minutes, the report gives the growth from the first sample after the
ramp-up (every client joined, one minute in) to the end, and the RSS once everyone has left
and the idle runs are evicted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from procs import rss_mb  # bench/ is on sys.path when a script here runs

ROOT = Path(__file__).resolve().parents[1]
BASE = "http://127.0.0.1:8000"
WS = "ws://127.0.0.1:8000"


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


class Student:
    """One browser tab: creates a run, streams it, leaves (closing, or deleting the run)."""

    def __init__(self, http: object) -> None:
        self.http = http
        self.frames: list[float] = []  # receive times
        self.latencies: list[float] = []
        self.leave = asyncio.Event()
        self.full = False
        self.joined_at = time.monotonic()

    async def run(self) -> None:
        import websockets

        r = await self.http.post(f"{BASE}/api/runs", json={})  # type: ignore[attr-defined]
        if r.status_code == 429:
            self.full = True
            return
        run_id = r.json()["id"]
        async with websockets.connect(f"{WS}/api/runs/{run_id}/stream", max_size=None) as ws:
            await ws.send(json.dumps({"type": "play"}))
            while not self.leave.is_set():
                try:
                    raw = await asyncio.wait_for(ws.recv(), timeout=0.5)
                except TimeoutError:
                    continue
                now = time.time()
                msg = json.loads(raw)
                if msg.get("type") == "frame":
                    self.frames.append(time.monotonic())
                    if "t" in msg:
                        self.latencies.append(now - float(msg["t"]))
        if random.random() < 0.5:  # half the tabs are closed, half delete their run
            await self.http.delete(  # type: ignore[attr-defined]
                f"{BASE}/api/runs/{run_id}", headers={"content-type": "application/json"}
            )


async def run_count(http: object) -> int | None:
    try:
        r = await http.get(f"{BASE}/api/stats")  # type: ignore[attr-defined]
        return int(r.json()["runs"]) if r.status_code == 200 else None
    except Exception:
        return None


async def memory_per_run(http: object, pid: int, n: int = 100) -> dict[str, float]:
    """RSS growth per idle run and per streaming run, measured on n runs."""
    import websockets

    base = rss_mb(pid)
    ids = []
    for _ in range(n):
        r = await http.post(f"{BASE}/api/runs", json={})  # type: ignore[attr-defined]
        ids.append(r.json()["id"])
    await asyncio.sleep(2)
    idle = rss_mb(pid)
    sockets = [await websockets.connect(f"{WS}/api/runs/{i}/stream", max_size=None) for i in ids]
    for ws in sockets:
        await ws.send(json.dumps({"type": "play"}))

    async def drain(ws: object) -> None:
        with contextlib.suppress(Exception):
            while True:
                await ws.recv()  # type: ignore[attr-defined]

    drains = [asyncio.create_task(drain(ws)) for ws in sockets]
    await asyncio.sleep(10)
    streaming = rss_mb(pid)
    for ws in sockets:
        await ws.close()
    for t in drains:
        t.cancel()
    for i in ids:
        await http.delete(  # type: ignore[attr-defined]
            f"{BASE}/api/runs/{i}", headers={"content-type": "application/json"}
        )
    return {
        "rss_base_mb": base,
        "rss_per_idle_run_kb": (idle - base) * 1024 / n,
        "rss_per_streaming_run_kb": (streaming - base) * 1024 / n,
    }


async def soak(pid: int, minutes: float, clients: int, churn: int) -> dict[str, object]:
    import httpx

    limits = httpx.Limits(max_connections=50)
    async with httpx.AsyncClient(timeout=10, limits=limits) as http:
        report: dict[str, object] = {"memory": await memory_per_run(http, pid)}
        students: list[Student] = []
        tasks: dict[Student, asyncio.Task[None]] = {}
        finished: list[Student] = []

        def join() -> None:
            s = Student(http)
            students.append(s)
            tasks[s] = asyncio.create_task(s.run())

        def leave() -> None:
            s = students.pop(random.randrange(len(students)))
            s.leave.set()
            finished.append(s)

        t0 = time.monotonic()
        samples: list[dict[str, float | int | None]] = []
        next_sample = t0
        end = t0 + minutes * 60
        second = 0
        while time.monotonic() < end:
            if len(students) < clients:  # ramp-up: 5 students a second
                for _ in range(min(churn, clients - len(students))):
                    join()
            else:  # churn: 5 events a second, alternating joins and leaves
                for k in range(churn):
                    (leave if (second + k) % 2 == 0 else join)()
            second += 1
            now = time.monotonic()
            if now >= next_sample:
                window = [s for s in students if s.frames and now - s.joined_at > 10]
                fps = [sum(1 for f in s.frames if f > now - 5) / 5 for s in window]
                samples.append(
                    {
                        "t": round(now - t0, 1),
                        "rss_mb": round(rss_mb(pid), 1),
                        "runs": await run_count(http),
                        "clients": len(students),
                        "fps_min": round(min(fps), 1) if fps else None,
                        "fps_median": round(statistics.median(fps), 1) if fps else None,
                    }
                )
                next_sample += 5
            await asyncio.sleep(max(0.0, t0 + second - time.monotonic()))
        now = time.monotonic()
        steady = [s for s in students if now - s.joined_at > 30]
        fps_all = [sum(1 for f in s.frames if f > now - 20) / 20 for s in steady if s.frames]
        latencies = [x for s in students + finished for x in s.latencies]
        while students:
            leave()
        await asyncio.gather(*tasks.values(), return_exceptions=True)
        full = sum(1 for s in finished if s.full)
        # Everyone has left: idle runs are evicted after BPV_IDLE_TIMEOUT_S.
        deadline = time.monotonic() + float(os.environ.get("BPV_IDLE_TIMEOUT_S", "30")) + 60
        runs_after = await run_count(http)
        while runs_after and time.monotonic() < deadline:
            await asyncio.sleep(2)
            runs_after = await run_count(http)
        await asyncio.sleep(2)
        rss_left = rss_mb(pid)
        last5 = [s["rss_mb"] for s in samples if s["t"] >= samples[-1]["t"] - 300]
        ramped = [s["rss_mb"] for s in samples if s["t"] >= 60] or [s["rss_mb"] for s in samples]
        report.update(
            {
                "minutes": minutes,
                "clients": clients,
                "churn_per_s": churn,
                "fps_min": round(min(fps_all), 1) if fps_all else None,
                "fps_median": round(statistics.median(fps_all), 1) if fps_all else None,
                "latency_p50_ms": round(percentile(latencies, 50) * 1000, 1),
                "latency_p99_ms": round(percentile(latencies, 99) * 1000, 1),
                "rss_growth_last_5min_mb": round(float(last5[-1]) - float(last5[0]), 1)
                if last5
                else None,
                "rss_growth_after_ramp_mb": round(float(ramped[-1]) - float(ramped[0]), 1),
                "rss_max_mb": max(float(s["rss_mb"]) for s in samples),
                "rss_after_everyone_left_mb": round(rss_left, 1),
                "runs_after_everyone_left": runs_after,
                "refused_full": full,
                "samples": samples,
            }
        )
        return report


def inner(spec_path: str, minutes: float, clients: int, churn: int) -> None:
    import httpx

    spec = json.loads(Path(spec_path).read_text())
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    cmd = ["taskset", "-c", "0", *spec["cmd"]] if shutil.which("taskset") else spec["cmd"]
    log = open(spec["log"], "wb")  # noqa: SIM115 (kept open for the server's lifetime)
    server = subprocess.Popen(cmd, cwd=spec["cwd"], env=spec["env"], stdout=log, stderr=log)
    with contextlib.suppress(OSError):
        os.sched_setaffinity(0, {1})
    try:
        for _ in range(300):
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{BASE}/healthz", timeout=1).status_code == 200:
                    break
            time.sleep(0.1)
        report = asyncio.run(soak(server.pid, minutes, clients, churn))
    finally:
        server.send_signal(signal.SIGTERM)
        report_exit = server.wait(timeout=20)
        log.close()
    report["server_exit_code"] = report_exit
    print(json.dumps(report))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--clients", type=int, default=100)
    ap.add_argument("--churn", type=int, default=5)
    ap.add_argument("--idle-timeout", type=float, default=30.0)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--inner", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.inner:
        inner(args.inner, args.minutes, args.clients, args.churn)
        return
    sys.path.insert(0, str(ROOT))
    from tests.docker import dockerfile_replay as replay

    with tempfile.TemporaryDirectory() as tmp:
        print("replaying the Dockerfile ...", file=sys.stderr)
        image = replay.replay(ROOT / "Dockerfile", ROOT, Path(tmp) / "image")
        # One address plays the whole class: lift the per-client run and memory caps for it.
        env = {
            **image.env,
            "BPV_IDLE_TIMEOUT_S": str(args.idle_timeout),
            "BPV_MAX_RUNS_PER_CLIENT": "1000",
            "BPV_CLIENT_MEMORY_MB": "100000",
        }
        spec = {
            "cmd": image.cmd,
            "cwd": str(image.workdir),
            "env": env,
            "log": str(Path(tmp) / "server.log"),
        }
        spec_path = Path(tmp) / "spec.json"
        spec_path.write_text(json.dumps(spec))
        print(f"soaking {args.minutes} min with {args.clients} clients ...", file=sys.stderr)
        out = subprocess.run(
            [
                "unshare",
                "--net",
                "--map-root-user",
                sys.executable,
                __file__,
                "--inner",
                str(spec_path),
                "--minutes",
                str(args.minutes),
                "--clients",
                str(args.clients),
                "--churn",
                str(args.churn),
            ],
            capture_output=True,
            text=True,
            env={**os.environ, "BPV_IDLE_TIMEOUT_S": str(args.idle_timeout)},
        )
        if out.returncode != 0:
            sys.exit(out.stderr[-4000:] + Path(spec["log"]).read_text()[-3000:])
        report = json.loads(out.stdout.strip().splitlines()[-1])
    if args.json:
        print(json.dumps(report, indent=1))
        return
    m = report["memory"]
    print(
        f"RSS per idle run {m['rss_per_idle_run_kb']:.0f} KiB, "
        f"per streaming run {m['rss_per_streaming_run_kb']:.0f} KiB"
    )
    for key in (
        "clients",
        "churn_per_s",
        "fps_min",
        "fps_median",
        "latency_p50_ms",
        "latency_p99_ms",
        "rss_max_mb",
        "rss_growth_last_5min_mb",
        "rss_growth_after_ramp_mb",
        "rss_after_everyone_left_mb",
        "runs_after_everyone_left",
        "refused_full",
        "server_exit_code",
    ):
        print(f"{key:28s} {report[key]}")
    print("t(s)   rss(MB) runs clients fps_min fps_med")
    for s in report["samples"]:
        print(
            f"{s['t']:6.0f} {s['rss_mb']:7.1f} {s['runs']!s:>4} {s['clients']:7d} "
            f"{s['fps_min']!s:>7} {s['fps_median']!s:>7}"
        )


if __name__ == "__main__":
    main()
