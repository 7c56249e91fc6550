"""Request and response models of the REST API and the stream protocol.

Every request model is strict (no ``false`` → ``0``, no ``"1"`` → ``1``), forbids unknown
fields and refuses NaN and ±Infinity. Bounds that depend on :class:`app.settings.Settings`
or on the data (a run's widths, depth and batch size: :func:`app.runs.config.check_caps`;
steps per request; a probe's index) are checked before anything is built, by refusals that
name the cap, and are patched into the OpenAPI document by :func:`app.api.openapi.install`;
such fields have no schema maximum here, which would answer a far bigger value with a limit
that is not the server's. Indices into a run's network (``l``, ``j``, ``k`` of a weight, a
neuron, a nudge, a selection) have none either: the network's own shape bounds them, and
the refusal says it ("layer 3 has 2 neurons: j must be 0..1"). The ``HARD_*`` bounds keep
the other fields (``POST /api/backprop``'s sizes, a document's arrays) within what any
server could hold.

Indexing follows ``notation.md``: per-layer lists start at the first non-input layer, so
``weights[i][j][k]`` is ``w^{i+2}_jk``, row j = destination neuron in layer l, column k =
source neuron in layer l-1.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.core import activations, costs, feedback, regularisers
from app.runs.experiment import Experiment
from app.runs.pacer import MAX_STEPS_PER_FRAME
from app.runs.run import MAX_WEIGHT

HARD_WIDTH = 4096
HARD_LAYERS = 64
HARD_ROWS = 1_000_000
MAX_SEED = 2**32 - 1

# The names come from the registries (app/core/activations.py, costs.py, regularisers.py);
# a Literal built at import is an enum in the OpenAPI document, which mypy cannot read.
if TYPE_CHECKING:
    HiddenActivation = str
    ActivationName = str
    CostName = str
    RegulariserName = str
    FeedbackName = str
else:
    HiddenActivation = Literal[activations.HIDDEN]
    ActivationName = Literal[activations.OUTPUT]
    CostName = Literal[costs.NAMES]
    RegulariserName = Literal[regularisers.NAMES]
    FeedbackName = Literal[feedback.NAMES]
InitName = Literal["playground", "xavier", "he", "standard_normal", "zeros"]
DatasetName = Literal[
    "circle", "xor", "gauss", "spiral", "plane", "multigauss", "blobs3", "spiral3", "digits", "csv"
]
FeatureName = Literal["x1", "x2", "x1^2", "x2^2", "x1x2", "sin_x1", "sin_x2"]
Kind = Literal["classification", "regression", "multiclass"]
Status = Literal["paused", "running", "diverged"]

Width = Annotated[int, Field(ge=1, le=HARD_WIDTH)]
Vector = list[float]
Matrix = list[list[float]]


class Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False)


_D: Any = Experiment()  # the domain's defaults (app/runs/experiment.py)


class RunConfig(Strict):
    """One experiment, as the wire spells it (:class:`app.runs.experiment.Experiment` in the
    domain; :mod:`app.api.mapping` maps one onto the other). In a request every field is
    optional: missing fields take the server's default experiment (TensorFlow Playground's,
    or the teacher's preset)."""

    dataset: DatasetName = Field(default=_D.dataset)
    noise: float = Field(
        default=_D.noise, ge=0.0, le=0.5, description="Playground's 0-50 % as 0-0.5"
    )
    train_share: float = Field(default=_D.train_share, ge=0.1, le=0.9)
    seed: int = Field(default=_D.seed, ge=0, le=MAX_SEED)
    csv: str | None = Field(
        default=_D.csv,
        max_length=10_000_000,
        description="CSV text used when dataset == 'csv': numeric columns, the target last",
    )
    features: list[FeatureName] = Field(default=list(_D.features), min_length=1, max_length=7)
    # Widths, depth, batch size and probe are bounded by the server's caps (max_width,
    # max_layers, max_batch: app/runs/config.py) and the data, checked before anything is
    # built, whose refusals name the cap that applies; a schema bound here would answer a
    # bigger value with a limit that is not the server's (4096 where max_width is 8).
    hidden: list[Annotated[int, Field(ge=1)]] = Field(
        default=list(_D.hidden), description="neurons per hidden layer"
    )
    hidden_activation: HiddenActivation = Field(default=_D.hidden_activation)
    output_activation: ActivationName | None = Field(
        default=_D.output_activation, description="null: the dataset kind's default"
    )
    cost: CostName | None = Field(default=_D.cost, description="null: the dataset kind's default")
    init: InitName = Field(default=_D.init)
    learning_rate: float = Field(default=_D.learning_rate, ge=1e-5, le=10.0, description="η")
    batch_size: int = Field(default=_D.batch_size, ge=1)
    regulariser: RegulariserName = Field(default=_D.regulariser)
    lambda_: float = Field(default=_D.lmbda, alias="lambda", ge=0.0, le=10.0, description="λ")
    momentum: float = Field(default=_D.momentum, ge=0.0, le=0.99, description="μ")
    feedback: FeedbackName = Field(
        default=_D.feedback,
        description="the matrix BP2 carries δ^{l+1} back with: 'transpose' (backprop), "
        "'inverse' (the pseudo-inverse of w^{l+1}), 'random' (fixed, drawn from the seed); "
        "the same seed gives the same initial weights and batches whatever the rule",
    )
    probe: int = Field(default=_D.probe, ge=0, description="index into the training set")


