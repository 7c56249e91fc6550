"""Nothing long runs on the event loop: the loop's longest stall under the reported abusers.

Reported: building a CSV run took 0.6-0.9 s on the loop (a PATCH loop took every stream
to 1.2 frames/s) and ``/api/backprop`` 115 ms per call. The server here runs in this
process (uvicorn in a thread) so that a ticker coroutine on its loop can measure the
longest gap between its wake-ups; the abusers run in a separate process (their own Python,
not competing for this one's GIL) for a bounded time:

- a PATCH loop switching a run between two 64-column CSVs (each a new parse) and resets;
- a flood of the largest stateless backprop requests, two at a time.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace

import httpx
import orjson
import uvicorn

from app.main import create_app
from app.settings import Settings
from tests.abuse.conftest import ROOT, Server, free_port
from tests.abuse.students import Interleaved, beside, keeps_its_rate

ABUSE_S = 4.0
# The loop's work between two ticks; without the worker thread a CSV build alone was
# 600-900 ms and a backprop answer 115 ms. Now the longest single callback under these
# abusers is about 5 ms (a backprop answer's request and response handling: 5.5 ms at most
# in a probe timing every callback), and between two 1 ms ticks the loop did 4.8-6.9 ms at
# most (3 runs), but 10.1 ms once in a clean-clone CI run: 20 ms is the bound that has held on
# a shared, noisy machine (a stall the class would notice is ~100 ms). (Streams of the largest
# networks training at "max" speed, and REST training, run 5 ms training slices on the loop
# that measured up to 9.5 ms: README, "Long work never blocks the class".)
MAX_STALL_S = 0.02

# The abusers stand for other machines' clients: here they share the server's two cores, so
# they run at a low CPU priority (nice 10: a tenth of a normal process's share when the cores
# are contended, so the abuse still happens on a busy machine) and send bodies encoded once
# (orjson), or the test would measure the machine's cores, not the server. (A clean-clone CI
# run saw the class at 0.45 of its rate with the abusers at normal priority, re-encoding
# 300 kB of JSON per call.)
_PRELUDE = r"""
import os, sys, threading, time
os.nice(10)
import httpx, numpy as np, orjson
H = {"content-type": "application/json"}
rng = np.random.default_rng(0)
def csv(seed):
    r = np.random.default_rng(seed)
    x, t = r.integers(0, 10, size=(1500, 64)), r.integers(0, 10, size=1500)
    return "\n".join(",".join(map(str, a)) + f",{b}" for a, b in zip(x, t))
texts = [csv(1), csv(2)]
sizes = [64, 8, 8, 8, 8, 8, 8, 16]
m = 120
bp = {"sizes": sizes, "activations": ["sigmoid"] * 7, "cost": "quadratic",
      "weights": [rng.normal(size=(b, a)).tolist() for a, b in zip(sizes, sizes[1:])],
      "biases": [rng.normal(size=b).tolist() for b in sizes[1:]],
      "x": rng.normal(size=(m, 64)).tolist(), "y": rng.normal(size=(m, 16)).tolist()}
bp_body = orjson.dumps(bp)
csv_bodies = [orjson.dumps({"csv": t}) for t in texts]
"""

ABUSER = (
    _PRELUDE
    + r"""
base, seconds = sys.argv[1], float(sys.argv[2])
end = time.monotonic() + seconds
counts = {"patch": 0, "backprop": 0, "bad": 0}
def patcher():
    with httpx.Client(base_url=base, headers=H, timeout=30) as c:
        first = {"dataset": "csv", "csv": texts[0], "hidden": [8] * 6}
        rid = c.post("/api/runs", json=first).json()["id"]
        i = 0
        while time.monotonic() < end:
            i += 1
            r = c.patch(f"/api/runs/{rid}", content=csv_bodies[i % 2])
            r2 = c.post(f"/api/runs/{rid}/reset")
            counts["patch"] += 1
            if r.status_code != 200 or r2.status_code != 200:
                counts["bad"] += 1
def flooder():
    with httpx.Client(base_url=base, headers=H, timeout=30) as c:
        while time.monotonic() < end:
            r = c.post("/api/backprop", content=bp_body)
            counts["backprop"] += 1
            if r.status_code != 200:
                counts["bad"] += 1
threads = [threading.Thread(target=f) for f in (patcher, flooder, flooder)]
for t in threads: t.start()
for t in threads: t.join()
print(counts["patch"], counts["backprop"], counts["bad"])
"""
)

# The same abusers, switched on and off by lines on stdin ("on", "off"; "quit" ends them
# and prints the counts); "ready" on stdout once the CSV run is made.
TOGGLED = (
    _PRELUDE
    + r"""
base = sys.argv[1]
on, done = threading.Event(), threading.Event()
counts = {"patch": 0, "backprop": 0, "bad": 0}
c0 = httpx.Client(base_url=base, headers=H, timeout=30)
rid = c0.post("/api/runs", json={"dataset": "csv", "csv": texts[0], "hidden": [8] * 6}).json()["id"]
def turns():
    while True:
        on.wait()
        if done.is_set():
            return
        yield
def patcher():
    with httpx.Client(base_url=base, headers=H, timeout=30) as c:
        for i, _ in enumerate(turns()):
            r = c.patch(f"/api/runs/{rid}", content=csv_bodies[(i + 1) % 2])
            r2 = c.post(f"/api/runs/{rid}/reset")
            counts["patch"] += 1
            counts["bad"] += r.status_code != 200 or r2.status_code != 200
