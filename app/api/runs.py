"""Training runs: create, read, change, step, reset, probe, frame, data, history, delete.

Requests that change a run wait at most ``BUSY_WAIT_S`` for it (another request or its
stream may hold it), then answer 409 saying what the run is busy with. Builds that parse
or draw data run in a worker thread (:mod:`app.runs.work`); a REST step trains on the event
loop in ~5 ms chunks and stops at ``max_steps_per_request`` steps, ``max_request_s``
seconds, the client's disconnect, or the run's deletion (``X-Steps-Done``,
``X-Stopped-By``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Body, FastAPI, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from app.api import export
from app.api.deps import (
    DefaultConfigDep,
    RunDep,
    SettingsDep,
    StoreDep,
    WorkersDep,
    client_address,
)
from app.api.errors import config_error
from app.api.frame_model import Frame, NeuronGrid
from app.api.mapping import changes_of, experiment_of, run_info
from app.api.models import (
    History,
    ProbeRequest,
    RunConfig,
    RunData,
    RunInfo,
    StepRequest,
    WeightRequest,
)
from app.api.responses import OrjsonResponse, errors, json_bytes
from app.runs import commands, driver, insight
from app.runs.config import ConfigError
from app.runs.experiment import Experiment
from app.runs.frames import encode
from app.runs.run import RunBusy, RunGone
from app.runs.state import RunState, build_ready
from app.runs.store import StoreFull
from app.runs.work import WorkersBusy

router = APIRouter(prefix="/api/runs", tags=["runs"])

FRAME: dict[int | str, dict[str, Any]] = {
    200: {"model": Frame, "description": "The run's current frame (docs/frames.md)"}
}
GridQuery = Annotated[bool, Query(description="include the decision-boundary grid")]
ExplainQuery = Annotated[
    str | None,
    Query(
        pattern=r"^\d{1,4},\d{1,4}(,\d{1,4})?$",
        description="`l,j` (neuron j of layer l) or `l,j,k` (edge k → j into layer l), "
        "0-based j, k: the frame's `explain` carries its terms in full precision",
    ),
]


def _selection(run: Any, explain: str | None) -> insight.Selection | None:
    """The ``explain`` query as a selection checked against the network, else 422."""
    if explain is None:
        return None
    parts = [int(p) for p in explain.split(",")]
    try:
        return insight.check_selection(
            run.state.net.sizes, parts[0], parts[1], parts[2] if len(parts) > 2 else None
        )
    except ConfigError as e:
        msg = f"{'.'.join(str(p) for p in e.loc)}: {e.msg}"
        raise RequestValidationError(
            [{"loc": ("query", "explain"), "msg": msg, "type": "value_error"}]
        ) from None


LayerPath = Annotated[int, Path(ge=2, description="layer l = 2..L the weight leads into")]
DestPath = Annotated[int, Path(ge=0, description="j: neuron in layer l (0-based)")]
SourcePath = Annotated[int, Path(ge=0, description="k: neuron in layer l-1 (0-based)")]


@router.post(
    "",
    status_code=201,
    response_model=RunInfo,
    response_class=OrjsonResponse,
    responses=errors(413, 422, 429, 503),
)
async def create_run(
    http: Request,
    store: StoreDep,
    settings: SettingsDep,
    workers: WorkersDep,
    default_config: DefaultConfigDep,
    config: Annotated[export.RunConfigOrImport | None, Body()] = None,
) -> OrjsonResponse:
    """Create a run. Fields left out take the default experiment (`{}`: all of it).
    `{"import": <document>}` alone makes the run a document from `GET .../export` describes,
    going on exactly where it was. Refused (429, `Retry-After`) when the server holds
    `max_runs` runs, this client `max_runs_per_client`, or the runs' memory estimates would
    pass `memory_mb`; a run whose own estimate is over `run_memory_mb` is a 422 naming the
    field that makes it big."""
    if config is not None and "import_" in config.model_fields_set:
        others = sorted(config.model_fields_set - {"import_"})
        if others:
            refused = ConfigError((others[0],), "give a config or an import, not both")
            return export.document_error(refused, ("body",))
        try:
            run = await export.open_document(http, store, settings, workers, config.import_)
        except ConfigError as e:
            return export.document_error(e)
        return OrjsonResponse(run_info(run), status_code=201)
    experiment = experiment_of(default_config).changed(**(changes_of(config) if config else {}))

    async def build_off_loop(c: Experiment) -> RunState:
        return await workers.run(build_ready, c, settings)

    run = await store.create_async(experiment, client_address(http), build_off_loop)
    return OrjsonResponse(run_info(run), status_code=201)


@router.get(
    "/{run_id}",
    response_model=RunInfo,
    response_class=OrjsonResponse,
    responses=errors(404, 422),
)
async def read_run(run: RunDep) -> OrjsonResponse:
    """The run's config, status (`paused`, `running`, `diverged`), step and shape."""
    return OrjsonResponse(run_info(run))


