"""Run inside a fresh network namespace (only loopback): start the image's exact CMD, run its
exact HEALTHCHECK, load the page, stream a few frames, stop it with SIGTERM.

Usage: python probe_image.py IMAGE_JSON  (written by test_dockerfile.py); prints a JSON report.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time

import httpx
import websockets


def wait_healthy(base: str, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early with {proc.returncode}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1.0).status_code == 200:
                return time.monotonic() - start
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("server did not become healthy")


async def stream_frames(ws_url: str, n: int) -> list[dict[str, object]]:
    frames = []
    async with websockets.connect(ws_url, max_size=None) as ws:
        await ws.send(json.dumps({"type": "play"}))
        while len(frames) < n:
            msg = json.loads(await asyncio.wait_for(ws.recv(), timeout=10))
            if msg.get("type") == "frame":
                frames.append(msg)
        await ws.send(json.dumps({"type": "pause"}))
    return frames


def main() -> None:
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    report: dict[str, object] = {}
    base = "http://127.0.0.1:8000"
    with open(spec["log"], "wb") as log:
        proc = subprocess.Popen(
            spec["cmd"], cwd=spec["cwd"], env=spec["env"], stdout=log, stderr=log
        )
        probe(proc, base, spec, report)
    print(json.dumps(report))


def probe(
    proc: subprocess.Popen[bytes], base: str, spec: dict[str, object], report: dict[str, object]
) -> None:
    try:
        report["startup_s"] = wait_healthy(base, proc)
        hc = subprocess.run(spec["healthcheck"], cwd=spec["cwd"], env=spec["env"], timeout=10)
        report["healthcheck_rc"] = hc.returncode
        page = httpx.get(f"{base}/", timeout=5)
        report["page_status"] = page.status_code
        # The page loads Plotly.js after its first frame, from static/js/plots.js: the page
        # must reach that module, and it must name the image's own copy (no CDN).
        plots = httpx.get(f"{base}/static/js/plots.js", timeout=5)
        report["page_has_plotly"] = (
            "/static/js/main.js" in page.text
            and plots.status_code == 200
            and '"/vendor/plotly.min.js"' in plots.text
            and "https://" not in plots.text
        )
        plotly = httpx.get(f"{base}/vendor/plotly.min.js", timeout=5)
        report["plotly_bytes"] = len(plotly.content) if plotly.status_code == 200 else 0
        run = httpx.post(f"{base}/api/runs", json={}, timeout=5)
        report["create_status"] = run.status_code
        run_id = run.json()["id"]
        # the book's digits are read from app/data in the image (a 64-30-10 run)
        digits = httpx.post(
            f"{base}/api/runs", json={"dataset": "digits", "hidden": [30]}, timeout=10
        )
        report["digits_sizes"] = digits.json()["sizes"] if digits.status_code == 201 else None
        frames = asyncio.run(stream_frames(f"ws://127.0.0.1:8000/api/runs/{run_id}/stream", 5))
        report["frames"] = len(frames)
        report["frame_steps"] = [f["step"] for f in frames]
    finally:
        start = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        try:
            report["exit_code"] = proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            report["exit_code"] = "killed"
        report["stop_s"] = time.monotonic() - start


if __name__ == "__main__":
    main()
