"""A run's frame (``docs/frames.md``) as one JSON document: what goes in it, in what order.

One reason to change: the frame's fields. The tensors come from the run's frame builder
(:class:`app.runs.frames.FrameBuilder`: the engine's recording of the probe beside the next
batch), the train/test numbers and the health from its :class:`~app.runs.measurements.
Measurements`, the rest from the experiment's state (:class:`~app.runs.lab.Lab`). This is on
the hot path of every stream: one dict, encoded once by orjson, nothing recomputed here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import orjson

from app.runs import insight, layer_stats
from app.runs.frame_pack import pack
from app.runs.frames import encode
from app.runs.lab import Lab
from app.runs.measurements import Measurements
from app.settings import Settings


@dataclass(frozen=True)
class Asked:
    """What a caller asks of a frame: ``grid`` (the decision boundary), ``history`` (the loss
    curve), ``data_changed``, the stream's ``fps``, ``fresh`` metrics (a pass over every
    point; else the last measured ones, if any), ``explain`` (a neuron or edge whose terms
    the frame carries in full precision), ``packed``: encoded for a stream that asked for
    packed frames (:mod:`app.runs.frame_pack`), else JSON."""

    grid: bool = False
    history: bool = False
    data_changed: bool = False
    fps: float | None = None
    fresh: bool = True
    explain: insight.Selection | None = None
    packed: bool = False


@np.errstate(all="ignore")  # overflow is caught below and reported as divergence
def frame_bytes(
    run_id: str,
    lab: Lab,
    meas: Measurements,
    settings: Settings,
    steps_per_frame: int,
    playing: bool,
    asked: Asked,
) -> bytes:
    """The frame now, encoded as JSON bytes (or packed: ``asked.packed``). A frame whose
    numbers stop being finite marks the run diverged (the frame says so)."""
    st = lab.state
    tr, net = st.trainer, st.net
    h = tr.hyper
    bx, by = tr.next_batch()
    builder = st.builder(len(bx))
    p = lab.probe
    probe = (st.dataset.points[st.train_idx[p]], st.x[p], st.y[p])
    penalty = st.penalty()
    batch_cost, finite = builder.fill(
        tr.theta, probe, (bx, by), h.regulariser, h.lmbda, st.n_train, penalty
    )
    metrics, metrics_step = meas.metrics(st, penalty, asked.fresh)
    if not (finite and metrics.finite):
        tr.status = "diverged"
    builder.probe["index"] = p
    status = lab.status(playing)
    explain = asked.explain
    health = meas.health(st, lab.config, settings, status == "diverged", asked.fresh)
    # At a measurement: a point of the per-layer history. The layer histograms, and a
    # prediction of the next step trained, each cost a third to a half of a small network's
    # frame: while playing only with the grid (every grid_every-th frame), else always.
    detail = asked.grid or not playing
    hist = None
    if asked.fresh or metrics_step == tr.step:
        hist = layer_stats.measured(meas.layers, builder, tr.step, health["layers"], detail, p)
    if detail:
        lab.predict_next = True  # the frame's `prediction` (app/core/prediction.py)
    grids = st.grid if asked.grid else None
    grid: orjson.Fragment | None = None
    data: list[bytes] = []  # a packed frame's float32 bytes
    if asked.packed:  # the same numbers, the arrays as float32 bytes after the JSON
        layers, tensors = builder.packed_layers
        data.append(tensors)
        if grids is not None:
            grid, grid_data = grids.packed(net, len(tensors) // 4)
            data.append(grid_data)
    else:
        layers = builder.layers
        grid = None if grids is None else grids(net)
    frame = {
        "type": "frame",
        "run_id": run_id,
        "status": status,
        "step": tr.step,
        "epoch": tr.epoch,
        "kind": st.kind,
        "sizes": net.sizes,
        "activations": net.activations,
        "cost_name": st.cost_name,
        "hyper": {
            "learning_rate": h.learning_rate,
            "batch_size": h.batch_size,
            "regulariser": h.regulariser,
            "lambda": h.lmbda,
            "momentum": h.momentum,
        },
        "steps_per_frame": steps_per_frame,
        "fps": asked.fps,
        "t": round(time.time(), 4),
        "train": {"cost": metrics.train_cost, "accuracy": metrics.train_accuracy},
        "test": {"cost": metrics.test_cost, "accuracy": metrics.test_accuracy},
        "metrics_step": metrics_step,
        "batch_cost": batch_cost,
        "probe": builder.probe,
        "input": builder.input,
        "layers": layers,
        "grid": grid,
        "history": meas.history_dict() if asked.history else None,
        "data_changed": asked.data_changed,
        "explain": insight.explain(st, p, (bx, by), explain) if explain else None,
        "health": health,
        "histograms": hist,
        "prediction": lab.prediction_at(tr.step),
    }
    return pack(frame, data) if asked.packed else encode(frame)
