"""Abuse benchmark (issue 10): what each mischievous student does to a class of honest ones.

For every scenario a fresh server is started as the CLI starts it (``bench/procs.py``:
uvicorn pinned to core 0, default settings) and this script runs pinned to core 1. Ten
honest students (``tests/abuse/students.py``: each from its own loopback address, the
default experiment at the default speed) are measured for ``--seconds`` (default 4) three
times: **before** the abuse, **under** it (the abuser started 1 s earlier and keeps going),
and **after** it stopped (its sockets closed, its runs deleted where it could). The server's
resident memory is sampled every 50 ms throughout; the table gives its peak. *Under /
without* is the honest median under the abuse over the mean of before and after. *CPU
pressure* is Linux's PSI ``some avg10`` at the scenario's end: how much of the time tasks
waited for a core (on a machine shared with other work, the server did not have all of
core 0).

The abuser does what a student could, from loopback, and the table says how the server
answered (counts by status: a refused abuse shows as 4xx):

- ``batch cycling``: a CSV run as large as the options allow (64 inputs, ~1 MB of CSV, the
  largest network), then ``PATCH batch_size`` through 1..512, as fast as answered;
- ``idle connections``: 1,000 TCP connections from one address that never send a byte;
  also timed: ``/healthz`` from a new address, every 0.2 s (the statuses shown are its
  answers, and the slowest is given);
- ``abandoned steps``: 8 clients (8 addresses), each ``POST /step {"steps": 100000}`` on
  the largest network and hanging up after 0.3 s, again and again;
- ``CSV rebuilds``: ``PATCH`` that rebuilds the large CSV run (its hidden layers), in a loop;
- ``backprop flood``: 4 concurrent ``POST /api/backprop`` through 64-8-8-8-8-8-8-16, with
  as many examples as the server accepts (400, else 200, 100, ...: ~300 KB down), in a loop;
- ``one client's runs``: one address ``POST /api/runs {}`` in a loop, and a GET on each of
  its runs every second to keep them alive;
- ``no-cors POSTs``: what ``fetch(url, {method: "POST", mode: "no-cors"})`` from another
  site sends: ``Origin: http://evil.example``, ``text/plain``, no body; 8 at a time;
- ``100 MB header``: a request whose one header is 100 MB, sent as fast as the server
  reads, three times;
- ``heavy streams``: 20 of the largest networks at "max" speed, each reading every frame
  (``tests/abuse/heavy.py``);
- ``request flood``: one address, 8 keep-alive connections, ``GET`` its own run's
  ``/api/runs/{id}`` as fast as answered (a script in a loop);
- ``advice trials``: 3 addresses, each making its run of the largest network diverge with
  a new seed (``PATCH seed``, ``POST /step``) in a loop, so the server has new advice to try
  on every one (``tests/abuse/test_advice.py``; the statuses are the steps' answers).

Run: ``.venv/bin/python bench/bench_abuse.py [--seconds 4] [--only heavy,idle]``; it prints a
Markdown table (and ``--json PATH`` writes the numbers). Each scenario takes about 20 s.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as app.main does for the server

import argparse
import asyncio
import contextlib
import itertools
import json
import random
import resource
import sys
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
from procs import ROOT, free_port, rss_mb, start_server  # bench/ is on sys.path when run

sys.path.insert(0, str(ROOT))
from tests.abuse.heavy import heavy_streams
from tests.abuse.students import Rates, measure
from tests.abuse.test_advice import DIVERGING

HONEST = 10
RAMP_S = 1.0


@dataclass
class Outcome:
    """What the abuser got: counts by status (or by error), and notes."""

    statuses: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)
    ready: asyncio.Event = field(default_factory=asyncio.Event)  # the abuse is in full swing
    diverged: int = 0

    def count(self, what: int | str) -> None:
        self.statuses[str(what)] += 1

    def __str__(self) -> str:
        parts = [f"{k} x{v}" for k, v in sorted(self.statuses.items())]
        return ", ".join(parts + [n for n in self.notes if n]) or "-"


def _client(base: str, address: str, **kw: Any) -> httpx.AsyncClient:
    transport = httpx.AsyncHTTPTransport(local_address=address)
    # The page's own origin and the JSON type every state-changing request needs (415
    # without it, even a DELETE); a scenario may override either.
    headers = {"origin": base, "content-type": "application/json", **kw.pop("headers", {})}
    return httpx.AsyncClient(
        base_url=base, transport=transport, headers=headers, timeout=kw.pop("timeout", 30), **kw
    )


async def _request(out: Outcome, send: Awaitable[httpx.Response]) -> httpx.Response | None:
    try:
        r = await send
    except httpx.TimeoutException:
        out.count("timeout")
        return None
    except httpx.HTTPError as e:
        out.count(type(e).__name__)
        return None
    out.count(r.status_code)
    return r


def _big_csv(rows: int = 2_400, inputs: int = 64, seed: int = 0) -> str:
    """About 1 MB of CSV: ``inputs`` numeric columns and a 0/1 target."""
    rng = random.Random(seed)
    lines = [",".join(f"x{i}" for i in range(inputs)) + ",y"]
    for _ in range(rows):
        xs = [rng.uniform(-1, 1) for _ in range(inputs)]
        lines.append(",".join(f"{x:.2f}" for x in xs) + f",{int(sum(xs) > 0)}")
    return "\n".join(lines) + "\n"


async def _big_csv_run(http: httpx.AsyncClient, out: Outcome) -> str | None:
    limits = (await http.get("/api/options")).json()["limits"]
    body = {
        "dataset": "csv",
        "csv": _big_csv(inputs=limits["max_inputs"]),
        "hidden": [limits["max_width"]] * limits["max_layers"],
    }
    r = await _request(out, http.post("/api/runs", json=body))
    if r is None or r.status_code != 201:
        out.notes.append(f"CSV run refused: {r.text[:80] if r is not None else '-'}")
        return None
    run_id: str = r.json()["id"]
    return run_id


# -- the abusers: each runs until ``stop`` is set ----------------------------------------
Abuser = Callable[[str, asyncio.Event, Outcome], Coroutine[Any, Any, None]]


async def batch_cycling(base: str, stop: asyncio.Event, out: Outcome) -> None:
    async with _client(base, "127.3.0.1") as http:
        run_id = await _big_csv_run(http, out)
        out.ready.set()
        if run_id is None:
            return
        k = 0
        while not stop.is_set():
            k = k % 512 + 1
            await _request(out, http.patch(f"/api/runs/{run_id}", json={"batch_size": k}))
        await http.delete(f"/api/runs/{run_id}")


async def csv_rebuilds(base: str, stop: asyncio.Event, out: Outcome) -> None:
    async with _client(base, "127.3.0.1") as http:
        run_id = await _big_csv_run(http, out)
        out.ready.set()
        if run_id is None:
            return
        hidden = [[8] * 6, [8] * 5]
        i = 0
        while not stop.is_set():
            i += 1
            patch = http.patch(f"/api/runs/{run_id}", json={"hidden": hidden[i % 2]})
            await _request(out, patch)
        await http.delete(f"/api/runs/{run_id}")


async def idle_connections(base: str, stop: asyncio.Event, out: Outcome) -> None:
    port = int(base.rsplit(":", 1)[1])
    readers: list[asyncio.StreamReader] = []
    writers: list[asyncio.StreamWriter] = []
    worst = 0.0

    async def probe() -> None:  # a new student's /healthz, from its own address
        nonlocal worst
        async with _client(base, "127.3.0.2", timeout=10) as http:
            while not stop.is_set():
                t0 = time.perf_counter()
                if await _request(out, http.get("/healthz")) is not None:
                    worst = max(worst, time.perf_counter() - t0)
                await asyncio.sleep(0.2)

    probing = asyncio.create_task(probe())
    for _ in range(1_000):
        if stop.is_set():
            break
        try:
            r, w = await asyncio.open_connection("127.0.0.1", port, local_addr=("127.3.0.1", 0))
        except OSError as e:
            out.count(type(e).__name__)
            break
        readers.append(r)
        writers.append(w)
    out.notes.append(f"{len(writers)} opened")
    out.ready.set()
    await probing

    async def closed(r: asyncio.StreamReader) -> bool:
        try:  # the server closed it (EOF, a reset, or a 408 before closing), or it is open
            await asyncio.wait_for(r.read(1), 0.2)
            return True
        except TimeoutError:
            return False
        except OSError:
            return True

    n_closed = sum(await asyncio.gather(*(closed(r) for r in readers)))
    out.notes.append(f"{n_closed} closed by the server")
    out.notes.append(f"/healthz slowest {worst * 1e3:.0f} ms")
    for w in writers:
        w.close()


async def abandoned_steps(base: str, stop: asyncio.Event, out: Outcome) -> None:
    made: list[tuple[str, str]] = []
    for i in range(8):
        address = f"127.3.1.{i + 1}"
        async with _client(base, address, timeout=10) as http:
            limits = (await http.get("/api/options")).json()["limits"]
            body = {"hidden": [limits["max_width"]] * limits["max_layers"]}
            r = await _request(out, http.post("/api/runs", json=body))
            if r is not None and r.status_code == 201:
                made.append((address, r.json()["id"]))
    out.ready.set()

    async def one(address: str, run_id: str) -> None:
        while not stop.is_set():
            async with _client(base, address, timeout=0.3) as http:
                step = http.post(f"/api/runs/{run_id}/step", json={"steps": 100_000})
                await _request(out, step)  # 0.3 s, then hang up
        async with _client(base, address, timeout=10) as http:
            await http.delete(f"/api/runs/{run_id}")

    await asyncio.gather(*(one(a, run_id) for a, run_id in made))


def _backprop_body(m: int = 200) -> bytes:
    rng = random.Random(1)
    sizes = [64, 8, 8, 8, 8, 8, 8, 16]
    weights = [
        [[rng.uniform(-1, 1) for _ in range(k)] for _ in range(j)]
        for k, j in itertools.pairwise(sizes)
    ]
    biases = [[0.0] * j for j in sizes[1:]]
    body = {
        "sizes": sizes,
        "weights": weights,
        "biases": biases,
        "activations": ["tanh"] * 6 + ["sigmoid"],
        "cost": "quadratic",
        "x": [[round(rng.uniform(-1, 1), 6) for _ in range(64)] for _ in range(m)],
        "y": [[float(rng.random() > 0.5) for _ in range(16)] for _ in range(m)],
    }
    return orjson.dumps(body)


async def backprop_flood(base: str, stop: asyncio.Event, out: Outcome) -> None:
    headers = {"content-type": "application/json"}
    m, body = 400, b""
    async with _client(base, "127.3.0.1", headers=headers) as http:
        while m >= 25:  # the largest request the server accepts, as a student would find it
            body = _backprop_body(m)
            r = await _request(out, http.post("/api/backprop", content=body))
            if r is not None and r.status_code == 200:
                break
            m //= 2
    out.notes.append(f"{m} examples, {len(body) // 1000} KB each")
    out.ready.set()
    received = 0

    async def one() -> None:
        nonlocal received
        async with _client(base, "127.3.0.1", headers=headers) as http:
            while not stop.is_set():
                r = await _request(out, http.post("/api/backprop", content=body))
                received = max(received, len(r.content) if r is not None else 0)

    await asyncio.gather(*(one() for _ in range(4)))
    out.notes.append(f"answers of {received / 1e6:.1f} MB")


async def one_client_runs(base: str, stop: asyncio.Event, out: Outcome) -> None:
    out.ready.set()
    ids: list[str] = []
    async with _client(base, "127.3.0.1") as http:
        last_touch = time.monotonic()
        while not stop.is_set():
            r = await _request(out, http.post("/api/runs", json={}))
            if r is not None and r.status_code == 201:
                ids.append(r.json()["id"])
            elif r is not None and r.status_code == 429:
                await asyncio.sleep(0.05)
            if time.monotonic() - last_touch > 1.0:
                last_touch = time.monotonic()
                for run_id in ids:
                    await http.get(f"/api/runs/{run_id}")
        out.notes.append(f"{len(ids)} runs held")
        for run_id in ids:
            await http.delete(f"/api/runs/{run_id}")


async def no_cors_posts(base: str, stop: asyncio.Event, out: Outcome) -> None:
    out.ready.set()
    made: list[str] = []
    headers = {"origin": "http://evil.example", "content-type": "text/plain;charset=UTF-8"}

    async def one() -> None:
        async with _client(base, "127.3.0.1", headers=headers) as http:
            while not stop.is_set():
                r = await _request(out, http.post("/api/runs", content=b""))
                if r is not None and r.status_code == 201:
                    made.append(r.json()["id"])

    await asyncio.gather(*(one() for _ in range(8)))
    async with _client(base, "127.3.0.1") as http:
        for run_id in made:
            await http.delete(f"/api/runs/{run_id}")


async def huge_header(base: str, stop: asyncio.Event, out: Outcome) -> None:
    out.ready.set()
    port = int(base.rsplit(":", 1)[1])
    chunk = b"a" * 65_536
    for _ in range(3):
        if stop.is_set():
            break
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, local_addr=("127.3.0.1", 0)
        )
        sent = 0
        try:
            writer.write(f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Big: ".encode())
            while sent < 100_000_000 and not stop.is_set():
                writer.write(chunk)
                await writer.drain()
                sent += len(chunk)
            writer.write(b"\r\n\r\n")
            await writer.drain()
        except OSError:
            pass  # the server hung up: it read enough
        try:
            head = await asyncio.wait_for(reader.readline(), 10)
            status = head.split()[1].decode() if head.startswith(b"HTTP/") else "hung up"
        except (OSError, TimeoutError):
            status = "hung up"
        out.count(status)
        out.notes.append(f"hung up on after {sent / 1e6:.1f} MB" if status == "hung up" else "")
        writer.close()
    await stop.wait()


async def request_flood(base: str, stop: asyncio.Event, out: Outcome) -> None:
    async with _client(base, "127.3.0.1") as http:
        r = await http.post("/api/runs", json={})
        run_id = r.json()["id"]
        out.ready.set()

        async def one() -> None:
            while not stop.is_set():
                r = await _request(out, http.get(f"/api/runs/{run_id}"))
                if r is not None and r.status_code == 429:
                    await asyncio.sleep(float(r.headers.get("retry-after", "0")) / 10)

        await asyncio.gather(*(one() for _ in range(8)))
        await http.delete(f"/api/runs/{run_id}")


async def heavy(base: str, stop: asyncio.Event, out: Outcome) -> None:
    async with heavy_streams(base, 20) as got:
        out.ready.set()
        await stop.wait()
    out.statuses["201"] = got.made
    for status, n in got.refused.items():
        out.statuses[str(status)] += n
    mb = sorted(b / 1e6 for b in got.received)
    if mb:
        out.notes.append(f"each read {mb[0]:.1f}-{mb[-1]:.1f} MB of frames")
    if got.ended:
        out.notes.append(f"{len(got.ended)} streams ended early ({got.ended[0]})")


async def advice_trials(base: str, stop: asyncio.Event, out: Outcome) -> None:
    async def one(k: int) -> None:
        async with _client(base, f"127.5.0.{k + 1}") as http:
            r = await http.post("/api/runs", json=DIVERGING)
            run_id = r.json()["id"]
            out.ready.set()
            seed = 1000 * k
            while not stop.is_set():
                seed += 1
                await http.patch(f"/api/runs/{run_id}", json={"seed": seed})
                r = await _request(out, http.post(f"/api/runs/{run_id}/step", json={"steps": 20}))
                if r is not None and r.status_code == 200 and r.json()["status"] == "diverged":
                    out.diverged += 1
                await asyncio.sleep(0.05)
            await http.delete(f"/api/runs/{run_id}")

    await asyncio.gather(*(one(k) for k in range(3)))
    out.notes.append(f"{out.diverged} diverged runs, each with new advice to try")


SCENARIOS: dict[str, tuple[str, Abuser]] = {
    "batch": ("batch_size cycling on a big CSV run", batch_cycling),
    "idle": ("1,000 idle connections", idle_connections),
    "steps": ("abandoned 100,000-step calls (8)", abandoned_steps),
    "rebuild": ("CSV rebuild PATCH loop", csv_rebuilds),
    "backprop": ("/api/backprop flood (4 at a time)", backprop_flood),
    "runs": ("one client making runs", one_client_runs),
    "nocors": ("no-cors cross-site POSTs", no_cors_posts),
    "header": ("100 MB header", huge_header),
    "heavy": ("20 largest nets at max speed", heavy),
    "flood": ("request flood (8 connections)", request_flood),
    "advice": ("advice trials (3 students diverging)", advice_trials),
}


# -- measuring -----------------------------------------------------------------------------
class PeakRss:
    """Samples a process's resident memory every 50 ms in a thread."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(OSError, ValueError):
                self.peak = max(self.peak, rss_mb(self.pid))
            time.sleep(0.05)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@contextlib.asynccontextmanager
