"""A trainer's state captured and restored: training on from it is bit-for-bit the same."""

from __future__ import annotations

import numpy as np
import pytest

from app.core import checkpoint
from app.core.network import Network
from app.core.training import Hyper, Trainer


def _trainer(seed: int, hyper: Hyper) -> Trainer:
    """A 2-5-3-1 tanh network on 23 points (a batch of 4 leaves a short batch of 3 at every
    epoch's end); the batch order depends on the generator."""
    data = np.random.default_rng(7)
    x = data.normal(size=(23, 2))
    y = np.tanh(x[:, :1] - x[:, 1:])
    net = Network.create([2, 5, 3, 1], ["tanh", "tanh", "tanh"], "xavier", np.random.default_rng(3))
    return Trainer(net, "quadratic", x, y, hyper, np.random.default_rng(seed))


RULES = [
    Hyper(learning_rate=0.1, batch_size=4),
    Hyper(learning_rate=0.1, batch_size=4, momentum=0.9),
    Hyper(learning_rate=0.1, batch_size=4, regulariser="l1", lmbda=0.3),
    Hyper(learning_rate=0.1, batch_size=4, regulariser="l2", lmbda=0.3, momentum=0.5),
]


@pytest.mark.parametrize("hyper", RULES, ids=["sgd", "momentum", "l1", "l2+momentum"])
def test_a_restored_trainer_goes_on_exactly_as_the_original(hyper: Hyper) -> None:
    original = _trainer(11, hyper)
    original.train(37)  # mid-epoch (6 steps an epoch), velocity and order under way
    saved = checkpoint.capture(original)
    original.train(100)
    # Into another trainer of the same settings, whose generator is elsewhere
    other = _trainer(999, hyper)
    other.train(5)
    checkpoint.restore(other, saved)
    other.train(100)
    assert other.theta.tobytes() == original.theta.tobytes()
    assert (other.step, other.epoch) == (original.step, original.epoch) == (137, 137 // 6)
    # and back into the original itself
    checkpoint.restore(original, saved)
    original.train(100)
    assert original.theta.tobytes() == other.theta.tobytes()


def test_a_capture_does_not_change_as_training_goes_on() -> None:
    tr = _trainer(1, RULES[1])
    tr.train(3)
    saved = checkpoint.capture(tr)
    theta = saved.theta.copy()
    tr.train(50)
    assert saved.theta.tobytes() == theta.tobytes() and saved.step == 3


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda s: {"theta": s.theta[:-1]}, "theta"),
        (lambda s: {"velocity": np.full_like(s.velocity, np.nan)}, "velocity"),
        (lambda s: {"order": np.zeros_like(s.order)}, "order"),
        (lambda s: {"cursor": 24}, "cursor"),
        (lambda s: {"status": "tired"}, "status"),
        (lambda s: {"rng": {"bit_generator": "MT19937", "state": {}}}, "rng"),
        (lambda s: {"epoch": s.step + 1}, "step"),
    ],
)
def test_a_state_that_does_not_fit_is_refused_and_changes_nothing(change, field) -> None:  # type: ignore[no-untyped-def]
    import dataclasses

    tr = _trainer(1, RULES[0])
    tr.train(8)
    bad = dataclasses.replace(checkpoint.capture(tr), **change(checkpoint.capture(tr)))
    tr.train(3)
    before = checkpoint.capture(tr)
    with pytest.raises(checkpoint.CheckpointError) as e:
        checkpoint.restore(tr, bad)
    assert e.value.field == field
    after = checkpoint.capture(tr)
    assert after.theta.tobytes() == before.theta.tobytes() and after.step == before.step == 11
    assert after.rng == before.rng and after.cursor == before.cursor
