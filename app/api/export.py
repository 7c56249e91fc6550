"""Save, open and rewind a run: export, import (``POST /api/runs {"import": …}``), timeline,
rewind.

The document's layout and its checks against a network are the domain's
(:mod:`app.runs.document`); here are its wire model (types, ranges, no NaN: a 422 naming
the field before anything is built), the settings mapped from the wire, and the routes.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import Field, ValidationError

from app.api.deps import RunDep, client_address
from app.api.errors import config_error
from app.api.frame_model import Frame
from app.api.mapping import experiment_of, wire_config
from app.api.models import HARD_LAYERS, HARD_ROWS, Matrix, RunConfig, Strict, Vector
from app.api.responses import OrjsonResponse, errors, json_bytes
from app.runs import document
from app.runs.config import ConfigError
from app.runs.experiment import Experiment
from app.runs.measurements import HISTORY_POINTS
from app.runs.run import Run
from app.runs.state import RunState
from app.runs.store import RunStore
from app.runs.work import Workers
from app.settings import Settings

router = APIRouter(prefix="/api/runs", tags=["runs"])

MAX_STEP = 2**53  # a step count a JSON reader keeps exactly
Hex128 = Annotated[str, Field(pattern=r"^0x[0-9a-f]{1,32}$", description="a 128-bit number")]


class GeneratorState(Strict):
    """``numpy.random.PCG64``'s state, its 128-bit numbers as hex strings."""

    bit_generator: Literal["PCG64"]
    state: Hex128
    inc: Hex128
    has_uint32: int = Field(ge=0, le=1)
    uinteger: int = Field(ge=0, le=2**32 - 1)


class Batches(Strict):
    order: list[Annotated[int, Field(ge=0, le=HARD_ROWS)]] | None = Field(
        max_length=HARD_ROWS,
        description="this epoch's permutation of the training examples (null: before the first)",
    )
    position: int = Field(ge=0, le=HARD_ROWS, description="where in it the next batch starts")
    rng: GeneratorState


class Parameters(Strict):
    weights: list[Matrix] = Field(max_length=HARD_LAYERS + 1, description="w^l, l = 2..L")
    biases: list[Vector] = Field(max_length=HARD_LAYERS + 1, description="b^l, l = 2..L")


OptionalNumbers = list[float | None]


Norm = Annotated[float, Field(ge=0)]
Count = Annotated[int, Field(ge=0)]


class LayerColumns(Strict):
    """One layer's series at the history's steps, as GET /history's ``layers``."""

    l: int = Field(ge=2, le=HARD_LAYERS + 2)  # noqa: E741 (the notation's layer index)
    probe_delta: list[Norm | None] = Field(max_length=HISTORY_POINTS)
    probe_grad_w: list[Norm | None] = Field(max_length=HISTORY_POINTS)
    grad_b: list[Norm | None] = Field(max_length=HISTORY_POINTS)
    grad_w: list[Norm | None] = Field(max_length=HISTORY_POINTS)
    saturated: list[Count | None] | None = Field(max_length=HISTORY_POINTS)
    dead: list[Count | None] | None = Field(max_length=HISTORY_POINTS)


class HistoryColumns(Strict):
    step: list[int] = Field(max_length=HISTORY_POINTS)
    epoch: list[int] = Field(max_length=HISTORY_POINTS)
    train_cost: OptionalNumbers = Field(max_length=HISTORY_POINTS)
    test_cost: OptionalNumbers = Field(max_length=HISTORY_POINTS)
    train_accuracy: OptionalNumbers = Field(max_length=HISTORY_POINTS)
    test_accuracy: OptionalNumbers = Field(max_length=HISTORY_POINTS)
    layers: list[LayerColumns] | None = Field(
        default=None,
        max_length=HARD_LAYERS + 1,
        description="format version 2 on (required there): per layer l = 2..L, the "
        "gradient's norms and the saturated and dead units at `step` (GET /history's)",
    )
    probe: list[Count | None] | None = Field(
        default=None,
        max_length=HISTORY_POINTS,
        description="with `layers`, optional: the probe example's index at `step`, whose "
        "`layers[].probe_*` norms those are (GET /history's); left out, not known",
    )


class RunDocument(Strict):
    """A run, everything it goes on from (docs/api.md, "export")."""

    format: Literal["backprop-viz run"]
    format_version: int = Field(ge=1, le=document.FORMAT_VERSION)
    settings: RunConfig
    step: int = Field(ge=0, le=MAX_STEP)
    epoch: int = Field(ge=0, le=MAX_STEP)
    status: Literal["ok", "diverged"]
    parameters: Parameters
    velocity: Parameters = Field(description="the momentum's v, shaped like the parameters")
    batches: Batches
    feedback_matrices: list[Matrix] | None = Field(max_length=HARD_LAYERS)
    data_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    history: HistoryColumns


