"""A frame's ``health`` (saturated and dead units) against its former own forward pass.

``insight.health`` counts saturated and dead units on the metrics' forward pass (the core's
float32 :class:`app.core.forward.Feedforward`, app/runs/metrics.py's ``forward_at_theta``).
The reference, measured in the same run, is the former implementation written out below: a
float64 pass of ``network.feedforward`` over the training set, then the counts. For W1
(2-8-8-1 tanh, 500 circle points) and a 64-30-10 sigmoid CSV network (1,797 rows, as
bench_stream's W3), after 500 training steps, three figures (µs per call, medians of 9
interleaved repeats):

- ``reference``: the former ``layer_health`` and the summary;
- ``frame``: ``insight.health`` right after the metrics at the same θ (what a frame with
  fresh metrics pays: no pass of its own);
- ``cold``: ``insight.health`` when θ has changed since the metrics (its own pass).

The counts of the reference and of the new code are checked equal before timing.

Run: ``.venv/bin/python bench/bench_health.py [--seconds 3]``. About 10 s, no server.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as app.main does for the server

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_stream import W1, interleaved_us, w3_config  # noqa: E402

from app.core import saturation  # noqa: E402
from app.core.network import Network, feedforward  # noqa: E402
from app.runs import insight  # noqa: E402
from app.runs.experiment import Experiment  # noqa: E402
from app.runs.run import Run  # noqa: E402
from app.runs.state import RunState  # noqa: E402
from app.settings import Settings  # noqa: E402


def reference_layers(net: Network, x: Any, y: Any, cancels: bool) -> list[saturation.LayerHealth]:
    """The former app/core/saturation.py layer_health: its own float64 forward pass."""
    fwd = feedforward(net, x)
    out = []
    last = net.L - 2
    for i, act in enumerate(net.layer_activations):
        if i == last and cancels:
            break
        z, a = fwd.z[i], fwd.a[i + 1]
        n = z.shape[1]
        saturated = dead = 0
        if act.prime_max is not None:
            with np.errstate(all="ignore"):
                low = act.prime(z, a) / act.prime_max < saturation.SATURATED
            stuck = low.mean(axis=0) >= saturation.MOST
            if i == last and act.bounds is not None:
                wrong = np.abs(a - y) > 0.5 * (act.bounds[1] - act.bounds[0])
                stuck &= wrong.mean(axis=0) >= saturation.WRONG
            saturated = int(np.count_nonzero(stuck))
        elif act.dies:
            dead = int(np.count_nonzero((z <= 0).all(axis=0)))
        out.append(saturation.LayerHealth(i + 2, n, saturated, dead, output=i == last))
    return out


def reference_health(st: RunState) -> dict[str, Any]:
    n = st.n_train
    layers = reference_layers(st.net, st.x[:n], st.y[:n], st.cost.sigma_prime_cancels)
    s, d = saturation.share(layers)
    return {
        "reason": insight.reason(layers),
        "layers": [{"l": h.l, "n": h.n, "saturated": h.saturated, "dead": h.dead} for h in layers],
        "saturated_share": s,
        "dead_share": d,
        "output_saturated": saturation.output_saturated(layers),
        "alarm": saturation.alarming(layers),
    }


def measure(name: str, changes: dict[str, Any], settings: Settings, seconds: float) -> None:
    run = Run(name, Experiment(**changes), settings)
    run.train(500)
    st = run.state
    ev = st.evaluator
    ev(st.cost, 0.0)  # the metrics at this θ, as a frame measures them first
    new = insight.health(st)
    ref = reference_health(st)
    assert {k: new[k] for k in ref} == ref, (new, ref)

    def cold() -> None:
        ev._ran = None  # as if θ had changed since the metrics
        insight.health(st)

    us = interleaved_us(
        {
            "reference": lambda: reference_health(st),
            "frame": lambda: insight.health(st),
            "cold": cold,
        },
        seconds,
    )
    ref_us = us["reference"]
    print(
        f"{name:>9}: reference {ref_us:8.1f} µs | frame {us['frame']:7.1f} µs "
        f"({us['frame'] / ref_us:.3f}x) | cold {us['cold']:7.1f} µs ({us['cold'] / ref_us:.3f}x)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=3.0)
    args = ap.parse_args()
    measure("W1", W1, Settings(), args.seconds)
    config, settings = w3_config()
    measure("64-30-10", config, settings, args.seconds)


if __name__ == "__main__":
    main()
