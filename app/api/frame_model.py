"""The frame schema of ``docs/frames.md`` as pydantic models, for the OpenAPI document.

Frames are built and encoded by :mod:`app.runs.frames` (never through these models: that
would cost more than building the frame). tests/api/test_contracts.py holds real frames and
stream messages to these models, extra fields forbidden, and docs/frames.md to their field
names. Shapes use ``n_l`` = neurons in layer l; ``layers[i]`` is layer ``l = i + 2``;
matrices are ``[j][k]`` = destination j, source k.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.api.models import History, Kind, Matrix, RunInfo, Status, Vector


class Wire(BaseModel):
    """Something the server sends: a field it does not declare is a contract error."""

    model_config = ConfigDict(extra="forbid")


class Hyper(Wire):
    learning_rate: float
    batch_size: int
    regulariser: str
    lambda_: float = Field(alias="lambda")
    momentum: float


class Score(Wire):
    cost: float | None = Field(description="regularised cost; null if not finite")
    accuracy: float | None = Field(description="null for regression")


class Probe(Wire):
    index: int = Field(description="index into the training set")
    point: Vector = Field(description="the raw point (x1, x2)")
    x: Vector = Field(description="a^1, (n_1,)")
    y: Vector = Field(description="target, (n_L,)")
    cost: float | None = Field(description="C_x of the probe, unregularised")


class InputLayer(Wire):
    a: Vector = Field(description="a^1 = x of the probe")
    mean_a: Vector = Field(description="a^1 averaged over the batch")
    backward: Vector = Field(
        description="(w²)ᵀδ² of the probe: its error carried back to the inputs, ∂C_x/∂a¹ "
        "(computed unrounded, then rounded once)"
    )


class LayerMeans(Wire):
    z: Vector
    a: Vector
    delta: Vector
    sigma_prime: Vector


class EdgeSet(Wire):
    forward: Matrix = Field(description="w_jk a_k, (n_l, n_{l-1})")
    backward: Matrix = Field(description="w_jk δ_j")
    gradient: Matrix = Field(description="a_k δ_j (BP4, unregularised)")


class Edges(Wire):
    probe: EdgeSet
    mean: EdgeSet


class Norms(Wire):
    grad_b: float | None = Field(description="‖∂C/∂b^l‖₂, the batch's mean δ^l (BP3)")
    grad_w: float | None = Field(description="‖∂C/∂w^l‖_F of the batch mean")
    probe_delta: float | None = Field(description="‖δ^l‖₂ of the probe")
    probe_grad_w: float | None = Field(
        description="‖∂C_x/∂w^l‖_F of the probe (its a_k δ_j, unregularised)"
    )


class Layer(Wire):
    l: int  # noqa: E741 (the layer index of the notation)
    activation: str
    w: Matrix = Field(description="w^l, (n_l, n_{l-1})")
    b: Vector = Field(description="b^l, (n_l,)")
    grad_w: Matrix = Field(description="∂C/∂w^l, batch mean, regularisation included")
    grad_b: Vector = Field(description="∂C/∂b^l, batch mean")
    z: Vector = Field(description="probe z^l")
    a: Vector
    delta: Vector
    sigma_prime: Vector = Field(description="ones where σ' cancels in BP1")
    mean: LayerMeans
    edges: Edges
    norms: Norms
    alignment: float | None = Field(
        description="cosine between the feedback rule's step −η·grad_w and the true gradient "
        "step, weights of layer l only (regularisation included in both): 1 for the "
        "transpose (not computed), and for the output layer under any rule (BP1 is every "
        "rule's); null when either step is zero"
    )
    true_delta: Vector | None = Field(
        default=None,
        description="backprop's δ^l of the probe; only when the rule is not the transpose",
    )
    true_grad_w: Matrix | None = Field(
        default=None,
        description="backprop's ∂C/∂w^l, batch mean, regularisation included; only when the "
        "rule is not the transpose",
    )
    true_grad_b: Vector | None = Field(
        default=None,
        description="backprop's ∂C/∂b^l, batch mean; only when the rule is not the transpose",
    )


class Grid(Wire):
    x1: Vector = Field(description="G = 64 grid columns")
    x2: Vector = Field(description="G grid rows")
    output: list[list[float]] = Field(
        description="(G, G) at (x1[c], x2[r]): a^L for one output, else the argmax class"
    )
    neurons: list[Matrix] = Field(description="(hidden neurons, g, g) thumbnails, g = 16")
    thumb_x1: Vector
    thumb_x2: Vector


class Bp2Term(Wire):
    i: int = Field(description="neuron i of layer l+1 (0-based)")
    w: float = Field(description="w^{l+1}_ij")
    delta: float = Field(description="δ^{l+1}_i")
    product: float = Field(description="w^{l+1}_ij · δ^{l+1}_i")


class NeuronExample(Wire):
    """One example's BP2 (hidden neuron) or BP1 (output neuron) terms, float64."""

    z: float | None = None
    a: float | None = None
    y: float | None = Field(default=None, description="BP1: the target")
    a_minus_y: float | None = Field(default=None, description="BP1: a − y")
    sigma_prime: float | None = Field(default=None, description="σ'(z); 1 where it cancels")
    terms: list[Bp2Term] | None = Field(default=None, description="BP2, probe only")
    sum: float | None = Field(default=None, description="BP2: Σ_i w_ij δ_i (fsum)")
    delta: float | None = Field(description="the δ the frame shows, unrounded")


