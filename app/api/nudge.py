"""Nudge a run's z, a, w or b on its probe example and measure the slope of C_x
(:mod:`app.core.nudge`): ``POST /api/runs/{id}/nudge`` for one quantity,
``POST /api/runs/{id}/nudge_layer`` for every weight of a layer, counted and timed against
one backprop. Neither changes the run: they read its weights and probe, and nudge copies.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Body
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, BaseModel, Field

from app.api.deps import RunDep, WorkersDep
from app.api.errors import config_error
from app.api.models import Strict
from app.api.responses import OrjsonResponse, errors
from app.core import nudge as core
from app.runs.config import ConfigError
from app.runs.work import Workers

T = TypeVar("T")
router = APIRouter(prefix="/api/runs", tags=["runs"])

# Every weight of a layer is 2 forward passes each (~20-60 µs apiece here): 4,096 weights
# take about a third of a second, in a worker thread. Bigger layers (an operator may allow
# up to 4,096 × 4,096) are refused, naming the limit.
MAX_LAYER_WEIGHTS = 4096
# Fewer forward passes than this run on the event loop (well under 5 ms); more, in a worker.
INLINE_PASSES = 64
# A single nudge (one backprop, two forward passes, copies of the layers it re-runs) is about
# 3 passes over the parameters: on the event loop up to this many (well under 5 ms), else in
# a worker thread (only networks an operator's raised caps allow get there).
INLINE_PARAMS = 100_000
EPSILON_MAX = 1.0
EPSILON_MIN = 1e-15


def _check_epsilon(v: float | None) -> float | None:
    if v is not None and not EPSILON_MIN <= v <= EPSILON_MAX:
        raise ValueError(
            f"epsilon must be between 1e-15 and {EPSILON_MAX:g} (smaller is rounding noise "
            "only; larger is no longer a slope at a point)"
        )
    return v


Epsilon = Annotated[
    float | None,
    AfterValidator(_check_epsilon),
    Field(
        default=None,
        json_schema_extra={"minimum": EPSILON_MIN, "maximum": EPSILON_MAX},
        description="the step ε (1e-15..1); left out, the server picks ε = ∛u·max(1, |q|) "
        "(u = 2⁻⁵², ∛u ≈ 6.1e-6; for a^L under a cost with a logarithm, its distance to 0 or "
        "1 instead of max(1, |q|))",
    ),
]
Layer = Annotated[int, Field(ge=1, description="layer l = 2..L")]
Neuron = Annotated[int, Field(ge=0)]


class NudgeRequest(Strict):
    """One quantity of the run's network to nudge on the probe example."""

    of: Literal["z", "a", "w", "b"] = Field(description="z^l_j, a^l_j, w^l_jk or b^l_j")
    l: Layer  # noqa: E741
    j: Neuron = Field(description="neuron j of layer l, 0-based")
    k: Neuron | None = Field(default=None, description="w only: neuron k of layer l-1, 0-based")
    epsilon: Epsilon = None


class NudgeAnswer(BaseModel):
    """The measured slope of the probe's unregularised cost C_x and backprop's value."""

    of: str
    l: int  # noqa: E741
    j: int
    k: int | None
    epsilon: float = Field(description="half the nudge made: ((q + ε) − (q − ε)) / 2")
    cost: float = Field(description="C_x of the probe example, unregularised")
    measured: float = Field(description="(C_x(q + ε) − C_x(q − ε)) / ((q + ε) − (q − ε))")
    backprop: float = Field(
        description="δ^l_j (z, b); Σ_i w^{l+1}_ij δ^{l+1}_i (a; ∇_a C_x for a^L); "
        "a^{l-1}_k δ^l_j (w)"
    )
    inverse: float | None = Field(
        description="what the inverse rule predicts for the same slope: backprop's reading with "
        "BP2 through the pseudo-inverse (w^{l+1})^+ instead of (w^{l+1})^T (equal to backprop "
        "for layer L); null if not finite"
    )
    feedback: str = Field(description="the run's own rule (its `feedback` setting)")
    rule: float | None = Field(
        description="what the run's own rule predicts (backprop's value for the transpose)"
    )
    forward_passes: int = Field(description="2: C_x(q + ε) and C_x(q − ε)")
    probe: int = Field(description="the training example nudged (the run's probe)")
    step: int = Field(description="the run's step: the weights the slope was measured at")


class LayerRequest(Strict):
    """Every weight of layer l, nudged one after the other."""

    l: Layer  # noqa: E741
    epsilon: Epsilon = None


class Passes(BaseModel):
    forward_passes: int
    backward_passes: int
    seconds: float = Field(description="the fastest of 5 runs of one backprop, seconds")


class Worst(BaseModel):
    j: int
    k: int
    measured: float
    backprop: float


class LayerAnswer(BaseModel):
    """Nudging every weight w^l_jk against backprop's one forward and one backward pass."""

    l: int  # noqa: E741
    count: int = Field(description="weights nudged: n_l · n_{l-1}")
    forward_passes: int = Field(description="2 per weight")
    seconds: float = Field(description="server time the nudges took")
    backprop: Passes
    max_rel_diff: float = Field(
        description="max |measured − backprop| / max(|measured|, |backprop|, 1e-4)"
    )
    worst: Worst
    probe: int
    step: int


