"""A run as one self-contained JSON document, and a run made again from one.

The document (``docs/api.md``, "export") holds everything the run goes on from: the
settings (the experiment, as the wire spells it: the API's :mod:`app.api.mapping` maps them
both ways, so this module takes and gives them as they are), θ and the momentum velocity
as the notation's ``w^l`` and ``b^l``, the batch order and position and the generator's
state (:mod:`app.core.checkpoint`), step, epoch and status, the random feedback rule's
matrices, a digest of the data the settings build, and the loss history with the gradient
across layers at its steps (:mod:`app.runs.layer_history`'s series). The data itself
is the settings' (a CSV's text is a setting), drawn again from the seed otherwise; the
digest refuses a document whose data this server would draw differently.

Opening is all or nothing: :func:`build_opened` builds the state in a worker thread and
checks every part against it before anything is registered; a part that does not fit is
a :class:`DocumentError` naming it (its path in the document).

Versions: 1 had the loss history alone; 2 adds ``history.layers`` (required in 2, refused in
1) and, optionally, ``history.probe`` (whose probe norms they are; a version 2 document
written before it came opens without it). Both are read; a newer one is refused before
anything else is looked at.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
from numpy.typing import NDArray

from app.core import checkpoint
from app.runs.config import ConfigError
from app.runs.experiment import Experiment
from app.runs.layer_history import COUNTS, NORMS, LayerHistory
from app.runs.measurements import HISTORY_KEYS, HISTORY_POINTS, HistoryPoint, OpenedHistory
from app.runs.run import Run
from app.runs.state import RunState, build
from app.settings import Settings

FORMAT = "backprop-viz run"
FORMAT_VERSION = 2  # 2: history.layers (the gradient across layers at the history's steps)
FLOAT32_MAX = float(np.finfo(np.float32).max)  # the layer series are kept as float32
Array = NDArray[np.float64]


class DocumentError(ConfigError):
    """A part of a document that does not fit: ``loc`` is its path in the document."""


def data_sha256(st: RunState) -> str:
    """SHA-256 of the training-set size, the inputs ``x`` (N, n_1) and targets ``y``
    (N, n_L) as float64 (training rows first), as hex."""
    h = hashlib.sha256()
    h.update(np.int64(st.n_train).tobytes())
    h.update(np.ascontiguousarray(st.x, dtype=np.float64).tobytes())
    h.update(np.ascontiguousarray(st.y, dtype=np.float64).tobytes())
    return h.hexdigest()


def _split(st: RunState, flat: Array) -> tuple[list[Any], list[Any]]:
    """θ's layout ``(P,)`` as nested lists ``w^l`` ``(n_l, n_{l-1})`` and ``b^l`` ``(n_l,)``."""
    sizes = st.net.sizes
    ws, bs, o = [], [], 0
    for n, k in zip(sizes[1:], sizes[:-1], strict=True):
        block = flat[o : o + n * (k + 1)].reshape(n, k + 1)
        ws.append(block[:, :-1].tolist())
        bs.append(block[:, -1].tolist())
        o += n * (k + 1)
    return ws, bs


def _rng_out(state: Mapping[str, Any]) -> dict[str, Any]:
    inner = state["state"]
    return {
        "bit_generator": state["bit_generator"],
        "state": hex(inner["state"]),
        "inc": hex(inner["inc"]),
        "has_uint32": state["has_uint32"],
        "uinteger": state["uinteger"],
    }


def export(run: Run, settings: dict[str, Any]) -> dict[str, Any]:
    """The run now as a document; ``settings``: its experiment as the wire spells it."""
    st = run.state
    snap = checkpoint.capture(st.trainer)
    weights, biases = _split(st, snap.theta)
    v_weights, v_biases = _split(st, snap.velocity)
    fb = st.feedback
    fixed = fb is not None and fb.rule.fixed
    history = run.measurements.history
    steps = [p[0] for p in history]
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "settings": settings,
        "step": snap.step,
        "epoch": snap.epoch,
        "status": snap.status,
        "parameters": {"weights": weights, "biases": biases},
        "velocity": {"weights": v_weights, "biases": v_biases},
        "batches": {
            "order": None if snap.order is None else snap.order.tolist(),
            "position": snap.cursor,
            "rng": _rng_out(snap.rng),
        },
        "feedback_matrices": [m.tolist() for m in fb.fixed] if fb is not None and fixed else None,
        "data_sha256": data_sha256(st),
        "history": {
            **{k: [p[i] for p in history] for i, k in enumerate(HISTORY_KEYS)},
            "probe": run.measurements.layers.probes(steps),
            "layers": [_plain(layer) for layer in run.measurements.layers.series(steps)],
        },
    }


