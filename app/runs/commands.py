"""The commands a learner gives a run, once for the REST API and the stream.

``step``, ``reset``, ``probe``, ``set`` (:func:`configure`) and ``set_weight`` arrive as
REST requests (``app/api/runs.py``) or as stream messages (``app/api/stream_session.py``);
both call these functions, so a command checks the same limits and changes the run the
same way whichever way it came. Hold the run's lock (``run.claim()`` or ``run.lock``)
around each. Problems are :class:`~app.runs.config.ConfigError` naming the field and its
limit, or :class:`~app.runs.run.RunDiverged`; the caller turns them into its own answer
(a 4xx, an ``error`` message). What follows a command (a frame, with or without the grid)
is the caller's too.
"""

from __future__ import annotations

from typing import Any

from app.runs.run import Run, RunDiverged, check_steps
from app.runs.work import Workers
from app.settings import Settings


def step(run: Run, steps: int | None, epochs: int | None, settings: Settings) -> int:
    """The number of steps asked for (``epochs`` counted in steps; nothing: one step),
    checked against ``max_steps_per_request``; :class:`RunDiverged` if the run cannot train.
    The caller trains them: a REST request paced, a stream in its ticker."""
    count = check_steps(run, steps, epochs, settings)
    if run.status == "diverged":
        raise RunDiverged()
    run.touch()
    return count


async def reset(run: Run, workers: Workers) -> None:
    """Back to step 0: the same config and seed, so the same data and initial weights (the
    new state is made in a worker thread)."""
    run.touch()
    await run.reset_off_loop(workers)


def probe(run: Run, index: int) -> None:
    """The training example whose per-example tensors the frames carry (``index`` is
    checked against the training set's size)."""
    run.touch()
    run.set_probe(index)


async def configure(run: Run, changes: dict[str, Any], workers: Workers) -> bool:
    """Apply part of the experiment (:class:`~app.runs.experiment.Experiment` field names
    as keys): the training rule and the probe keep the weights, anything else rebuilds the
    run in a worker thread. True if it rebuilt."""
    run.touch()
    return await run.change(changes, workers)


def set_weight(run: Run, l: int, j: int, k: int, value: float) -> None:  # noqa: E741
    """``w^l_jk = value`` (j, k 0-based), every other parameter kept."""
    run.touch()
    run.set_weight(l, j, k, value)
