"""A run frees what it replaces by reference counting, not by waiting for the cyclic garbage
collector: a frame builder for a batch of 512 holds ~3 MB, and a cycle through it (a
feedback rule's FrameTruth held its builder, which held it) kept it alive until a full
collection, over the run's memory estimate (tests/runs/test_budget.py saw 13.4 MB against
12.2 in some runs and not in others, as the collector happened to run)."""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from app.runs.experiment import Experiment
from app.runs.run import Run
from app.settings import Settings


@pytest.fixture
def garbage() -> Iterator[list[Any]]:
    """What the cyclic collector finds unreachable (kept in gc.garbage to be looked at)."""
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        yield gc.garbage
    finally:
        gc.set_debug(0)
        gc.garbage.clear()


@pytest.mark.parametrize("feedback", ["transpose", "inverse", "random"])
def test_changing_the_batch_size_leaves_no_cycles(feedback: str, garbage: list[Any]) -> None:
    run = Run("m", Experiment(hidden=(8, 8), feedback=feedback), Settings())
    for bs in (512, 17, 512):
        run.update({"batch_size": bs})
        run.frame(grid=True, history=True)
        run.train(20)
        run.frame(grid=True)
    del run
    gc.collect()
    ours = Counter(type(o).__qualname__ for o in garbage if type(o).__module__.startswith("app."))
    assert not ours, f"freed only by the cyclic collector: {dict(ours)}"