class NeuronBatch(Wire):
    rows: list[NeuronExample] = Field(description="one per example of the batch (no terms)")
    mean_delta: float = Field(description="mean of the rows' δ: the batch-mean δ")


class BatchMeans(Wire):
    sigma_prime: float = Field(description="mean σ'(z) over the batch")
    sum: float = Field(description="Σ_i w_ij · mean δ^{l+1}_i (= the mean of the rows' sums)")
    product_of_means: float = Field(description="mean σ' × that sum: NOT the mean δ in general")


class EdgeProbe(Wire):
    a_prev: float
    delta: float
    forward: float
    backward: float
    gradient: float


class EdgeUpdate(Wire):
    bp4_mean: float = Field(description="mean over the batch of a^{l-1}_k δ^l_j")
    regulariser: str
    lambda_: float = Field(alias="lambda")
    n: int = Field(description="training-set size (λ/n)")
    reg_grad: float = Field(description="λ/n·w (L2), λ/n·sgn(w) (L1), else 0")
    grad: float = Field(description="∂C/∂w = bp4_mean + reg_grad")
    learning_rate: float
    momentum: float
    velocity: float = Field(description="this weight's momentum velocity v before the step")
    delta_w: float = Field(description="the next step's change: μv − η·grad (−η·grad if μ = 0)")
    w_next: float


class EdgeBias(Wire):
    b: float
    grad: float = Field(description="∂C/∂b^l_j, batch mean (BP3)")


class Explain(Wire):
    """The selected neuron's or edge's terms in full float64 (frames.md, `explain`)."""

    type: Literal["neuron", "edge"]
    l: int  # noqa: E741
    j: int
    k: int | None = None
    m: int = Field(description="batch size")
    equation: Literal["BP1", "BP2"] | None = None
    cancels: bool | None = None
    probe: NeuronExample | EdgeProbe
    batch: NeuronBatch | None = None
    batch_means: BatchMeans | None = None
    w: float | None = None
    update: EdgeUpdate | None = None
    bias: EdgeBias | None = None


class LayerHealth(Wire):
    l: int  # noqa: E741
    n: int
    saturated: int
    dead: int


class Trial(Wire):
    learning_rate: float
    steps: int
    outcome: Literal["ok", "diverged", "saturated", "dead", "no progress"]
    cost_before: float | None
    cost_after: float | None


class Advice(Wire):
    reason: Literal["diverged", "saturated", "dead"]
    learning_rate: float | None = Field(description="the largest tried η that worked, or null")
    tried: list[Trial]


class Health(Wire):
    reason: Literal["saturated", "dead"] = Field(description="what the alarm is about")
    layers: list[LayerHealth] = Field(description="layers 2..L (the output unless σ' cancels)")
    saturated_share: float = Field(description="share of hidden units saturated")
    dead_share: float = Field(description="share of hidden ReLU units dead")
    output_saturated: bool
    alarm: bool
    advice: Advice | None
    advice_pending: bool = Field(
        description="advice is being tried on this run in the background; a later frame has it"
    )


