"""What a run costs in memory, estimated from its config before anything is built.

The estimate is an upper bound on the bytes a run holds while it is used (a stream playing,
frames with grids, metrics, 2,000 history points, a full rewind timeline), made of the arrays
the run builds, sized from the config (N points, n_1 inputs, n_L outputs, m = batch size):

- ``data``: the points and labels, the network's inputs ``x`` (N, n_1) and targets ``y``
  (N, n_L), the trainer's columns for its training examples and their shuffled copy, the
  float32 evaluator's pass over every point (one row per input, per hidden neuron and per
  output), and the CSV text itself. Arrays the process shares between runs are not a run's:
  the digits without noise hold one read-only copy of their pixels, and at the book's share
  0.8 of their ordered x and y too (:func:`app.core.datasets.shared_data`; made once, about
  1 MB each, like the module's other caches);
- ``frames``: :data:`BUILDERS_KEPT` frame builders (the batch size and an epoch's short last
  batch), each an arena of float64 (θ three times, the engine's recording of 1+m examples)
  and a send plan of about 12 words per value sent (as measured: 88 bytes a value for the
  digits' 64-30-10), 20 % more each for the encoded layers and template, the trainer's fast
  steps for the same batch sizes, and, while a builder is made, an index array as large as
  its arena;
- ``grid``: the decision-boundary grid of a 2-D run (app/runs/grid.py): its inputs, the
  sent values (five words each) and their JSON; its float32 pass over 64² + 16² points
  through every layer is ``grid_pass``, held only while a grid is computed (below);
- ``other``: the loss history (2,000 points), the per-layer series and histogram snapshots
  of :mod:`app.runs.layer_history`, and a fixed part for the network, trainer and frame
  objects;
- ``snapshots``: the rewind timeline's budget (:func:`app.runs.timeline.budget_bytes`: at
  most 1 MB, less for a small network).

``grid_pass`` is transient: grids are computed one at a time (on the event loop), so the
server's budget counts every live run's held bytes (:attr:`Estimate.total`) and, once, the
largest pass any admissible run can make (:func:`transient_reserve`); a run's own limit
(``run_memory_mb``) is checked against its peak (:attr:`Estimate.peak`: held and pass).

``data``, the arenas and ``grid`` are counted with a 25 % margin (:data:`SAFETY`: allocator
slack and the transients these terms leave out, largest with batches of 512); the send plans
are counted as measured. The book's digits run (64-30-10, batch 10) is estimated at 11.0 MB
against 9.3 MB at its peak (tracemalloc, 2,000 steps of a stream with frames), so 30 fit the
default ``memory_mb`` of 380 with 25 default runs (1.81 MB held, 2.27 MB at the peak).

:func:`estimate` needs no parsing: a CSV's rows and columns are counted from its text (an
upper bound: a header line counts as a row). ``tests/runs/test_budget.py`` checks the
estimate against what runs really take (tracemalloc: built and used, and after 2,000 steps of
a stream), ``tests/abuse/test_memory.py`` against the server's resident memory, and
``bench/bench_capacity.py`` counts the runs the default budget admits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from app.core.csvdata import MAX_CLASSES
from app.core.datasets import DATASETS, FEATURES, shared_data
from app.core.feedback import get_rule
from app.runs import layer_history
from app.runs.experiment import Experiment
from app.runs.grid import GRID, THUMB
from app.runs.timeline import budget_bytes
from app.settings import Settings

MB = 1_000_000
BUILDERS_KEPT = 2  # the batch size and an epoch's short last batch (state.RunState.builder)
HISTORY_BYTES = 500_000  # 2,000 points of six numbers as Python tuples (~240 bytes each)
FIXED_BYTES = 150_000  # network, trainer, evaluator objects, the last frame's bytes
SAFETY = 1.25  # allocator slack and small arrays the terms leave out


@dataclass(frozen=True)
class Estimate:
    """Bytes by part; ``field`` is the config field that makes the biggest part big."""

    data: int
    frames: int
    grid: int
    other: int
    snapshots: int = 0
    grid_pass: int = 0  # transient: only while a grid is computed

    @property
    def total(self) -> int:
        """What the run holds between frames (the server's budget sums these)."""
        return self.data + self.frames + self.grid + self.other + self.snapshots

    @property
    def peak(self) -> int:
        """What it holds while its grid is computed."""
        return self.total + self.grid_pass

    @property
    def mb(self) -> float:
        """Its peak in MB (checked against ``run_memory_mb``)."""
        return self.peak / MB

    def biggest(self) -> str:
        parts = {"data": self.data, "frames": self.frames, "grid": self.grid + self.grid_pass}
        return max(parts, key=lambda k: parts[k])


@dataclass(frozen=True)
class Shape:
    """What the estimate needs: N points of d raw columns, n_1 inputs, n_L outputs."""

    n: int
    d: int
    n_in: int
    n_out: int
    two_d: bool


def csv_shape(text: str, max_rows: int) -> tuple[int, int]:
    """(rows, columns) of CSV text, counted without parsing: rows at most ``max_rows`` (the
    parser refuses more), a header counted as a row."""
    body = text.removeprefix("\ufeff").rstrip()
    rows = body.count("\n") + body.count("\r") - body.count("\r\n") + 1 if body else 0
    first = body.split("\n", 1)[0].split("\r", 1)[0]
    return min(rows, max_rows), first.count(",") + 1


def shape_of(config: Experiment, settings: Settings) -> Shape:
    if config.dataset == "csv":
        rows, cols = csv_shape(config.csv or "", settings.max_rows)
        d = max(1, min(cols, settings.max_inputs + 1) - 1)
        n_out = max(2, min(settings.max_outputs, MAX_CLASSES))
        n_in = len(config.features) if d == 2 else d
        return Shape(rows, d, n_in, n_out, d == 2)
    spec = DATASETS.get(config.dataset)
    n = spec.n_points if spec is not None else settings.max_rows
    classes = spec.n_classes if spec is not None else settings.max_outputs
    d = spec.n_inputs if spec is not None else 2
    if d != 2:  # the digits: the pixels are the inputs, no features and no grid
        return Shape(n, d, d, max(2, classes), False)
    return Shape(n, 2, len(config.features), max(2, classes), True)


def estimate(config: Experiment, settings: Settings) -> Estimate:
    """An upper bound on the bytes the run ``config`` holds once built and used."""
    s = shape_of(config, settings)
    n, n1, nl_out = s.n, s.n_in, s.n_out
    n_train = min(n, math.ceil(n * config.train_share))
    hidden = list(config.hidden)
    sizes = [n1, *hidden, nl_out]
    text = len(config.csv or "") * (1 if (config.csv or "").isascii() else 4)
    shared_points, shared_xy = shared_data(config.dataset, config.noise, config.train_share)
    # the evaluator's float32 pass over every point: [a^l; 1] of the input and hidden layers,
    # z of every layer, a^L, y, and the cost per example beside a^L
    evaluator = 4 * n * (n1 + 1 + sum(k + 1 for k in hidden) + sum(sizes[1:]) + 3 * nl_out)
    data = (
        (0 if shared_points else 8 * n * (s.d + 1))  # points, labels
        + (8 * n * n1 if s.two_d else 0)  # the selected features (CSV columns are used as is)
        + 8 * n * nl_out * (1 if shared_xy else 2)  # targets, and them reordered
        + (0 if shared_xy else 8 * n * n1)  # inputs, reordered
        + 16 * n  # train/test indices
        + 2 * 8 * n_train * (n1 + 1 + nl_out)  # the trainer's columns, and their shuffled copy
        + evaluator
        + 4 * n * (nl_out + max(sizes))  # the saturation counts' pass on the evaluator's
        + text
    )
    m = min(config.batch_size, n_train)
    pairs = list(zip(sizes[1:], sizes[:-1], strict=True))
    theta = sum(n * (k + 1) for n, k in pairs)
    # The arena (app/runs/frames.py): θ, its gradient and the regularised one; [x; 1], the
    # engine's recording (z, a, σ' of every [a^l; 1] block, δ) and y for 1+m columns, and
    # one mean per row. The send plan: 8nk + 9n values per layer, each with up to four
    # gather indices and five float copies (float32 and float64) while it is made and used.
    rows = n1 + 1 + 3 * (sum(k + 1 for k in hidden) + nl_out) + sum(sizes[1:]) + nl_out
    sent = sum(8 * n * k + 9 * n for n, k in pairs) + 3 * n1 + nl_out
    arena = 8 * (3 * theta + (2 + m) * rows)
    send = 8 * 12 * sent
    if not get_rule(config.feedback).exact:
        # backprop's own pass beside the rule's (app/runs/frame_truth.py): its recording, its
        # gradient, and the true δ, gradients and their products, gathered and rounded
        n_w = sum(n * k for n, k in pairs)
        arena += 8 * ((1 + m) * rows + theta + 6 * n_w + 4 * sum(sizes[1:]))
    # A kept builder holds its buffer and about 20 % more (the encoded layers and template,
    # the engine's calls); while one is made, an index array as large as its arena exists
    # too. The send plan's part is counted as measured (88-96 bytes a value sent, digits'
    # 64-30-10 at m = 10), the arena's with the safety margin: its transients at large m
    # (512) are not all in these terms.
    fast = 8 * (m + 1) * (sum(sizes) + n1 + 1) * 3
    frames = BUILDERS_KEPT * send * 6 // 5
    frames_loose = BUILDERS_KEPT * (arena * 6 // 5 + fast) + arena
    grid = grid_pass = 0
    if s.two_d:
        # app/runs/grid.py: the inputs (float64) and the core's float32 pass over every grid
        # and thumbnail point ([a^l; 1] blocks, z of every layer, a^L), the sent values (five
        # words each: a thumbnail per hidden neuron, and the output without argmax) and the
        # encoded JSON (about 8 bytes a value)
        points = GRID * GRID + THUMB * THUMB
        values = THUMB * THUMB * sum(hidden) + GRID * GRID
        grid = 8 * points * n1 + 45 * values
        grid_pass = grid_pass_bytes(sizes)
    return Estimate(
        data=math.ceil(SAFETY * data),
        frames=frames + math.ceil(SAFETY * frames_loose),
        grid=math.ceil(SAFETY * grid),
        grid_pass=math.ceil(SAFETY * grid_pass),
        other=HISTORY_BYTES + layer_history.max_bytes(len(sizes) - 1) + FIXED_BYTES,
        snapshots=budget_bytes(theta, n),  # n: at least the training set
    )


def culprit(config: Experiment, est: Estimate) -> tuple[str, str]:
    """(field, why): the config field that makes ``est`` big, and a short reason."""
    part = est.biggest()
    if part == "frames":
        return (
            "batch_size",
            f"batch_size {config.batch_size} (frame buffers {est.frames / MB:.0f} MB)",
        )
    if part == "grid":
        return (
            "hidden",
            "the decision-boundary grid of this network "
            f"({(est.grid + est.grid_pass) / MB:.0f} MB)",
        )
    if config.dataset == "csv":
        return "csv", f"the CSV data ({est.data / MB:.0f} MB once loaded)"
    return "dataset", f"the data set ({est.data / MB:.0f} MB)"


def grid_pass_bytes(sizes: list[int]) -> int:
    """The float32 pass of a 2-D network of ``sizes`` [n_1, …, n_L] over every grid and
    thumbnail point: its [a^l; 1] blocks, z of every layer and a^L (bytes, no margin)."""
    points = GRID * GRID + THUMB * THUMB
    blocks = sum(k + 1 for k in sizes[:-1]) + sum(sizes[1:]) + sizes[-1]
    return 4 * points * blocks


def transient_reserve(settings: Settings) -> int:
    """The largest grid pass an admissible run can make, with the margin: every input
    feature, ``max_layers`` hidden layers of ``max_width``, and the most outputs (bytes)."""
    hidden = [settings.max_width] * settings.max_layers
    n_out = max(MAX_CLASSES, settings.max_outputs)
    return math.ceil(SAFETY * grid_pass_bytes([len(FEATURES), *hidden, n_out]))