class IgnoredSetting(Strict):
    field: str = Field(description="a RunConfig field")
    reason: str = Field(description="why it has no effect on this run's data")


class RunInfo(Strict):
    id: str
    config: RunConfig
    status: Status
    step: int
    epoch: int
    kind: Kind
    sizes: list[int]
    n_train: int
    n_test: int
    steps_per_frame: int
    ignored: list[IgnoredSetting] = Field(
        default_factory=list,
        description="settings kept in config but without effect on this data: `features` "
        "when the data has other than 2 inputs (the digits' 64 pixels, a CSV of d != 2 "
        "columns), `noise` (when not 0) on CSV data",
    )


class StepRequest(Strict):
    """Exactly one of ``steps`` or ``epochs``; an empty body is one step."""

    # bounded by max_steps_per_request (app/runs/run.py check_steps), which the refusal names
    steps: int | None = Field(default=None, ge=1)
    epochs: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _one_of(self) -> StepRequest:
        if self.steps is not None and self.epochs is not None:
            raise ValueError("give steps or epochs, not both")
        return self


class ProbeRequest(Strict):
    index: int = Field(ge=0, description="index into the training set (its size bounds it)")


class WeightRequest(Strict):
    """The new value of one weight ``w^l_jk``."""

    value: float = Field(ge=-MAX_WEIGHT, le=MAX_WEIGHT, description="finite, |value| ≤ 100")


# -- stateless backprop ---------------------------------------------------------------------


class BackpropRequest(Strict):
    """A network given in full and a batch; ``weights[i][j][k] = w^{i+2}_jk``."""

    sizes: list[Width] = Field(min_length=2, max_length=HARD_LAYERS + 2)
    weights: list[Matrix] = Field(description="w^l, shape (n_l, n_{l-1}), for l = 2..L")
    biases: list[Vector] = Field(description="b^l, shape (n_l,), for l = 2..L")
    activations: list[ActivationName] = Field(description="σ_l for l = 2..L")
    cost: CostName
    x: Matrix = Field(min_length=1, description="inputs, shape (m, n_1)")
    y: Matrix = Field(min_length=1, description="targets, shape (m, n_L)")
    regulariser: RegulariserName = "none"
    lambda_: float = Field(default=0.0, alias="lambda", ge=0.0, le=1e6)
    n: int | None = Field(
        default=None, ge=1, le=HARD_ROWS, description="training-set size in λ/n; default m"
    )
    learning_rate: float | None = Field(
        default=None, ge=0.0, le=1e6, description="η: also return the parameters after one SGD step"
    )
    feedback: FeedbackName = Field(
        default=_D.feedback,
        description="the matrix BP2 carries δ^{l+1} back with (app/core/feedback.py); not the "
        "transpose: delta, grad_w, grad_b and updated are the rule's, and each layer also has "
        "true_delta, true_grad_w, true_grad_b and alignment",
    )
    feedback_matrices: list[Matrix] | None = Field(
        default=None,
        description="'random' only: B^l for l = 3..L, shape (n_{l-1}, n_l), the orientation of "
        "(w^l)^T; left out, they are drawn from seed",
    )
    seed: int | None = Field(
        default=None,
        ge=0,
        le=MAX_SEED,
        description="'random' without feedback_matrices: the matrices a run with this seed and "
        "these sizes uses (left out: 1, the default experiment's seed)",
    )


