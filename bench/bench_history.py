"""What ``GET /api/runs/{id}/history?since=<step>`` saves a page that polls the history.

A run is trained 2,000 steps over REST in requests of ``--per-request`` steps (each answer is
a measured frame: one history point), the deep network the learner watches for vanishing
gradients (6 × 8 sigmoid on the circle set). After every request a poller reads the history
as the page did before (all of it: ``full``) and as it does now (``since`` its last step,
merged into what it has: ``since``); both are byte counts of the response bodies, so the
ratio is the traffic the page's history feed saves over the run. The merged copy is checked
against a last full read (the same points, the same per-layer series).

The same for the distributions' feed (``histograms=true``): the snapshots are sent only once
each, with the list of kept steps.

Run: ``.venv/bin/python bench/bench_history.py [--steps 2000] [--per-request 10]``.
About 30 s, no server (FastAPI's test client: bytes, not time, are measured).
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as app.main does for the server

import argparse
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fastapi.testclient import TestClient  # noqa: E402

from app.main import create_app  # noqa: E402

DEEP = {"dataset": "circle", "hidden": [8] * 6, "hidden_activation": "sigmoid"}
COLUMNS = ("step", "epoch", "train_cost", "test_cost", "train_accuracy", "test_accuracy")
SERIES = ("probe_delta", "probe_grad_w", "grad_b", "grad_w", "saturated", "dead")


def merge(have: dict[str, Any] | None, new: dict[str, Any], limit: int = 2000) -> dict[str, Any]:
    """The page's merge (static/js/gradient_strip.js mergeHistory), written out in Python."""
    if have is None or have["revision"] != new["revision"]:
        return new
    out = {k: (have[k] + new[k])[-limit:] for k in COLUMNS}
    out["revision"] = new["revision"]
    n = len(out["step"])
    layers = []
    olds, adds = have["layers"] or new["layers"], new["layers"] or have["layers"]
    for old, add in zip(olds, adds, strict=True):
        layer = {"l": old["l"]}
        for k in SERIES:
            a = old[k] if old[k] is not None else [None] * len(have["step"])
            b = add[k] if add[k] is not None else [None] * len(new["step"])
            layer[k] = (a + b)[-n:] if old[k] is not None or add[k] is not None else None
        layers.append(layer)
    out["layers"] = layers
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--per-request", type=int, default=10)
    args = ap.parse_args()
    with TestClient(create_app(), headers={"content-type": "application/json"}) as c:
        rid = c.post("/api/runs", json=DEEP).json()["id"]
        totals = {"full": 0, "since": 0, "full+hist": 0, "since+hist": 0}
        have: dict[str, Any] | None = None
        have_h: dict[str, Any] | None = None
        done = 0
        while done < args.steps:
            r = c.post(f"/api/runs/{rid}/step?grid=false", json={"steps": args.per_request})
            done += int(r.headers["X-Steps-Done"])
            full = c.get(f"/api/runs/{rid}/history")
            totals["full"] += len(full.content)
            since = "" if have is None or not have["step"] else f"?since={have['step'][-1]}"
            inc = c.get(f"/api/runs/{rid}/history{since}")
            totals["since"] += len(inc.content)
            have = merge(have, inc.json())
            totals["full+hist"] += len(c.get(f"/api/runs/{rid}/history?histograms=true").content)
            last = "" if have_h is None else f"&since={have_h}"
            inc_h = c.get(f"/api/runs/{rid}/history?histograms=true{last}")
            totals["since+hist"] += len(inc_h.content)
            have_h = inc_h.json()["step"][-1] if inc_h.json()["step"] else have_h
        truth = c.get(f"/api/runs/{rid}/history").json()
        same = all(have[k] == truth[k] for k in (*COLUMNS, "layers"))  # type: ignore[index]
        polls = args.steps // args.per_request
        print(
            f"{args.steps} steps, {len(truth['step'])} history points, {polls} polls "
            f"(one after every request of {args.per_request} steps); merged copy equals a "
            f"full read: {same}"
        )
        for what in ("", "+hist"):
            f, s = totals[f"full{what}"], totals[f"since{what}"]
            print(
                f"history{what or ''}: full reads {f / 1e6:.2f} MB, since= reads {s / 1e6:.3f} MB "
                f"({s / f:.3f}x, {f / s:.0f}x less; {f / polls / 1e3:.1f} kB against "
                f"{s / polls / 1e3:.2f} kB a poll)"
            )


if __name__ == "__main__":
    main()