def _refused(e: core.NudgeError) -> JSONResponse:
    """422 naming the body field at fault and its limit."""
    return config_error(ConfigError((e.field,), str(e)))


def _not_finite(e: core.NotFinite) -> JSONResponse:
    return JSONResponse({"detail": str(e)}, status_code=409)


async def _measured(
    workers: Workers, inline: bool, fn: Callable[..., T], *args: Any
) -> T | JSONResponse:
    """``fn(*args)`` here (``inline``: a few forward passes) or in the worker thread; a
    refused nudge is its 422, a slope that is not finite its 409."""
    try:
        return fn(*args) if inline else await workers.run(fn, *args)
    except core.NudgeError as e:
        return _refused(e)
    except core.NotFinite as e:
        return _not_finite(e)


@router.post(
    "/{run_id}/nudge",
    response_model=NudgeAnswer,
    response_class=OrjsonResponse,
    responses=errors(404, 409, 413, 422, 503),
)
async def nudge(
    run: RunDep, workers: WorkersDep, request: Annotated[NudgeRequest, Body()]
) -> JSONResponse:
    """Nudge `z^l_j`, `a^l_j`, `w^l_jk` or `b^l_j` (l in the book's numbering, 2..L; j, k
    0-based) by ±ε on the probe example and measure the slope of its unregularised cost
    C_x, beside backprop's value, what the inverse rule would have predicted, and what the
    run's own rule predicts. 2 forward passes; the run is not changed. A 409 when the slope
    is not finite (a saturated output under a logarithm, a diverged network)."""
    st, probe, step = run.state, run.probe, run.state.trainer.step
    r = request
    inline = st.net.n_params() <= INLINE_PARAMS
    if inline:
        args = (st.net, st.cost_name, st.x[probe], st.y[probe])
    else:  # a copy: a playing stream may train the run while the worker nudges
        args = (st.net.copy(), st.cost_name, st.x[probe].copy(), st.y[probe].copy())
    fb = st.feedback
    answer = await _measured(workers, inline, core.nudge, *args, r.of, r.l, r.j, r.k, r.epsilon, fb)
    if isinstance(answer, JSONResponse):
        return answer
    return OrjsonResponse(
        {
            "of": answer.of,
            "l": answer.l,
            "j": answer.j,
            "k": answer.k,
            "epsilon": answer.epsilon,
            "cost": answer.cost,
            "measured": answer.measured,
            "backprop": answer.backprop,
            "inverse": answer.inverse,
            "feedback": run.config.feedback,
            "rule": answer.rule,
            "forward_passes": answer.forward_passes,
            "probe": probe,
            "step": step,
        }
    )


@router.post(
    "/{run_id}/nudge_layer",
    response_model=LayerAnswer,
    response_class=OrjsonResponse,
    responses=errors(404, 409, 413, 422, 503),
)
async def nudge_layer(
    run: RunDep, workers: WorkersDep, request: Annotated[LayerRequest, Body()]
) -> JSONResponse:
    """Nudge every weight `w^l_jk` of layer l in turn on the probe example (2 forward
    passes each) and say how many passes and how long that took, against backprop's one
    forward and one backward pass, which gave all of them at once; `max_rel_diff` is the
    largest disagreement. Layers of more than 4,096 weights are refused. The run is not
    changed."""
    st, probe, step = run.state, run.probe, run.state.trainer.step
    sizes = st.net.sizes
    try:
        core.check(st.net, "w", request.l, 0, 0)
    except core.NudgeError as e:
        return _refused(e)
    count = sizes[request.l - 1] * sizes[request.l - 2]
    if count > MAX_LAYER_WEIGHTS:
        return _refused(
            core.NudgeError(
                "l",
                f"layer {request.l} has {count} weights: nudging a whole layer is limited to "
                f"{MAX_LAYER_WEIGHTS} (nudge single weights instead)",
            )
        )
    # a copy: a playing stream may train the run while the worker nudges
    net, x, y = st.net.copy(), st.x[probe].copy(), st.y[probe].copy()
    args = (net, st.cost_name, x, y, request.l, request.epsilon)
    inline = core.FORWARD_PASSES * count <= INLINE_PASSES
    r = await _measured(workers, inline, core.nudge_layer, *args)
    if isinstance(r, JSONResponse):
        return r
    j, k = r.worst
    return OrjsonResponse(
        {
            "l": r.l,
            "count": r.count,
            "forward_passes": r.forward_passes,
            "seconds": r.seconds,
            "backprop": {"forward_passes": 1, "backward_passes": 1, "seconds": r.backprop_seconds},
            "max_rel_diff": r.max_rel_diff,
            "worst": {
                "j": j,
                "k": k,
                "measured": float(r.measured[j, k]),
                "backprop": float(r.backprop[j, k]),
            },
            "probe": probe,
            "step": step,
        }
    )