class Histogram(Wire):
    edges: Vector = Field(description="21 bin edges, ascending: bins [e_i, e_{i+1})")
    counts: list[int] = Field(description="20 counts; the last bin includes its right edge")


class LayerHistograms(Wire):
    l: int  # noqa: E741
    w: Histogram | None = Field(description="w^l's n_l·n_{l-1} weights (null: not finite)")
    a: Histogram | None = Field(description="a^l of the m batch examples (m·n_l values)")
    delta: Histogram | None = Field(description="δ^l of the m batch examples")


class Histograms(Wire):
    bins: int = Field(description="20")
    m: int = Field(description="the batch size the a and δ histograms count over")
    layers: list[LayerHistograms]


class Prediction(Wire):
    step: int = Field(
        description="the run's step count after the one update predicted (step − 1 → step); "
        "in a frame of many steps, the first of them: below the frame's step"
    )
    predicted: float | None = Field(description="∇C·Δθ: the first-order change of the batch cost")
    actual: float | None = Field(description="C_B(θ + Δθ) − C_B(θ) on the same batch")
    cost_before: float | None = Field(description="C_B(θ), the batch cost, regularised")
    cost_after: float | None = Field(description="C_B(θ + Δθ)")
    batch: int = Field(description="m: the examples in B, the batch the update trained on")
    cos: float | None = Field(
        description="cos of the angle between the step Δθ and −∇C: 1 for plain SGD, less with "
        "momentum or under a BP2 rule other than the transpose; null for a zero step or gradient"
    )
    longer: float | None = Field(
        description="‖Δθ‖ / (η‖∇C‖): the step's length in plain SGD steps at the same η; "
        "null at η = 0"
    )


class Frame(Wire):
    type: Literal["frame"]
    run_id: str
    status: Status
    step: int
    epoch: int
    kind: Kind
    sizes: list[int]
    activations: list[str]
    cost_name: str
    hyper: Hyper
    steps_per_frame: int
    fps: float | None = Field(description="the stream's current frame-rate cap; null in REST")
    t: float = Field(description="server clock (Unix seconds) when the frame was built")
    train: Score
    test: Score
    metrics_step: int = Field(
        description="the step train and test were measured at: a playing stream measures "
        "them every 3rd frame, other frames repeat the last measurement"
    )
    batch_cost: float | None
    probe: Probe
    input: InputLayer
    layers: list[Layer]
    grid: Grid | None = Field(
        description="the decision boundary over the (x1, x2) plane, on frames that carry it; "
        "always null when the data has other than 2 inputs (the digits' 64 pixels, a CSV of "
        "d != 2 columns): there is no plane to draw"
    )
    history: History | None
    data_changed: bool
    explain: Explain | None = Field(description="the selection's terms, float64 (or null)")
    health: Health
    histograms: Histograms | None = Field(
        description="per-layer histograms of w, a and δ: paused and REST frames, and a playing "
        "stream's grid frames; else null"
    )
    prediction: Prediction | None = Field(
        description="predicted vs actual change of the batch cost, for the first step trained "
        "after the last frame with histograms; null before any"
    )


class NeuronGrid(Wire):
    """``GET /api/runs/{id}/grid/{l}/{j}``: a^l_j over the input plane."""

    l: int  # noqa: E741
    j: int
    x1: Vector = Field(description="G = 64 grid columns")
    x2: Vector = Field(description="G grid rows")
    values: list[list[float]] = Field(description="(G, G): values[r][c] at (x1[c], x2[r])")


class StreamError(Wire):
    """A refused stream message; the connection stays open."""

    type: Literal["error"]
    detail: str
    id: int | None = Field(
        default=None, description="the refused message's own id; absent when it had none"
    )


class Rebuilt(Wire):
    """After a ``set`` that rebuilt the run; a frame with grid and history follows."""

    type: Literal["rebuilt"]
    run: RunInfo