async def _abusing(abuser: Abuser, base: str, out: Outcome) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.create_task(abuser(base, stop, out))
    try:
        try:  # its runs made, its connections open: then the honest students are measured
            await asyncio.wait_for(out.ready.wait(), 30)
        except TimeoutError:
            out.notes.append("not ready after 30 s")
        yield
    finally:
        stop.set()
        try:
            await asyncio.wait_for(task, 30)
        except Exception as e:  # a broken abuser is reported, not fatal
            out.notes.append(f"abuser: {type(e).__name__} {e}"[:120])


async def scenario(name: str, seconds: float) -> dict[str, Any]:
    title, abuser = SCENARIOS[name]
    port = free_port()
    proc = start_server(port)
    base, ws = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}"
    out = Outcome()
    try:
        await measure(ws, HONEST, 2.0)  # settle: first runs, first frames, caches, the pacer
        with PeakRss(proc.pid) as rss:
            before = await measure(ws, HONEST, seconds)
            async with _abusing(abuser, base, out):
                await asyncio.sleep(RAMP_S)
                under = await measure(ws, HONEST, seconds)
            after = await measure(ws, HONEST, seconds)
        alive = proc.poll() is None
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except Exception:
            proc.kill()
    result = {
        "scenario": title,
        "abuse": str(out),
        "before": _rates(before),
        "under": _rates(under),
        "after": _rates(after),
        "peak_rss_mb": rss.peak,
        "server_alive": alive,
        "cpu_pressure": cpu_pressure(),
    }
    without = (before.median + after.median) / 2
    ratio = under.median / without if without else float("nan")
    print(
        f"{title}: {out} | before {before} | under {under} ({ratio:.0%}) | after {after} "
        f"| peak RSS {rss.peak:.0f} MB",
        file=sys.stderr,
        flush=True,
    )
    return result


