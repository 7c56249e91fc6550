"""Memory: the estimate against what runs really take, bounded caches, the budgets."""

from __future__ import annotations

import tracemalloc
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from app.core.datasets import FEATURES
from app.runs import budget
from app.runs.budget import BUILDERS_KEPT, csv_shape, estimate
from app.runs.config import ConfigError
from app.runs.experiment import Experiment
from app.runs.run import Run
from app.runs.store import ClientFull, MemoryFull, RunStore
from app.settings import Settings

F7 = ["x1", "x2", "x1^2", "x2^2", "x1x2", "sin_x1", "sin_x2"]


def csv_text(rows: int, cols: int, classes: int, seed: int = 0) -> str:
    """``cols`` one-digit features and a class label 0..classes-1 per row (short numbers:
    the most rows and columns a 1 MB body can carry)."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 10, size=(rows, cols))
    t = rng.integers(0, classes, size=rows)
    return "\n".join(",".join(map(str, r)) + f",{c}" for r, c in zip(x, t, strict=True))


def _use(run: Run, batch_sizes: list[int]) -> None:
    """What a student does: frames with grids and history, training, batch-size changes."""
    for bs in batch_sizes:
        run.update({"batch_size": bs})
        run.frame(grid=True, history=True)
        run.train(40)
        run.frame(grid=True)


def _measured(config: Experiment, batch_sizes: list[int]) -> tuple[int, int]:
    """(bytes held after use, peak bytes) of building and using a run (tracemalloc)."""
    tracemalloc.start()
    try:
        run = Run("m", config, Settings())
        _use(run, batch_sizes)
        held, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del run
    return held, peak


@pytest.fixture(scope="module", autouse=True)
def _warm() -> None:
    """Module-level caches (imports, compiled patterns) are not a run's memory."""
    _measured(Experiment(**{"dataset": "csv", "csv": csv_text(20, 2, 2)}), [10])
    _measured(Experiment(), [10])
    # the digits' shared pixels and x, y: made once per process, not a run's memory
    _measured(Experiment(**{"dataset": "digits", "hidden": [30], "train_share": 0.8}), [10])


CASES: list[tuple[str, dict[str, Any], list[int]]] = [
    ("default", {}, [10]),
    ("largest 2-D network", {"hidden": [8] * 6, "features": F7}, [512, 17, 512]),
    ("wide CSV, no hidden layer", {"csv": csv_text(600, 64, 2), "hidden": []}, [10]),
    # 1,600 rows: 800 training examples, batches of 512 and 288 (two large builders).
    ("wide CSV, deep network", {"csv": csv_text(1600, 64, 10), "hidden": [8] * 6}, [512, 3, 512]),
    # a feedback rule's frames hold backprop's own pass beside the rule's (frame_truth.py)
    (
        "largest 2-D network, inverse rule",
        {"hidden": [8] * 6, "features": F7, "feedback": "inverse"},
        [512, 17, 512],
    ),
    (
        "wide CSV, deep network, random rule",
        {"csv": csv_text(1600, 64, 10), "hidden": [8] * 6, "feedback": "random"},
        [512, 3, 512],
    ),
    # the book's digits: 64 pixels, 10 classes, no grid (1,437 training digits at 0.8)
    ("the book's digits", {"dataset": "digits", "hidden": [30], "train_share": 0.8}, [10]),
    ("digits, widest", {"dataset": "digits", "hidden": [32] * 3, "train_share": 0.8}, [512, 3]),
]


@pytest.mark.parametrize(("name", "changes", "batches"), CASES, ids=[c[0] for c in CASES])
def test_the_estimate_is_not_below_what_a_run_takes(
    name: str, changes: dict[str, Any], batches: list[int]
) -> None:
    if "csv" in changes:
        changes = {"dataset": "csv", **changes}
    config = Experiment(**changes)
    held, peak = _measured(config, batches)
    # every change is estimated again (Run.plan): the largest estimate along the way
    est = max(estimate(config.changed(batch_size=bs), Settings()).peak for bs in batches)
    assert peak <= est, f"{name}: peak {peak / 1e6:.2f} MB over the estimate {est / 1e6:.2f} MB"
    # and not so far above that the server-wide budget turns students away for nothing
    assert est <= 4 * peak + 1_000_000, f"{name}: {est / 1e6:.2f} MB for {peak / 1e6:.2f} MB"
    assert held <= peak


def _stream(run: Run, steps: int) -> None:
    """What a playing stream does: 7 steps a frame (so an epoch's short last batch gets its
    own frame builder too), the metrics every 5th frame, the grid every 10th, the history
    every 50th."""
    i = 0
    while run.step < steps:
        run.train(7)
        run.frame(metrics=i % 5 == 0, grid=i % 10 == 0, history=i % 50 == 0)
        i += 1