def _plain(layer: Mapping[str, Any]) -> dict[str, Any]:
    """A layer's series as JSON lists: each float32 norm as the shortest decimal that reads
    back as the same float32 (half the characters of its float64 digits), NaN as null."""
    out: dict[str, Any] = {"l": layer["l"]}
    for k in NORMS:
        out[k] = orjson.loads(orjson.dumps(layer[k], option=orjson.OPT_SERIALIZE_NUMPY))
    for k in COUNTS:
        out[k] = layer[k]
    return out


@dataclass(frozen=True)
class Opened:
    """A document read (types checked by the API's model, values not yet against a
    network): the experiment and the rest as given."""

    experiment: Experiment
    parts: Mapping[str, Any]


def check_version(doc: Mapping[str, Any]) -> None:
    """Before anything else: a document of another format, or of a newer version, is
    refused naming the field (its other fields may mean something else)."""
    fmt = doc.get("format")
    if fmt != FORMAT:
        raise DocumentError(("format",), f"not a run document: format must be {FORMAT!r}")
    version = doc.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise DocumentError(("format_version",), "a whole number ≥ 1")
    if version > FORMAT_VERSION:
        raise DocumentError(
            ("format_version",),
            f"this document is format version {version}, written by a newer backprop-viz; "
            f"this server reads versions up to {FORMAT_VERSION}",
        )


def _matrices(
    got: Sequence[Any], shapes: list[tuple[int, ...]], loc: tuple[str, ...], first: str
) -> list[Array]:
    """``got`` as float64 arrays of ``shapes`` (checked row by row: no ragged lists);
    ``first``: the name of the first, e.g. ``w^2`` (the others count up from it)."""
    symbol, number = first.split("^")
    if len(got) != len(shapes):
        raise DocumentError(
            loc, f"this network has {len(shapes)} of these ({first} on), got {len(got)}"
        )
    out = []
    for i, (g, shape) in enumerate(zip(got, shapes, strict=True)):
        ok = len(g) == shape[0] and (len(shape) == 1 or all(len(r) == shape[1] for r in g))
        if not ok:
            dims = " × ".join(str(d) for d in shape)
            raise DocumentError((*loc, i), f"{symbol}^{int(number) + i} must be {dims}")
        a = np.asarray(g, dtype=np.float64)
        if not np.isfinite(a).all():
            raise DocumentError((*loc, i), "every value must be a finite number")
        out.append(a)
    return out


def _theta(st: RunState, part: Mapping[str, Any], name: str) -> Array:
    """``{"weights", "biases"}`` checked against the network, in θ's layout ``(P,)``."""
    sizes = st.net.sizes
    pairs = list(zip(sizes[1:], sizes[:-1], strict=True))
    ws = _matrices(part["weights"], [(n, k) for n, k in pairs], (name, "weights"), "w^2")
    bs = _matrices(part["biases"], [(n,) for n, _ in pairs], (name, "biases"), "b^2")
    blocks = [np.column_stack([w, b]).ravel() for w, b in zip(ws, bs, strict=True)]
    return np.concatenate(blocks)


def _rng_in(rng: Mapping[str, Any]) -> dict[str, Any]:
    try:
        state, inc = int(rng["state"], 16), int(rng["inc"], 16)
    except (TypeError, ValueError):
        raise DocumentError(("batches", "rng"), "state and inc must be hex numbers") from None
    return {
        "bit_generator": rng["bit_generator"],
        "state": {"state": state, "inc": inc},
        "has_uint32": rng["has_uint32"],
        "uinteger": rng["uinteger"],
    }


def _history(h: Mapping[str, Any], step: int) -> list[HistoryPoint]:
    cols = [list(h[k]) for k in HISTORY_KEYS]
    n = len(cols[0])
    for k, c in zip(HISTORY_KEYS, cols, strict=True):
        if len(c) != n:
            raise DocumentError(("history", k), f"every history list must have {n} entries")
    if n > HISTORY_POINTS:
        raise DocumentError(("history", "step"), f"at most {HISTORY_POINTS} points")
    steps = cols[0]
    if any(b <= a for a, b in itertools.pairwise(steps)) or (steps and steps[-1] > step):
        raise DocumentError(("history", "step"), f"steps must increase, up to step {step}")
    for k, c in zip(HISTORY_KEYS[2:], cols[2:], strict=True):
        if any(v is not None and not math.isfinite(v) for v in c):
            raise DocumentError(("history", k), "values must be finite numbers or null")
    return [tuple(p) for p in zip(*cols, strict=True)]


