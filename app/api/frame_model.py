"""The frame schema of ``docs/frames.md`` as pydantic models, for the OpenAPI document.

Frames are built and encoded by :mod:`app.runs.frames` (never through these models: that
would cost more than building the frame). Shapes use ``n_l`` = neurons in layer l;
``layers[i]`` is layer ``l = i + 2``; matrices are ``[j][k]`` = destination j, source k.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from app.api.models import History, Kind, Matrix, Status, Vector


class Hyper(BaseModel):
    learning_rate: float
    batch_size: int
    regulariser: str
    lambda_: float = Field(alias="lambda")
    momentum: float


class Score(BaseModel):
    cost: float | None = Field(description="regularised cost; null if not finite")
    accuracy: float | None = Field(description="null for regression")


class Probe(BaseModel):
    index: int = Field(description="index into the training set")
    point: Vector = Field(description="the raw point (x1, x2)")
    x: Vector = Field(description="a^1, (n_1,)")
    y: Vector = Field(description="target, (n_L,)")
    cost: float | None = Field(description="C_x of the probe, unregularised")


class InputLayer(BaseModel):
    a: Vector = Field(description="a^1 = x of the probe")
    mean_a: Vector = Field(description="a^1 averaged over the batch")


class LayerMeans(BaseModel):
    z: Vector
    a: Vector
    delta: Vector
    sigma_prime: Vector


class EdgeSet(BaseModel):
    forward: Matrix = Field(description="w_jk a_k, (n_l, n_{l-1})")
    backward: Matrix = Field(description="w_jk δ_j")
    gradient: Matrix = Field(description="a_k δ_j (BP4, unregularised)")


class Edges(BaseModel):
    probe: EdgeSet
    mean: EdgeSet


class Norms(BaseModel):
    delta: float | None = Field(description="‖mean δ^l‖₂ over the batch")
    grad_w: float | None = Field(description="‖∂C/∂w^l‖_F")


class Layer(BaseModel):
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


class Grid(BaseModel):
    x1: Vector = Field(description="G = 64 grid columns")
    x2: Vector = Field(description="G grid rows")
    output: list[list[float]] = Field(
        description="(G, G) at (x1[c], x2[r]): a^L for one output, else the argmax class"
    )
    neurons: list[Matrix] = Field(description="(hidden neurons, g, g) thumbnails, g = 16")
    thumb_x1: Vector
    thumb_x2: Vector


class Frame(BaseModel):
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
    grid: Grid | None
    history: History | None
    data_changed: bool