def flooder():
    with httpx.Client(base_url=base, headers=H, timeout=30) as c:
        for _ in turns():
            r = c.post("/api/backprop", content=bp_body)
            counts["backprop"] += 1
            counts["bad"] += r.status_code != 200
threads = [threading.Thread(target=f) for f in (patcher, flooder, flooder)]
for t in threads: t.start()
print("ready", flush=True)
for line in sys.stdin:
    if line.strip() == "on":
        on.set()
    elif line.strip() == "off":
        on.clear()
    else:
        break
done.set(); on.set()
for t in threads: t.join()
print(counts["patch"], counts["backprop"], counts["bad"], flush=True)
"""
)


class Ticker:
    """Wakes every millisecond on the server's loop and keeps the most CPU time the loop's
    thread spent between two wake-ups (the work the loop ran meanwhile: a stall others
    wait for), and the longest wall-clock oversleep (which also counts waiting for the GIL
    and for a core on a busy machine)."""

    def __init__(self) -> None:
        self.max_cpu = 0.0
        self.max_gap = 0.0
        self.measuring = False

    async def run(self) -> None:
        while True:
            c0, t0 = time.thread_time(), time.perf_counter()
            await asyncio.sleep(0.001)
            cpu, gap = time.thread_time() - c0, time.perf_counter() - t0 - 0.001
            if self.measuring:
                self.max_cpu = max(self.max_cpu, cpu)
                self.max_gap = max(self.max_gap, gap)


def warm_up(base: str) -> None:
    """One small request of each kind first: FastAPI prepares a route on its first use."""
    small_csv = "1,2,0\n3,4,1\n5,6,0\n7,8,1\n"
    with httpx.Client(base_url=base, headers={"content-type": "application/json"}) as c:
        rid = c.post("/api/runs", json={"dataset": "csv", "csv": small_csv}).json()["id"]
        assert c.patch(f"/api/runs/{rid}", json={"csv": small_csv + "9,9,0\n"}).status_code == 200
        assert c.post(f"/api/runs/{rid}/reset").status_code == 200
        assert c.delete(f"/api/runs/{rid}").status_code == 204
        bp = {
            "sizes": [1, 1],
            "weights": [[[0.5]]],
            "biases": [[0.1]],
            "activations": ["sigmoid"],
            "cost": "quadratic",
            "x": [[1.0]],
            "y": [[0.0]],
        }
        assert c.post("/api/backprop", json=bp).status_code == 200


def test_the_event_loop_never_stalls_under_slow_requests() -> None:
    port = free_port()
    app = create_app(replace(Settings(), host="127.0.0.1", port=port))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    ticker = Ticker()

    async def main() -> None:
        tick = asyncio.create_task(ticker.run())
        await server.serve()
        tick.cancel()

    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        warm_up(f"http://127.0.0.1:{port}")
        ticker.measuring = True
        abuser = subprocess.run(
            [sys.executable, "-c", ABUSER, f"http://127.0.0.1:{port}", str(ABUSE_S)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=ABUSE_S + 12,
        )
        ticker.measuring = False
        assert abuser.returncode == 0, abuser.stderr[-2000:]
        patches, backprops, bad = map(int, abuser.stdout.split())
        assert patches >= 1 and backprops >= 2 and bad == 0, abuser.stdout
        stall = ticker.max_cpu
        wall = f"(longest wall-clock gap {ticker.max_gap * 1e3:.0f} ms)"
        print(f"\nlongest stretch of loop work {stall * 1e3:.1f} ms {wall}; {abuser.stdout}")
        assert stall < MAX_STALL_S, f"the loop worked {stall * 1e3:.1f} ms at a stretch {wall}"
        # and the server still answers a student at once
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as c:
            t0 = time.monotonic()
            assert c.get("/healthz").status_code == 200
            assert time.monotonic() - t0 < 0.5
            body = orjson.loads(c.get("/api/options").content)
            assert body["limits"]["max_batch"] == Settings().max_batch
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_a_csv_patch_loop_and_a_backprop_flood_leave_the_class_its_frame_rate(
    serve: Callable[..., Server],
) -> None:
    """The same abusers (a PATCH loop switching a run between two 64-column CSVs, two
    threads of the largest stateless backprop requests; another process), on and off in
    turn beside ten honest students streaming from a real uvicorn: the slow work runs in
    the workers' duty cycle, so the class keeps its frame rate (before: 1.2 frames/s).
    Three "on" windows, not two: the median of two is their mean, and one noisy window on a
    shared machine (0.45 once in CI, the other 0.78) decided the run."""
    server = serve()

    async def scenario() -> tuple[Interleaved, str]:
        abuser = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            TOGGLED,
            server.base,
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert abuser.stdin is not None and abuser.stdout is not None
        try:
            ready = await asyncio.wait_for(abuser.stdout.readline(), 15)
            assert ready == b"ready\n", ready

            async def abuse(on: bool) -> None:
                assert abuser.stdin is not None
                abuser.stdin.write(b"on\n" if on else b"off\n")
                await abuser.stdin.drain()

            rates = await beside(server.ws_base, abuse, settle_off=0.6, on_windows=3)
            abuser.stdin.write(b"quit\n")
            await abuser.stdin.drain()
            counts = await asyncio.wait_for(abuser.stdout.readline(), 15)
            return rates, counts.decode()
        finally:
            if abuser.returncode is None:
                abuser.kill()
            await abuser.wait()

    rates, counts = asyncio.run(scenario())
    print(f"\n{rates}\npatches, backprops, bad: {counts}")
    patches, backprops, bad = map(int, counts.split())
    assert patches >= 2 and backprops >= 4 and bad == 0, counts  # the abuse happened
    keeps_its_rate(rates)
