"""A run's checkpoint: its saved-experiment document (:mod:`app.runs.document`) and what the
document does not hold, as one JSON value a shared store (Redis) keeps.

The document is what a learner downloads from ``GET /api/runs/{id}/export``: the settings,
θ and the momentum's velocity, the batch order, position and generator state, the step and
the loss history; opened, it goes on exactly as the run would have. A checkpoint adds the
run's place on the server (:class:`Meta`): its id, its owner (the client that created it),
its steps per frame, and when it was created and last saved.

The document's settings are the wire's spelling of the experiment (the API maps them, one
layer up): a :class:`Codec` from the API translates both ways.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, cast

import orjson

from app.runs import document
from app.runs.experiment import Experiment
from app.runs.measurements import HistoryPoint, Measurements
from app.runs.run import Run
from app.runs.state import RunState
from app.settings import Settings

CHECKPOINT_FORMAT = "backprop-viz checkpoint"


class CheckpointError(ValueError):
    """A stored checkpoint this server cannot read (another format, or corrupt)."""


@dataclass(frozen=True)
class Codec:
    """The experiment as a document's ``settings`` spell it, both ways (from the API's
    mapping: :func:`app.api.mapping.wire_config` and its model)."""

    to_wire: Callable[[Experiment], dict[str, Any]]
    from_wire: Callable[[Mapping[str, Any]], Experiment]


@dataclass(frozen=True)
class Meta:
    """What a run is on this server besides its document. Times are Unix seconds."""

    id: str
    owner: str
    steps_per_frame: int
    created: float
    saved: float


class _Bare:
    """A run seen without its measurements (an empty history): what the document holds
    besides the history costs a fraction of a millisecond; the history of a long run
    (2,000 points and the per-layer series) about 20 ms, so it is kept apart."""

    def __init__(self, run: Run) -> None:
        self._run = run
        self.measurements = Measurements()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._run, name)


def capture(run: Run, codec: Codec, created: float, history: bool) -> tuple[bytes, bytes | None]:
    """The run now, as checkpoint bytes (on the event loop: the run is consistent between
    two awaits), and (``history``) its document's history as bytes too, else None (the
    checkpoint's own history is then empty). ``created``: when the run was first made."""
    meta = Meta(run.id, run.owner, run.steps_per_frame, created, time.time())
    seen = run if history else cast(Run, _Bare(run))
    doc = document.export(seen, codec.to_wire(run.config))
    kept = orjson.dumps(doc["history"]) if history else None
    if history:
        doc["history"] = {k: [] for k in doc["history"]}
    body = {"format": CHECKPOINT_FORMAT, "run": asdict(meta), "document": doc}
    return orjson.dumps(body), kept


@dataclass(frozen=True)
class Checkpoint:
    meta: Meta
    document: Mapping[str, Any]


def read(raw: bytes, history: bytes | None = None) -> Checkpoint:
    """Checkpoint bytes read back, with the history kept apart (if any, and if it ends at
    or before the checkpoint's step: an older history than the weights loses points of the
    loss chart, never the run); :class:`CheckpointError` if they are not a checkpoint."""
    try:
        body = orjson.loads(raw)
        if body.get("format") != CHECKPOINT_FORMAT:
            raise CheckpointError("not a backprop-viz checkpoint")
        doc = body["document"]
        if history is not None:
            kept = orjson.loads(history)
            steps = kept.get("step", [])
            if isinstance(steps, list) and (not steps or steps[-1] <= doc["step"]):
                doc["history"] = kept
        return Checkpoint(Meta(**body["run"]), doc)
    except (orjson.JSONDecodeError, AttributeError, KeyError, TypeError, IndexError) as e:
        raise CheckpointError(f"unreadable checkpoint: {e}") from None


def rebuild(
    cp: Checkpoint, codec: Codec, settings: Settings
) -> tuple[Experiment, RunState, list[HistoryPoint]]:
    """The state a checkpoint describes, for a worker thread: the document opened as
    ``POST /api/runs {"import": …}`` opens it (every part checked against the network)."""
    doc = cp.document
    document.check_version(doc)
    experiment = codec.from_wire(doc["settings"])
    state, history = document.build_opened(document.Opened(experiment, doc), settings)
    return experiment, state, history
