"""Training runs: create, read, change, step, reset, probe, frame, data, history, delete."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from app.api.deps import DefaultConfigDep, RunDep, SettingsDep, StoreDep
from app.api.errors import config_error
from app.api.frame_model import Frame
from app.api.models import (
    HARD_LAYERS,
    HARD_WIDTH,
    History,
    ProbeRequest,
    RunConfig,
    RunData,
    RunInfo,
    StepRequest,
    WeightRequest,
)
from app.api.responses import OrjsonResponse, errors, json_bytes
from app.runs import driver, insight
from app.runs.config import ConfigError, merge
from app.runs.frames import encode
from app.runs.run import check_steps

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


LayerPath = Annotated[
    int, Path(ge=2, le=HARD_LAYERS + 2, description="layer l = 2..L the weight leads into")
]
DestPath = Annotated[
    int, Path(ge=0, le=HARD_WIDTH - 1, description="j: neuron in layer l (0-based)")
]
SourcePath = Annotated[
    int, Path(ge=0, le=HARD_WIDTH - 1, description="k: neuron in layer l-1 (0-based)")
]


@router.post(
    "",
    status_code=201,
    response_model=RunInfo,
    response_class=OrjsonResponse,
    responses=errors(413, 422, 429),
)
async def create_run(
    store: StoreDep,
    default_config: DefaultConfigDep,
    config: Annotated[RunConfig | None, Body()] = None,
) -> OrjsonResponse:
    """Create a run. Fields left out take the default experiment (`{}`: all of it)."""
    changes = config.model_dump(exclude_unset=True, by_alias=True) if config else {}
    run = store.create(merge(default_config, changes))
    return OrjsonResponse(run.info(), status_code=201)


@router.get(
    "/{run_id}",
    response_model=RunInfo,
    response_class=OrjsonResponse,
    responses=errors(404, 422),
)
async def read_run(run: RunDep) -> OrjsonResponse:
    """The run's config, status (`paused`, `running`, `diverged`), step and shape."""
    return OrjsonResponse(run.info())


@router.patch(
    "/{run_id}",
    response_model=RunInfo,
    response_class=OrjsonResponse,
    responses=errors(404, 413, 422),
)
async def change_run(run: RunDep, changes: Annotated[RunConfig, Body()]) -> OrjsonResponse:
    """Change part of the config. Only `learning_rate`, `lambda`, `regulariser`,
    `batch_size`, `momentum` (and `probe`) keep the weights; anything else rebuilds the run."""
    async with run.lock:
        run.update(changes.model_dump(exclude_unset=True, by_alias=True))
    return OrjsonResponse(run.info())


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
    request: Annotated[StepRequest | None, Body()] = None,
    grid: GridQuery = True,
    explain: ExplainQuery = None,
) -> OrjsonResponse:
    """Train `steps` steps or `epochs` epochs (an epoch is ⌈n_train / batch_size⌉ steps);
    no body is one step. Answers the frame after them."""
    req = request or StepRequest()
    async with run.lock:
        steps = check_steps(run, req.steps, req.epochs, settings)
        sel = _selection(run, explain)
        await driver.train(run, steps)
        return json_bytes(run.frame(grid=grid, explain=sel))


@router.post(
    "/{run_id}/reset",
    response_class=OrjsonResponse,
    responses={**FRAME, **errors(404, 422)},
)
async def reset_run(run: RunDep, grid: GridQuery = True) -> OrjsonResponse:
    """Back to step 0: same config and seed, so the same data and initial weights."""
    async with run.lock:
        run.reset()
        return json_bytes(run.frame(grid=grid, history=True))


@router.post(
    "/{run_id}/probe",
    response_class=OrjsonResponse,
    responses={**FRAME, **errors(404, 413, 422)},
)
async def set_probe(
    run: RunDep, request: Annotated[ProbeRequest, Body()], grid: GridQuery = False
) -> OrjsonResponse:
    """Choose the probe: the training example whose per-example tensors frames carry."""
    async with run.lock:
        run.set_probe(request.index)
        return json_bytes(run.frame(grid=grid))


@router.put(
    "/{run_id}/weights/{l}/{j}/{k}",
    response_class=OrjsonResponse,
    responses={**FRAME, **errors(404, 413, 422)},
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
    async with run.lock:
        try:
            run.set_weight(l, j, k, request.value)
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
async def read_history(run: RunDep) -> OrjsonResponse:
    """Train/test cost and accuracy, one point per measurement, the last 2,000 points."""
    return OrjsonResponse(run.history_dict())


@router.get(
    "/{run_id}/grid/{l}/{j}",
    response_class=OrjsonResponse,
    responses=errors(404, 422),
)
async def read_neuron_grid(
    run: RunDep,
    l: Annotated[int, Path(ge=1, le=HARD_LAYERS + 2, description="layer l = 1..L")],  # noqa: E741
    j: Annotated[int, Path(ge=0, le=HARD_WIDTH - 1, description="neuron in layer l, 0-based")],
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