@router.patch(
    "/{run_id}",
    response_model=RunInfo,
    response_class=OrjsonResponse,
    responses=errors(404, 409, 413, 422, 429, 503),
)
async def change_run(
    run: RunDep, workers: WorkersDep, changes: Annotated[RunConfig, Body()]
) -> OrjsonResponse:
    """Change part of the config. Only `learning_rate`, `lambda`, `regulariser`,
    `batch_size`, `momentum` (and `probe`) keep the weights; anything else rebuilds the run
    (new data is drawn or parsed in a worker thread)."""
    async with run.claim():
        await commands.configure(run, changes_of(changes), workers)
    return OrjsonResponse(run_info(run))


@router.delete("/{run_id}", status_code=204, response_class=Response, responses=errors(404, 422))
async def delete_run(run: RunDep, store: StoreDep) -> Response:
    store.delete(run.id)
    return Response(status_code=204)


@router.post(
    "/{run_id}/step",
    response_class=OrjsonResponse,
    responses={**FRAME, **errors(404, 409, 413, 422)},
)
async def step_run(
    run: RunDep,
    settings: SettingsDep,
    http: Request,
    request: Annotated[StepRequest | None, Body()] = None,
    grid: GridQuery = True,
    explain: ExplainQuery = None,
) -> JSONResponse:
    """Train `steps` steps or `epochs` epochs (an epoch is ⌈n_train / batch_size⌉ steps);
    no body is one step. Answers the frame after them. The training is paced like a playing
    stream at "max" speed (a fair share of the core, not all of it); it stops early after
    `max_request_s` seconds, when the client disconnects, or when the run is deleted: the
    headers `X-Steps-Done` (steps trained) and `X-Stopped-By` (`steps`, `time_cap`,
    `diverged`) say how it ended."""
    req = request or StepRequest()
    async with run.claim():
        steps = commands.step(run, req.steps, req.epochs, settings)
        sel = _selection(run, explain)
        deadline = time.monotonic() + settings.max_request_s
        async with _cancelled_on_disconnect(http) as gone:
            pacer = http.app.state.pacer
            done = await driver.train_paced(run, steps, pacer, deadline=deadline, cancel=gone)
        run.touch()
        if done.stopped_by == "deleted":
            return JSONResponse(
                {"detail": f"the run was deleted while training ({done.steps} steps done)"},
                status_code=404,
            )
        response = json_bytes(run.frame(grid=grid, explain=sel))
    response.headers["X-Steps-Done"] = str(done.steps)
    response.headers["X-Stopped-By"] = done.stopped_by
    return response


@contextlib.asynccontextmanager
async def _cancelled_on_disconnect(http: Request) -> AsyncIterator[asyncio.Event]:
    """An event set when the client goes away (the ASGI ``http.disconnect`` message; the
    body has been read already, so ``receive`` waits for nothing else)."""
    gone = asyncio.Event()

    async def watch() -> None:
        while True:
            message = await http.receive()
            if message["type"] == "http.disconnect":
                gone.set()
                return

    task = asyncio.create_task(watch())
    try:
        yield gone
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


@router.post(
    "/{run_id}/reset",
    response_class=OrjsonResponse,
    responses={**FRAME, **errors(404, 409, 422, 503)},
)
async def reset_run(run: RunDep, workers: WorkersDep, grid: GridQuery = True) -> OrjsonResponse:
    """Back to step 0: same config and seed, so the same data and initial weights."""
    async with run.claim():
        await commands.reset(run, workers)
        return json_bytes(run.frame(grid=grid, history=True))


@router.post(
    "/{run_id}/probe",
    response_class=OrjsonResponse,
    responses={**FRAME, **errors(404, 409, 413, 422)},
)
async def set_probe(
    run: RunDep, request: Annotated[ProbeRequest, Body()], grid: GridQuery = False
) -> OrjsonResponse:
    """Choose the probe: the training example whose per-example tensors frames carry."""
    async with run.claim():
        commands.probe(run, request.index)
        return json_bytes(run.frame(grid=grid))