class BackpropLayer(BaseModel):
    l: int  # noqa: E741 (the layer index of the notation)
    z: Matrix = Field(description="(m, n_l), per example")
    a: Matrix = Field(description="(m, n_l)")
    delta: Matrix = Field(description="δ^l, (m, n_l)")
    sigma_prime: Matrix = Field(description="σ'(z^l), (m, n_l); ones where σ' cancels in BP1")
    grad_w: Matrix = Field(description="∂C/∂w^l, (n_l, n_{l-1}), batch mean")
    grad_b: Vector = Field(description="∂C/∂b^l, (n_l,), batch mean")
    backward_contribution: list[Matrix] = Field(
        description="(m, n_l, n_{l-1}): [x][j][k] = w^l_jk δ^l_j"
    )
    true_delta: Matrix | None = Field(
        default=None,
        description="backprop's δ^l, (m, n_l); only when feedback is not the transpose",
    )
    true_grad_w: Matrix | None = Field(default=None, description="backprop's ∂C/∂w^l")
    true_grad_b: Vector | None = Field(default=None, description="backprop's ∂C/∂b^l")
    alignment: float | None = Field(
        default=None,
        description="cosine between the rule's grad_w and true_grad_w (both regularised); null "
        "when either is zero; only when feedback is not the transpose",
    )


class Parameters(BaseModel):
    weights: list[Matrix]
    biases: list[Vector]


class BackpropResponse(BaseModel):
    cost: float = Field(description="batch cost, regularisation included")
    cost_x: Vector = Field(description="per-example cost C_x, (m,)")
    layers: list[BackpropLayer]
    updated: Parameters | None = None
    feedback_matrices: list[Matrix] | None = Field(
        default=None,
        description="the rule's B^l for l = 3..L, (n_{l-1}, n_l), as used (inverse: the "
        "pseudo-inverse of w^l); only when feedback is not the transpose",
    )


# -- options --------------------------------------------------------------------------------


class DatasetOption(BaseModel):
    name: str
    kind: Kind
    n_points: int
    n_classes: int
    description: str
    n_inputs: int = Field(description="the input layer's n_1 (2: x1, x2 and their features)")
    image: list[int] | None = Field(
        description="[rows, columns] when the inputs are an image's pixels, row by row "
        "(digits: [8, 8]); null for the 2-D sets, whose input features apply"
    )
    link: str | None = Field(
        description="a link (URL-hash grammar, GET /api/preset) with the settings this data "
        "set is meant to be used with, for the page to apply when it is picked: the digits' "
        "is the book's 64-30-10 network; null: the current settings suit it"
    )


class FeatureOption(BaseModel):
    name: str
    label: str


class ActivationOptions(BaseModel):
    hidden: list[str]
    output: list[str]


class ActivationAbout(BaseModel):
    """One activation, from app/core/activations.py."""

    label: str = Field(description="its name for people: 'leaky ReLU'")
    symbol: str = Field(description="its name in an equation: a = σ(z), tanh(z)")
    elementwise: bool = Field(description="false for softmax (a whole layer at once)")
    bounds: list[float] | None = Field(description="[lo, hi], the range of a when bounded")
    cut: float = Field(description="one output: the class is positive where a > cut")
    saturates: bool = Field(description="σ' vanishes on both sides (tanh, sigmoid)")
    dies: bool = Field(description="σ' = 0 for every z ≤ 0 (ReLU)")
    kink: bool = Field(description="σ' depends only on whether z > 0")
    prime_from_a: list[str] | None = Field(
        description="σ' as arithmetic on a, as tokens: ['1', '−', 'a', '·', 'a'] for tanh"
    )