BOOK = {"dataset": "digits", "hidden": [30], "batch_size": 10, "train_share": 0.8}
STREAMS: list[tuple[str, dict[str, Any]]] = [
    ("default", {}),
    ("largest 2-D network", {"hidden": [8] * 6, "features": F7}),
    ("CSV", {"dataset": "csv", "csv": csv_text(600, 64, 2), "hidden": [8]}),
    ("the book's digits", BOOK),
    ("digits with noise", {**BOOK, "noise": 0.1}),
]


@pytest.mark.parametrize(("name", "changes"), STREAMS, ids=[c[0] for c in STREAMS])
def test_the_estimate_holds_after_2000_steps_of_a_stream(
    name: str, changes: dict[str, Any]
) -> None:
    """Held after 2,000 steps with frames (snapshots, history, both builders filled), and
    the peak on the way, against the estimate the store admitted the run with."""
    config = Experiment(**changes)
    tracemalloc.start()
    try:
        run = Run("s", config, Settings())
        run.frame(grid=True, history=True)
        _stream(run, 2000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # 7 steps a frame reach an epoch's short last batch, when there is one: two builders
    assert len(run.state.builders) == (2 if run.state.n_train % config.batch_size else 1)
    # the history is not full after ~290 frames: the estimate counts its 2,000 points whole
    est = estimate(config, Settings()).peak
    assert peak <= est, f"{name}: peak {peak / 1e6:.2f} MB over the estimate {est / 1e6:.2f} MB"
    if config.dataset == "digits":  # what admits a class on the digits: not wildly over
        assert est <= 1.5 * peak, f"{name}: {est / 1e6:.2f} MB for {peak / 1e6:.2f} MB"


def test_a_class_of_30_on_the_book_digits_fits_the_default_budget() -> None:
    """30 students on the book's 64-30-10 network under the default memory_mb, with room
    for a few default runs beside them, without raising it."""
    s = Settings()
    digits_run = estimate(Experiment(**BOOK), s).total
    default_run = estimate(Experiment(), s).total
    assert 30 * digits_run + 5 * default_run <= s.memory_mb * budget.MB
    store = RunStore(replace(s, max_runs_per_client=1000, client_memory_mb=100_000))
    for i in range(30):
        store.create(Experiment(**{**BOOK, "seed": i}), f"student{i}")
    store.create(Experiment(), "teacher")


def test_digits_runs_share_one_read_only_copy_of_the_pixels() -> None:
    """Runs on the digits without noise hold the same pixels and x, y (not a copy each);
    nothing a student does writes into them, and a write is refused, not silent."""
    a = Run("a", Experiment(**BOOK), Settings())
    b = Run("b", Experiment(**{**BOOK, "seed": 7, "hidden": [12]}), Settings())
    noisy = Run("n", Experiment(**{**BOOK, "noise": 0.2}), Settings())
    assert a.state.dataset.points is b.state.dataset.points
    assert a.state.x is b.state.x and a.state.y is b.state.y
    assert noisy.state.dataset.points is not a.state.dataset.points  # its own noisy pixels
    assert noisy.state.x is not a.state.x
    before = (a.state.dataset.points.tobytes(), a.state.x.tobytes(), a.state.y.tobytes())
    for run in (a, b):
        run.frame(history=True)
        run.train(300)
        run.update({"batch_size": 7, "learning_rate": 0.1})
        run.set_probe(5)
        run.frame(history=True)
        run.set_weight(2, 1, 3, 0.5)
        run.rewind(100)
        run.update({"hidden": [20]})  # a rebuild reusing the data
        run.train(50)
        run.frame()
        run.reset()
    assert (a.state.dataset.points.tobytes(), a.state.x.tobytes(), a.state.y.tobytes()) == before
    with pytest.raises(ValueError, match="read-only"):
        a.state.dataset.points[0, 0] = 1.0
    with pytest.raises(ValueError, match="read-only"):
        b.state.x[0, 0] = 1.0
    # a (reset) trains as a run of its config made alone: b's steps did not move a's data
    alone = Run("c", a.config, Settings())
    alone.train(50)
    a.train(50)
    assert alone.state.trainer.theta.tobytes() == a.state.trainer.theta.tobytes()


def test_cycling_the_batch_size_keeps_two_builders_and_no_memory() -> None:
    """The reported attack: 183 batch sizes added 1.38 GB. Now the caches hold two."""
    config = Experiment(
        **{"dataset": "csv", "csv": csv_text(700, 64, 10), "hidden": [8] * 6, "batch_size": 340}
    )
    run = Run("c", config, Settings())
    _use(run, [340])
    tracemalloc.start()
    try:
        _use(run, list(range(230, 350, 10)))  # 12 batch sizes, each a ~4.5 MB builder
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(run.state.builders) <= BUILDERS_KEPT
    assert len(run.state.trainer._fast_steps) <= 2
    assert held < 15_000_000  # two builders at most, not 12


def test_csv_shape_counts_rows_and_columns_without_parsing() -> None:
    assert csv_shape("a,b,c\n1,2,3\n4,5,6\n", 100) == (3, 3)
    assert csv_shape("1,2\r\n3,4\r\n\r\n", 100) == (2, 2)
    assert csv_shape("1,2\r3,4\r5,6", 100) == (3, 2)
    assert csv_shape("\ufeff1,2,3,4\n" * 50, 10) == (10, 4)


def test_a_run_over_the_per_run_budget_is_a_422_naming_the_field() -> None:
    settings = replace(Settings(), run_memory_mb=8)
    store = RunStore(settings)
    big_batch = Experiment(
        **{"dataset": "csv", "csv": csv_text(1200, 64, 10), "hidden": [8] * 6, "batch_size": 512}
    )
    with pytest.raises(ConfigError) as e:
        store.create(big_batch, "a")
    assert e.value.loc == ("batch_size",)
    assert "8 MB per run (run_memory_mb)" in e.value.msg
    big_data = Experiment(
        **{"dataset": "csv", "csv": csv_text(5000, 64, 2), "hidden": [], "batch_size": 1}
    )
    with pytest.raises(ConfigError) as e:
        store.create(big_data, "a")
    assert e.value.loc == ("csv",)
    assert len(store) == 0


def test_a_change_over_the_per_run_budget_is_refused_and_the_run_kept() -> None:
    store = RunStore(replace(Settings(), run_memory_mb=8))
    run = store.create(Experiment(**{"hidden": [8] * 6}), "a")
    with pytest.raises(ConfigError) as e:
        run.update({"dataset": "csv", "csv": csv_text(5000, 64, 2)})
    assert e.value.loc == ("csv",)
    assert run.config.dataset != "csv" and run.state.kind == "classification"


def test_the_server_budget_refuses_new_runs_with_a_retry_after() -> None:
    config = Experiment(**{"hidden": [8] * 6, "batch_size": 512})
    size = estimate(config, Settings()).total
    small_size = estimate(Experiment(), Settings()).total
    assert small_size < size / 2
    # Room for three large runs and a small one, and half a large one to spare
    mb = (3 * size + small_size + size // 2) / budget.MB
    settings = replace(Settings(), memory_mb=mb, idle_timeout_s=100)
    store = RunStore(settings)
    fits = 3
    for i in range(fits):
        store.create(config, f"client{i}")
    assert store.used_bytes <= mb * budget.MB
    with pytest.raises(MemoryFull) as full:
        store.create(config, "late")
    assert 1 <= full.value.retry_after <= 100
    assert "memory_mb" in str(full.value)
    small = store.create(Experiment(), "late")  # a small run still fits
    # a change that would grow a run past the budget is refused too
    with pytest.raises(MemoryFull):
        small.update({"hidden": [8] * 6, "batch_size": 512})
    assert small.config.batch_size == Experiment().batch_size


def test_one_client_may_not_take_the_server_budget() -> None:
    settings = replace(Settings(), client_memory_mb=20, memory_mb=1000, idle_timeout_s=100)
    store = RunStore(settings)
    config = Experiment(**{"hidden": [8] * 6, "batch_size": 512})
    size = estimate(config, settings).total
    mine = [store.create(config, "greedy") for _ in range(int(20 * budget.MB // size))]
    with pytest.raises(ClientFull) as full:
        store.create(config, "greedy")
    assert "client_memory_mb = 20" in str(full.value)
    with pytest.raises(ClientFull):  # growing a run is refused too
        mine[0].update({"dataset": "csv", "csv": csv_text(2000, 64, 2), "batch_size": 200})
    store.create(config, "honest")  # everyone else still gets runs


def test_runs_per_client_are_capped() -> None:
    store = RunStore(replace(Settings(), max_runs_per_client=2, idle_timeout_s=100))
    a = store.create(Experiment(), "10.0.0.1")
    store.create(Experiment(), "10.0.0.1")
    with pytest.raises(ClientFull) as full:
        store.create(Experiment(), "10.0.0.1")
    assert "max_runs_per_client = 2" in str(full.value)
    assert 1 <= full.value.retry_after <= 100
    store.create(Experiment(), "10.0.0.2")  # another client is not affected
    store.delete(a.id)
    store.create(Experiment(), "10.0.0.1")  # room again after a delete


def test_the_server_budget_sums_held_bytes_and_keeps_room_for_one_grid_pass() -> None:
    """Grids are computed one at a time, so the budget counts each run's held bytes and, once,
    the largest grid pass any admissible run can make: two default runs fit where their held
    bytes and that pass fit, and not one byte less."""
    est = estimate(Experiment(), Settings())
    reserve = budget.transient_reserve(Settings())
    widest = Experiment(features=tuple(FEATURES), hidden=(Settings().max_width,) * 6)
    assert reserve >= estimate(widest, Settings()).grid_pass > est.grid_pass > 0
    assert est.peak == est.total + est.grid_pass
    for spare, fits in ((0, True), (-1, False)):
        mb = (2 * est.total + reserve + spare) / budget.MB
        store = RunStore(replace(Settings(), memory_mb=mb, idle_timeout_s=100))
        store.create(Experiment(), "a")
        if fits:
            store.create(Experiment(), "b")
        else:
            with pytest.raises(MemoryFull):
                store.create(Experiment(), "b")