class RunConfigOrImport(RunConfig):
    """``POST /api/runs``: a config (fields left out take the server's default experiment),
    or ``{"import": <document>}`` alone."""

    import_: dict[str, Any] | None = Field(
        default=None,
        alias="import",
        description="a run document from GET /api/runs/{id}/export (RunDocument), alone",
    )


class Timeline(Strict):
    steps: list[int] = Field(description="the kept steps, ascending")
    step: int = Field(description="the run's step now")
    bytes: int = Field(description="bytes the snapshots hold")
    budget_bytes: int
    max_snapshots: int


class RewindRequest(Strict):
    step: int = Field(ge=0, le=MAX_STEP, description="go back to the latest kept step ≤ this")


def _invalid(loc: tuple[str | int, ...], errs: list[Any]) -> RequestValidationError:
    return RequestValidationError(
        [{**e, "loc": (*loc, *e.get("loc", ()))} for e in errs]  # the caller's place first
    )


async def open_document(
    http: Request,
    store: RunStore,
    settings: Settings,
    workers: Workers,
    raw: Any,
) -> Run:
    """A run made from the document ``raw`` (``POST /api/runs {"import": raw}``): checked
    in full, built in a worker thread, registered only if every part fits. Raises a 422
    naming the field (``["body", "import", …]``), or the store's refusals (429)."""
    loc: tuple[str, ...] = ("body", "import")
    if not isinstance(raw, dict):
        raise _invalid(loc, [{"msg": "a run document (a JSON object)", "type": "dict_type"}])
    try:
        document.check_version(raw)
        doc = RunDocument.model_validate(raw)
    except ConfigError as e:
        raise _invalid(loc, [{"loc": e.loc, "msg": e.msg, "type": "value_error"}]) from None
    except ValidationError as e:
        raise _invalid(loc, e.errors(include_input=False)) from None
    opened = document.Opened(experiment_of(doc.settings), doc.model_dump())

    built: dict[str, Any] = {}

    async def build_off_loop(c: Experiment) -> RunState:
        st, history = await workers.run(document.build_opened, opened, settings)
        built["history"] = history
        return st

    try:
        run = await store.create_async(opened.experiment, client_address(http), build_off_loop)
    except document.DocumentError:
        raise
    except ConfigError as e:  # the memory estimate of the document's settings
        raise document.DocumentError(("settings", *e.loc), e.msg) from None
    run.measurements.restore(built["history"])
    return run


def document_error(e: ConfigError, at: tuple[str, ...] = ("body", "import")) -> OrjsonResponse:
    """A document's :class:`~app.runs.document.DocumentError` as a 422 at its field."""
    response = config_error(e, at)
    return OrjsonResponse(response.body, status_code=response.status_code)


@router.get(
    "/{run_id}/export",
    response_model=RunDocument,
    response_class=OrjsonResponse,
    responses=errors(404, 422),
)
async def export_run(run: RunDep) -> OrjsonResponse:
    """The run as one self-contained JSON document: `POST /api/runs {"import": <it>}` makes
    a run that goes on exactly as this one would (the same weights, bit for bit)."""
    body = document.export(run, wire_config(run.config))
    name = f"run-{body['step']}.json"
    return OrjsonResponse(body, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get(
    "/{run_id}/timeline",
    response_model=Timeline,
    response_class=OrjsonResponse,
    responses=errors(404, 422),
)
async def read_timeline(run: RunDep) -> OrjsonResponse:
    """The steps the run can be rewound to (snapshots kept within `budget_bytes`)."""
    tl = run.lab.timeline
    return OrjsonResponse(
        {
            "steps": tl.steps,
            "step": run.step,
            "bytes": tl.bytes,
            "budget_bytes": tl.budget,
            "max_snapshots": tl.most,
        }
    )


@router.post(
    "/{run_id}/rewind",
    response_class=OrjsonResponse,
    responses={
        200: {"model": Frame, "description": "The frame at the kept step"},
        **errors(404, 409, 413, 422),
    },
)
async def rewind_run(
    run: RunDep,
    request: Annotated[RewindRequest, Body()],
    grid: Annotated[bool, Query(description="include the decision-boundary grid")] = True,
) -> OrjsonResponse:
    """Move the run to the latest kept step ≤ `step` (exactly the state it had then) and
    answer its frame, with the loss history cut there. Training on drops the snapshots and
    history after it."""
    async with run.claim():
        run.touch()
        try:
            run.rewind(request.step)
        except ConfigError as e:
            response = config_error(e)
            return OrjsonResponse(response.body, status_code=response.status_code)
        return json_bytes(run.frame(grid=grid, history=True))