def _layers(
    history: Mapping[str, Any], version: int, st: RunState, steps: list[int]
) -> LayerHistory:
    """``history.layers`` (per layer l = 2..L, each series at ``steps``) and
    ``history.probe`` (optional: whose probe norms they are) checked against the network
    and the training set, and kept as a :class:`LayerHistory`; absent in version 1,
    ``layers`` required after."""
    given: Sequence[Mapping[str, Any]] | None = history.get("layers")
    probes: Sequence[int | None] | None = history.get("probe")
    loc: tuple[str, ...] = ("history", "layers")
    if version == 1:
        for k, v in (("layers", given), ("probe", probes)):
            if v is not None:
                raise DocumentError(
                    ("history", k), "not part of format version 1 (it came with version 2)"
                )
        given = []
    elif given is None:
        raise DocumentError(loc, f"required in format version {version}")
    n = len(steps)
    if probes is None:
        probes = [None] * n
    elif len(probes) != n:
        raise DocumentError(("history", "probe"), f"must have {n} entries (one per step)")
    elif any(p is not None and not 0 <= p < st.n_train for p in probes):
        raise DocumentError(
            ("history", "probe"), f"a probe is a training example's index, 0..{st.n_train - 1}"
        )
    out = LayerHistory()
    if not given:
        return out  # a history without points, or of version 1
    sizes = st.net.sizes
    if [g["l"] for g in given] != list(range(2, len(sizes) + 1)):
        raise DocumentError(loc, f"one entry per layer l = 2..{len(sizes)}, in order")
    for i, g in enumerate(given):
        for k in (*NORMS, *COUNTS):
            c = g[k]
            if c is None and k in COUNTS:
                continue
            if c is None or len(c) != n:
                raise DocumentError((*loc, i, k), f"must have {n} entries (one per step)")
            if k in NORMS and any(v is not None and not 0 <= v <= FLOAT32_MAX for v in c):
                raise DocumentError((*loc, i, k), f"norms are 0..{FLOAT32_MAX:.4g} or null")
            if k in COUNTS and any(v is not None and not 0 <= v <= sizes[i + 1] for v in c):
                raise DocumentError((*loc, i, k), f"counts are 0..{sizes[i + 1]} or null")
    for t, step in enumerate(steps):
        norms = [{k: g[k][t] for k in NORMS} for g in given]
        health = [
            {"l": g["l"], **{k: None if g[k] is None else g[k][t] for k in COUNTS}} for g in given
        ]
        empty = all(v is None for d in (*norms, *health) for k, v in d.items() if k != "l")
        if not empty:  # a step without a point stays one (null), as in the original
            out.record(step, norms, health, probe=probes[t])
    return out


def build_opened(opened: Opened, settings: Settings) -> tuple[RunState, list[HistoryPoint]]:
    """The state the document describes (for a worker thread): built from its settings,
    every part checked against it, then the trainer restored, and its history (an
    :class:`~app.runs.measurements.OpenedHistory`, with the per-layer series, for
    :meth:`~app.runs.measurements.Measurements.restore`); :class:`DocumentError` (or a
    ConfigError from the build, naming a setting) before anything is kept."""
    doc = opened.parts
    try:
        st = build(opened.experiment, settings)
    except DocumentError:
        raise
    except ConfigError as e:
        raise DocumentError(("settings", *e.loc), e.msg) from None
    if doc["data_sha256"] != data_sha256(st):
        raise DocumentError(
            ("data_sha256",),
            "the data these settings build here differs from the document's (another "
            "version draws or parses it differently): the run could not go on exactly",
        )
    fb = st.feedback
    given = doc["feedback_matrices"]
    if fb is not None and fb.rule.fixed:
        if given is None:
            raise DocumentError(("feedback_matrices",), "the random feedback rule needs them")
        shapes = [m.shape for m in fb.fixed]
        for mine, theirs in zip(
            fb.fixed, _matrices(given, shapes, ("feedback_matrices",), "B^3"), strict=True
        ):
            mine[...] = theirs  # before any step or frame builder has copied them
    elif given is not None:
        raise DocumentError(("feedback_matrices",), "null: this feedback rule has none")
    batches = doc["batches"]
    order = batches["order"]
    snap = checkpoint.TrainerState(
        theta=_theta(st, doc["parameters"], "parameters"),
        velocity=_theta(st, doc["velocity"], "velocity"),
        order=None if order is None else np.asarray(order, dtype=np.intp),
        cursor=batches["position"],
        rng=_rng_in(batches["rng"]),
        step=doc["step"],
        epoch=doc["epoch"],
        status=doc["status"],
    )
    where = {
        "theta": ("parameters",),
        "velocity": ("velocity",),
        "order": ("batches", "order"),
        "cursor": ("batches", "position"),
        "rng": ("batches", "rng"),
        "step": ("step",),
        "status": ("status",),
    }
    try:
        checkpoint.restore(st.trainer, snap)
    except checkpoint.CheckpointError as e:
        raise DocumentError(where.get(e.field, (e.field,)), str(e)) from None
    points = _history(doc["history"], snap.step)
    layers = _layers(doc["history"], doc["format_version"], st, [p[0] for p in points])
    st.builder(min(st.trainer.hyper.batch_size, st.n_train))  # as build_ready: the first
    if st.grid is not None:  # frame's slow parts, made here in the worker thread
        st.grid(st.net)
    return st, OpenedHistory(points, layers)