def cpu_pressure() -> str:
    """The machine's CPU pressure (Linux PSI, ``some avg10``): the share of the last 10 s in
    which runnable tasks waited for a core. On a shared machine it says how much of core 0
    the server really had."""
    try:
        first = Path("/proc/pressure/cpu").read_text().split("\n")[0]
        return first.split()[1].split("=")[1] + " %"
    except (OSError, IndexError):
        return "-"


def _rates(r: Rates) -> dict[str, Any]:
    return {"min": r.min, "median": r.median, "failed": len(r.failures)}


def _cell(r: dict[str, Any]) -> str:
    failed = f", {r['failed']} refused" if r["failed"] else ""
    return f"{r['median']:.1f} ({r['min']:.1f}){failed}"


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| abuse | how the server answered the abuser | honest frames/s before | under"
        " | after | under / without | peak RSS | CPU pressure |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        without = (r["before"]["median"] + r["after"]["median"]) / 2
        ratio = f"{r['under']['median'] / without:.0%}" if without else "-"
        lines.append(
            f"| {r['scenario']} | {r['abuse']} | {_cell(r['before'])} | {_cell(r['under'])} "
            f"| {_cell(r['after'])} | {ratio} | {r['peak_rss_mb']:.0f} MB "
            f"| {r['cpu_pressure']} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--only", default=",".join(SCENARIOS), help="scenario keys")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if (os.cpu_count() or 1) >= 2:
        os.sched_setaffinity(0, {1})
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))
    t0 = time.monotonic()
    results = [asyncio.run(scenario(k, args.seconds)) for k in args.only.split(",")]
    print("Honest students: median (min) frames/s of 10, each from its own address.")
    print(table(results))
    print(f"\n{len(results)} scenarios in {time.monotonic() - t0:.0f} s", file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
