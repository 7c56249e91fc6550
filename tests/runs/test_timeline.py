"""Rewinding a run: snapshots within their budget, and training on from one is exact."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import orjson
import pytest

from app.runs.config import ConfigError
from app.runs.experiment import Experiment
from app.runs.run import Run
from app.runs.timeline import BUDGET_BYTES, MAX_SNAPSHOTS, RECENT
from app.settings import Settings

# A batch of 7 on 250 training points: the order is redrawn every 36 steps (the last batch
# of each epoch is short), so where a run is in its epoch and its generator both matter.
RULES: dict[str, dict[str, Any]] = {
    "sgd": {},
    "momentum": {"momentum": 0.9},
    "l1": {"regulariser": "l1", "lmbda": 0.01},
    "l2": {"regulariser": "l2", "lmbda": 0.01, "momentum": 0.5},
}


def _run(rule: str, **more: Any) -> Run:
    config = Experiment(hidden=(5, 3), batch_size=7, learning_rate=0.1, seed=4, **RULES[rule])
    return Run("r", config.changed(**more), Settings())


def _train(run: Run, steps: int, chunk: int) -> None:
    while steps > 0:
        steps -= run.train(min(chunk, steps))


@pytest.mark.parametrize("rule", list(RULES))
def test_training_on_from_a_rewind_gives_the_weights_the_run_first_had(rule: str) -> None:
    run = _run(rule)
    _train(run, 400, chunk=13)
    s = 250
    steps = run.lab.timeline.steps
    kept = run.rewind(s)
    # the nearest kept step at or before s: the latest of those kept, not just any of them
    assert kept == max(k for k in steps if k <= s) and run.step == kept
    _train(run, s + 100 - kept, chunk=9)
    # The same settings, trained straight through to the same step
    straight = _run(rule)
    _train(straight, s + 100, chunk=1000)
    assert run.step == straight.step == s + 100
    assert run.state.trainer.theta.tobytes() == straight.state.trainer.theta.tobytes()


def _frame(run: Run) -> dict[str, Any]:
    f = orjson.loads(run.frame(grid=True, history=True))
    del f["t"]  # the clock
    f.pop("prediction", None)  # of the last step trained (none yet after a rewind)
    return f


def test_a_rewind_between_kept_steps_lands_on_the_latest_one_before() -> None:
    run = _run("sgd")
    _train(run, 3_000, chunk=10)  # thinned out: the older snapshots lie far apart
    steps = list(run.lab.timeline.steps)
    gaps = [(a, b) for a, b in itertools.pairwise(steps) if b - a > 2]
    assert gaps, steps
    for a, b in gaps[:5]:
        for s in (a + 1, (a + b) // 2, b - 1):
            assert run.rewind(s) == a, (s, a, b)
        assert run.rewind(b) == b
    assert run.rewind(10**6) == steps[-1] == 3_000  # past the newest kept step: that one


def test_a_rewound_run_shows_the_frame_it_showed_then() -> None:
    run = _run("momentum")
    _train(run, 60, chunk=10)  # every step before 100 is kept
    then = _frame(run)
    _train(run, 300, chunk=25)
    assert run.rewind(60) == 60
    assert _frame(run) == then


def test_the_budget_holds_over_ten_thousand_steps_and_thins_older_steps() -> None:
    run = _run("momentum", hidden=(8, 8, 8, 8))
    tl = run.lab.timeline
    for _ in range(1000):
        run.train(10)
        assert len(tl.steps) <= MAX_SNAPSHOTS and tl.bytes <= min(BUDGET_BYTES, tl.budget)
    steps = tl.steps
    assert run.step == 10_000 and steps[0] == 0 and steps[-1] == 10_000
    recent = steps[-RECENT:]
    assert recent == list(range(10_000 - 10 * (RECENT - 1), 10_001, 10))  # the newest, all
    gaps = [b - a for a, b in itertools.pairwise(steps)]
    # Older snapshots are further apart: the oldest gap is much wider than the newest.
    assert gaps[0] > 20 * gaps[-1]
    assert all(s in steps for s in (0, 10_000))


def test_rewind_cuts_the_history_and_training_on_drops_what_lay_ahead() -> None:
    run = _run("sgd")
    for _ in range(5):
        run.train(30)
        run.frame()  # a measurement: a history point
    assert [p[0] for p in run.history] == [30, 60, 90, 120, 150]
    run.rewind(75)
    assert run.step == 75 and [p[0] for p in run.history] == [30, 60]
    run.rewind(120)  # forward again, before training: the points come back
    assert run.step == 120 and [p[0] for p in run.history] == [30, 60, 90, 120]
    run.rewind(61)
    run.train(1)  # training on from 61: the future is gone
    assert run.lab.timeline.steps[-1] == 62
    run.rewind(150)
    assert run.step == 62 and [p[0] for p in run.history] == [30, 60]


def test_a_playing_run_is_paused_where_it_is_rewound_to() -> None:
    run = _run("sgd")
    run.train(50)
    run.playing = True
    assert run.status == "running"
    run.rewind(20)
    assert run.status == "paused" and run.step == 20


def test_a_weight_set_after_a_rewind_drops_the_snapshots_ahead() -> None:
    run = _run("sgd")
    run.train(90)
    run.rewind(40)
    run.set_weight(2, 0, 0, 0.5)
    assert run.lab.timeline.steps[-1] == 40
    run.train(1)
    w = run.state.trainer.theta.copy()
    run.rewind(41)
    assert run.state.trainer.theta.tobytes() == w.tobytes()  # the edited run's step 41


def test_rewinding_before_the_earliest_kept_step_names_it() -> None:
    run = _run("sgd")
    run.train(300)
    with pytest.raises(ConfigError) as e:
        run.lab.timeline.clear()
        run.rewind(10)
    assert e.value.loc == ("step",) and "no steps are kept" in e.value.msg


def test_a_rebuild_or_reset_starts_a_new_timeline() -> None:
    run = _run("sgd")
    run.train(120)
    run.reset()
    assert run.lab.timeline.steps == [0]
    run.train(5)
    run.update({"hidden": (3,)})
    assert run.lab.timeline.steps == [0]


def test_a_run_that_diverges_early_stops_where_the_fast_path_does() -> None:
    """Before step 100 a run trains step by step (a snapshot each); when it diverges it
    stops at its last finite step, as the trainer's own call of all the steps does (it used
    to go back where the call began while its step count went on: a reviewer saw "step 5"
    over step 0's weights). The last finite step is kept on the timeline, with its weights."""
    config = Experiment(
        dataset="plane",
        hidden=(8, 8),
        hidden_activation="linear",
        learning_rate=10.0,
        init="standard_normal",
    )
    run, twin = Run("r", config, Settings()), Run("t", config, Settings())
    run.train(16)
    twin.state.trainer.train(16)  # the fast path alone, in one call
    assert run.status == twin.status == "diverged"
    assert 1 <= run.step == twin.step < 16
    assert run.state.trainer.theta.tobytes() == twin.state.trainer.theta.tobytes()
    assert np.isfinite(run.state.trainer.theta).all()
    assert run.lab.timeline.steps[-1] == run.step
