"""One experiment: everything a run is built from, in the notation's names.

The domain's config. The REST API and the stream receive it under their own wire names
(``lambda`` for λ) in :class:`app.api.models.RunConfig` and map it onto this class in
:mod:`app.api.mapping`; nothing here knows JSON or HTTP. The defaults are TensorFlow
Playground's experiment (a teacher's preset replaces them per server).

Which values are allowed (ranges, names) is checked where a value comes in: the API's
models check each field, :func:`app.runs.config.check_caps` the server's caps, and
:func:`app.runs.state.build` what depends on the data.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from app.core.feedback import DEFAULT as DEFAULT_FEEDBACK


@dataclass(frozen=True)
class Experiment:
    """Data (``dataset`` … ``features``), network (``hidden`` … ``init``), training rule
    (``learning_rate`` η, ``batch_size`` m, ``regulariser``, ``lmbda`` λ, ``momentum`` μ,
    ``feedback``: the matrix BP2 carries δ back with, :mod:`app.core.feedback`) and the probe
    (an index into the training set). ``hidden``: neurons per hidden layer;
    ``output_activation`` and ``cost`` None: the dataset kind's default."""

    dataset: str = "circle"
    noise: float = 0.0  # Playground's 0-50 % as 0-0.5
    train_share: float = 0.5
    seed: int = 1
    csv: str | None = None  # CSV text when dataset == "csv": numeric columns, the target last
    features: tuple[str, ...] = ("x1", "x2")
    hidden: tuple[int, ...] = (4, 2)
    hidden_activation: str = "tanh"
    output_activation: str | None = None
    cost: str | None = None
    init: str = "playground"
    learning_rate: float = 0.03
    batch_size: int = 10
    regulariser: str = "none"
    lmbda: float = 0.0
    momentum: float = 0.0
    feedback: str = DEFAULT_FEEDBACK
    probe: int = 0

    def __post_init__(self) -> None:
        # Lists given for the sequences are kept as tuples: an experiment never changes.
        object.__setattr__(self, "features", tuple(self.features))
        object.__setattr__(self, "hidden", tuple(self.hidden))

    def changed(self, **changes: Any) -> Experiment:
        """This experiment with ``changes`` (field names as keys) applied."""
        return dataclasses.replace(self, **changes)

    def differs(self, other: Experiment) -> set[str]:
        """The names of the fields whose values differ in ``other``."""
        return {
            f.name
            for f in dataclasses.fields(self)
            if getattr(self, f.name) != getattr(other, f.name)
        }


FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Experiment))
# The fields a change of which keeps the weights: the training rule and the probe.
HYPER_FIELDS = frozenset({"learning_rate", "lmbda", "regulariser", "batch_size", "momentum"})
KEEP_FIELDS = HYPER_FIELDS | {"probe"}