class CostAbout(BaseModel):
    label: str
    cancels_on: str | None = Field(description="the output on which σ' cancels in BP1")
    grad_a: list[str] | None = Field(
        description="∂C_x/∂a_j as tokens (a for a^L_j, y for its target), the cost registry's "
        "own (app/core/costs.py; the tests hold it to the registry's gradient)"
    )


class RegulariserAbout(BaseModel):
    label: str
    grad_w: list[str] | None = Field(
        description="r'(w) as tokens, the regulariser registry's own (app/core/regularisers.py; "
        "the tests hold it to the registry's gradient); null without a penalty"
    )


class FeedbackAbout(BaseModel):
    """One rule for BP2's matrix, from app/core/feedback.py."""

    label: str
    about: str = Field(description="what carries δ^{l+1} back, in a sentence or three")
    exact: bool = Field(description="its δ is backprop's: the true gradient")


class About(BaseModel):
    """Labels and properties of every choice, from the registries in app/core."""

    activations: dict[str, ActivationAbout]
    costs: dict[str, CostAbout]
    regularisers: dict[str, RegulariserAbout]
    feedback: dict[str, FeedbackAbout]


class Limits(BaseModel):
    max_layers: int
    max_width: int
    max_digits_width: int
    max_inputs: int
    max_outputs: int
    max_params: int
    max_batch: int
    max_rows: int
    max_body_bytes: int
    max_runs: int
    max_runs_per_client: int
    run_memory_mb: float
    client_memory_mb: float
    memory_mb: float
    max_response_values: int
    max_fps: float
    max_steps_per_request: int
    max_ws_message_bytes: int
    idle_timeout_s: float
    learning_rate: list[float]
    lambda_: list[float] = Field(alias="lambda")
    noise: list[float]
    train_share: list[float]
    momentum: list[float]
    steps_per_frame: list[int]


class KindOutputs(BaseModel):
    """For one kind of problem: the output activations it allows, and its (output, cost)
    when both are null ("auto"). A cost's own outputs are in ``Options.costs``."""

    outputs: list[str]
    default: list[str]


class Options(BaseModel):
    activations: ActivationOptions
    costs: dict[str, list[str]]
    about: About
    kinds: dict[str, KindOutputs]
    inits: list[str]
    regularisers: list[str]
    feedback: list[str] = Field(description="BP2's rules; the first is the default")
    datasets: list[DatasetOption]
    features: list[FeatureOption]
    limits: Limits
    default_config: RunConfig


# -- run data and history -------------------------------------------------------------------


class Points(BaseModel):
    points: Matrix = Field(description="raw inputs (N, d): x1, x2 for the 2-D datasets")
    labels: Vector = Field(description="±1, class index 0..K-1, or the regression target")


class RunData(BaseModel):
    kind: Kind
    n_classes: int
    train: Points
    test: Points
    extent: Matrix = Field(description="[[min, max] per input column]")


class LayerSeries(BaseModel):
    """One layer's gradient and health at the history's steps (docs/frames.md, "The gradient
    across layers"); null where a step has no point."""

    l: int  # noqa: E741 (the layer index of the notation)
    probe_delta: list[float | None] = Field(description="‖δ^l‖₂ of the probe")
    probe_grad_w: list[float | None] = Field(description="‖∂C_x/∂w^l‖_F of the probe")
    grad_b: list[float | None] = Field(description="‖∂C/∂b^l‖₂ = ‖mean δ^l‖₂ of the batch")
    grad_w: list[float | None] = Field(description="‖∂C/∂w^l‖_F of the batch-mean gradient")
    saturated: list[int | None] | None = Field(
        description="saturated units (health); null for a layer never counted"
    )
    dead: list[int | None] | None = Field(description="dead ReLU units (health)")


class HistogramCounts(BaseModel):
    edges: Vector = Field(description="B + 1 bin edges, ascending; bins [e_i, e_{i+1})")
    counts: list[int] = Field(description="B counts; the last bin includes its right edge")


class LayerHistogramSeries(BaseModel):
    l: int  # noqa: E741
    w: list[HistogramCounts | None] = Field(description="w^l's, one per snapshot")
    a: list[HistogramCounts | None] = Field(description="the batch's a^l")
    delta: list[HistogramCounts | None] = Field(description="the batch's δ^l")