@router.put(
    "/{run_id}/weights/{l}/{j}/{k}",
    response_class=OrjsonResponse,
    responses={**FRAME, **errors(404, 409, 413, 422)},
)
async def set_weight(
    run: RunDep,
    l: LayerPath,  # noqa: E741
    j: DestPath,
    k: SourcePath,
    request: Annotated[WeightRequest, Body()],
    grid: GridQuery = True,
) -> JSONResponse:
    """Set one weight `w^l_jk` (j, k 0-based; row j in layer l, column k in layer l-1),
    keeping every other parameter; its momentum velocity is zeroed. A diverged run stays
    diverged until a reset or a learning-rate change. Answers the frame after it."""
    async with run.claim():
        try:
            commands.set_weight(run, l, j, k, request.value)
        except ConfigError as e:
            return config_error(e, ("path",) if e.loc[0] in ("l", "j", "k") else ("body",))
        return json_bytes(run.frame(grid=grid))


@router.get(
    "/{run_id}/frame",
    response_class=OrjsonResponse,
    responses={**FRAME, **errors(404, 422)},
)
async def read_frame(
    run: RunDep, grid: GridQuery = False, explain: ExplainQuery = None
) -> OrjsonResponse:
    """The current frame (`docs/frames.md`); `grid=true` adds the decision boundary,
    `explain=l,j[,k]` the full-precision terms of that neuron or edge."""
    return json_bytes(run.frame(grid=grid, explain=_selection(run, explain)))


@router.get(
    "/{run_id}/data",
    response_model=RunData,
    response_class=OrjsonResponse,
    responses=errors(404, 422),
)
async def read_data(run: RunDep) -> OrjsonResponse:
    """The raw points and labels of the training and test sets, and their extent."""
    return OrjsonResponse(run.data())


@router.get(
    "/{run_id}/history",
    response_model=History,
    response_class=OrjsonResponse,
    responses=errors(404, 422),
)
async def read_history(
    run: RunDep,
    histograms: Annotated[
        bool, Query(description="add the layer histograms over time (up to 32 snapshots)")
    ] = False,
    since: Annotated[
        int | None,
        Query(
            ge=0,
            le=2**53,
            description="only the points at steps after this one (a poller's increment; "
            "read all again when `revision` changes)",
        ),
    ] = None,
) -> OrjsonResponse:
    """Train/test cost and accuracy, one point per measurement, the last 2,000 points, and
    per layer the gradient's norms and the saturated and dead units at the same steps."""
    return OrjsonResponse(run.history_dict(histograms, since))


@router.get(
    "/{run_id}/grid/{l}/{j}",
    response_class=OrjsonResponse,
    responses={200: {"model": NeuronGrid, "description": "a^l_j on the grid"}, **errors(404, 422)},
)
async def read_neuron_grid(
    run: RunDep,
    l: Annotated[int, Path(ge=1, description="layer l = 1..L")],  # noqa: E741
    j: Annotated[int, Path(ge=0, description="neuron in layer l, 0-based")],
) -> JSONResponse:
    """Neuron `a^l_j` over the 64 x 64 grid of the input plane (`values[r][c]` at
    `(x1[c], x2[r])`, 4 significant digits): what the page shows while a neuron is hovered."""
    st = run.state
    try:
        insight.check_selection(st.net.sizes, l, j, None)
    except ConfigError as e:
        return config_error(e, ("path",))
    if st.grid is None:
        d = st.dataset.points.shape[1]
        return config_error(
            ConfigError(("l",), f"the data has {d} inputs: there is no input plane to draw"),
            ("path",),
        )
    return json_bytes(encode(st.grid.neuron(st.net, l, j)))


def _busy(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=409)


def _gone(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=404)


def _refused(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StoreFull | WorkersBusy)
    status = 503 if isinstance(exc, WorkersBusy) else 429
    body = {"detail": str(exc)}
    if isinstance(exc, StoreFull):
        body["reason"] = exc.reason  # which limit: the page's advice depends on it
    return JSONResponse(body, status_code=status, headers={"Retry-After": str(exc.retry_after)})


def install(app: FastAPI) -> None:
    """Error answers for busy runs (409), budgets and caps (429) and a full work queue (503),
    each with a message saying what is going on; registered after :mod:`app.api.errors`."""
    app.add_exception_handler(RunBusy, _busy)
    app.add_exception_handler(RunGone, _gone)
    app.add_exception_handler(StoreFull, _refused)
    app.add_exception_handler(WorkersBusy, _refused)