class HistogramSeries(BaseModel):
    step: list[int] = Field(description="the snapshots' steps (at most 32, spread over the run)")
    layers: list[LayerHistogramSeries]
    kept: list[int] | None = Field(
        default=None,
        description="with `since`: the steps of every snapshot kept now (those sent here "
        "are the ones after `since`; a reader drops its snapshots at steps not in this list)",
    )


class History(BaseModel):
    revision: int | None = Field(
        default=None,
        description="GET /history (not a frame's history): changes when points already "
        "answered may have been taken back or replaced (a reset, a rebuild, a rewind): "
        "read it all again then",
    )
    step: list[int]
    epoch: list[int]
    train_cost: list[float | None]
    test_cost: list[float | None]
    train_accuracy: list[float | None]
    test_accuracy: list[float | None]
    probe: list[int | None] = Field(
        description="at `step`, the training example (its index) that was the probe: the "
        "one whose `layers[].probe_*` norms those are (the learner may have chosen another "
        "since); null where the step has no per-layer point, or an opened document did "
        "not say"
    )
    layers: list[LayerSeries] = Field(
        description="per layer l = 2..L, the gradient's norms and the health at `step`"
    )
    histograms: HistogramSeries | None = Field(
        description="the layer histograms over time: GET /history?histograms=true only"
    )


class Detail(BaseModel):
    detail: str


class Refusal(Detail):
    """A 429: which limit refused the request (the page's advice depends on it)."""

    reason: Literal[
        "server_full", "client_runs", "client_memory", "server_memory", "client_requests"
    ]


class ValidationIssue(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ValidationDetail(BaseModel):
    detail: list[ValidationIssue]


# -- stream messages (client → server) ------------------------------------------------------

MAX_MESSAGE_ID = 2**53 - 1  # the largest integer a JavaScript number holds exactly
MessageId = int | None


class Tagged(Strict):
    """What every client message may carry: an ``id`` of the client's choosing, echoed in
    the ``error`` that answers the message (a message that is accepted gets no reply of
    its own: the frames show its effect)."""

    id: MessageId = Field(
        default=None,
        ge=0,
        le=MAX_MESSAGE_ID,
        description="the client's id of this message, echoed by an `error` answering it",
    )


class PlayMessage(Tagged):
    type: Literal["play"]


class PauseMessage(Tagged):
    type: Literal["pause"]


class StepMessage(StepRequest, Tagged):
    type: Literal["step"]


class ResetMessage(Tagged):
    type: Literal["reset"]


class SpeedMessage(Tagged):
    type: Literal["speed"]
    steps_per_frame: int = Field(ge=1, le=MAX_STEPS_PER_FRAME)


class ProbeMessage(ProbeRequest, Tagged):
    type: Literal["probe"]


class GridMessage(Tagged):
    type: Literal["grid"]


class SetWeightMessage(WeightRequest, Tagged):
    """``w^l_jk = value``; j (destination, layer l) and k (source, layer l-1) are 0-based."""

    type: Literal["set_weight"]
    l: int = Field(ge=2, description="layer 2..L")  # noqa: E741
    j: int = Field(ge=0, description="neuron in layer l, 0-based")
    k: int = Field(ge=0, description="neuron in layer l-1, 0-based")


class SetMessage(RunConfig, Tagged):
    type: Literal["set"]


class SelectMessage(Tagged):
    """The neuron (``k`` null) or edge ``k → j`` into layer ``l`` whose terms every frame of
    this stream carries in full precision (``explain``); ``l`` null clears it."""

    type: Literal["select"]
    l: int | None = Field(default=None, ge=1, description="layer 1..L")  # noqa: E741
    j: int = Field(default=0, ge=0, description="neuron in layer l, 0-based")
    k: int | None = Field(default=None, ge=0, description="edge source in layer l-1, 0-based")


ClientMessage = Annotated[
    PlayMessage
    | PauseMessage
    | StepMessage
    | ResetMessage
    | SpeedMessage
    | ProbeMessage
    | GridMessage
    | SetMessage
    | SetWeightMessage
    | SelectMessage,
    Field(discriminator="type"),
]
