"""Everything a run builds from its config: data, network, trainer, frame builders.

Three independent random streams are spawned from the seed (data, weights, batch order),
so a seed reproduces a run, and changing the network keeps the same data; the random
feedback rule draws from a fourth (:mod:`app.core.feedback`), so runs that differ only in
their rule start from the same weights and see the same batches. A rebuild that
keeps the data's fields (a reset, a new network) reuses the data already drawn or parsed
(:func:`build` with ``reuse``): the same arrays, without parsing a CSV again.

Frame builders are kept for the last :data:`BUILDERS_KEPT` batch sizes only (the batch
size and an epoch's short last batch): a builder of the largest network and batch is
about 10 MB, and a client cycling ``batch_size`` must not keep one per size.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from app.core import regularisers
from app.core.costs import Cost, get_cost
from app.core.csvdata import CSVError, csv_to_dataset
from app.core.datasets import (
    Dataset,
    features,
    make_dataset,
    output_size,
    shared_data,
    split_for,
    targets,
)
from app.core.feedback import Feedback
from app.core.feedback import make as make_feedback
from app.core.network import Network, n_params
from app.core.training import Hyper, Trainer
from app.runs.budget import BUILDERS_KEPT
from app.runs.config import ConfigError, check_caps, resolve_output
from app.runs.experiment import Experiment
from app.runs.frames import FrameBuilder
from app.runs.grid import GridBuilder
from app.runs.metrics import Evaluator
from app.runs.rounding import Array
from app.settings import Settings


def hyper_of(config: Experiment) -> Hyper:
    return Hyper(
        learning_rate=config.learning_rate,
        batch_size=config.batch_size,
        regulariser=config.regulariser,
        lmbda=config.lmbda,
        momentum=config.momentum,
    )


@dataclass
class RunState:
    dataset: Dataset
    train_idx: Any
    test_idx: Any
    x: Array  # (N, n_1) inputs, train rows first
    y: Array  # (N, n_L) targets, train rows first
    n_train: int
    net: Network
    trainer: Trainer
    cost: Cost
    cost_name: str
    output_activation: str
    extent: list[list[float]]
    evaluator: Evaluator
    grid: GridBuilder | None
    data_key: tuple[Any, ...] = ()
    feedback: Feedback | None = None  # BP2's rule (None: the transpose)
    builders: OrderedDict[int, FrameBuilder] = field(default_factory=OrderedDict)

    @property
    def kind(self) -> str:
        return self.dataset.kind

    def builder(self, m: int) -> FrameBuilder:
        """The frame builder for batch size ``m``; the least recently used of more than
        :data:`BUILDERS_KEPT` is dropped."""
        builders = self.builders
        b = builders.get(m)
        if b is not None:
            builders.move_to_end(m)
            return b
        while len(builders) >= BUILDERS_KEPT:
            builders.popitem(last=False)
        d = self.dataset.points.shape[1]
        b = builders[m] = FrameBuilder(self.net, self.cost, m, d, self.feedback)
        return b

    def penalty(self) -> float:
        h = self.trainer.hyper
        return regularisers.penalty(h.regulariser, h.lmbda, self.n_train, self.net.weights)


def _dataset(config: Experiment, settings: Settings, rng: np.random.Generator) -> Dataset:
    if config.dataset == "csv":
        assert config.csv is not None
        return csv_dataset(config.csv, settings)
    return make_dataset(config.dataset, config.noise, rng)


def csv_dataset(text: str, settings: Settings) -> Dataset:
    """The CSV text's data; a ConfigError naming ``csv`` (line and column) if it is not."""
    try:
        return csv_to_dataset(text, settings.max_rows, settings.max_inputs + 1)
    except CSVError as e:
        raise ConfigError(("csv",), str(e)) from None


def _extent(points: Array) -> list[list[float]]:
    lo, hi = points.min(axis=0), points.max(axis=0)
    pad = np.maximum((hi - lo) * 0.1, 1e-3)
    return [[float(a), float(b)] for a, b in zip(lo - pad, hi + pad, strict=True)]


# The book's digits without noise at the preset's share: x and y, train rows first, by output
# activation; read-only, one copy for every such run (never evicted: a handful of activations).
_SHARED_XY: dict[str, tuple[Array, Array]] = {}


def _ordered(
    config: Experiment, output_act: str, x_all: Array, y_all: Array, train: Any, test: Any
) -> tuple[Array, Array]:
    """x (N, n_1) and y (N, n_L), train rows first: shared (read-only) when
    :func:`app.core.datasets.shared_data` says so, else this run's own copies."""
    order = np.concatenate([train, test])
    if not shared_data(config.dataset, config.noise, config.train_share)[1]:
        return x_all[order], y_all[order]
    xy = _SHARED_XY.get(output_act)
    if xy is None:
        x, y = x_all[order], y_all[order]
        x.setflags(write=False)
        y.setflags(write=False)
        xy = _SHARED_XY.setdefault(output_act, (x, y))  # two builds at once: one copy kept
    return xy


def data_key(config: Experiment) -> tuple[Any, ...]:
    """The fields the data (points, labels, train/test split) depend on (noise is added to
    the built-in data sets only, not to CSV data)."""
    noise = None if config.dataset == "csv" else config.noise
    return (config.dataset, noise, config.seed, config.csv, config.train_share)


def build(config: Experiment, settings: Settings, reuse: RunState | None = None) -> RunState:
    """Build a run's state; raises :class:`ConfigError` for anything the caps refuse.

    ``reuse``: a state whose data this one may share if the data's fields are the same.
    """
    check_caps(config, settings)
    data_rng, init_rng, train_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(config.seed).spawn(3)
    )
    key = data_key(config)
    if reuse is not None and reuse.data_key == key:
        ds, train_idx, test_idx = reuse.dataset, reuse.train_idx, reuse.test_idx
    else:
        ds = _dataset(config, settings, data_rng)
        train_idx, test_idx = None, None
        if config.dataset != "csv" and config.csv is not None:
            # kept for when the dataset is 'csv' (the page's other data brings it back):
            # refused now, with its line and column, rather than when it is picked
            csv_dataset(config.csv, settings)
    n = len(ds.points)
    if n > settings.max_rows:
        raise ConfigError(("dataset",), f"at most {settings.max_rows} rows (max_rows)")
    output_act, cost_name = resolve_output(ds.kind, config.output_activation, config.cost)
    if ds.points.shape[1] > settings.max_inputs:
        raise ConfigError(
            ("dataset",),
            f"{config.dataset} has {ds.points.shape[1]} inputs; "
            f"at most {settings.max_inputs} (max_inputs)",
        )
    two_d = ds.points.shape[1] == 2
    if two_d:
        names = list(config.features)
        if len(set(names)) != len(names):
            raise ConfigError(("features",), "a feature is listed twice")
        x_all = features(ds.points, names)
    else:
        x_all = ds.points
    n_out = output_size(ds.kind, ds.n_classes, output_act)
    if n_out > settings.max_outputs:
        raise ConfigError(("dataset",), f"at most {settings.max_outputs} outputs (max_outputs)")
    sizes = [x_all.shape[1], *config.hidden, n_out]
    if n_params(sizes) > settings.max_params:
        raise ConfigError(
            ("hidden",),
            f"{n_params(sizes)} parameters; at most {settings.max_params} (max_params)",
        )
    y_all = targets(ds.labels, ds.kind, output_act, ds.n_classes)
    if train_idx is None or test_idx is None:
        train_idx, test_idx = split_for(ds, config.train_share, data_rng)
    x, y = _ordered(config, output_act, x_all, y_all, train_idx, test_idx)
    n_train = len(train_idx)
    if config.probe >= n_train:
        raise ConfigError(("probe",), f"the training set has {n_train} examples (0..{n_train - 1})")
    acts = [config.hidden_activation] * len(config.hidden) + [output_act]
    net = Network.create(sizes, acts, config.init, init_rng)
    # The random rule's matrices come from the seed's own stream (child 3, beside these three)
    fb = make_feedback(config.feedback, sizes, config.seed)
    hyper = hyper_of(config)
    trainer = Trainer(net, cost_name, x[:n_train], y[:n_train], hyper, train_rng, fb)
    extent = _extent(ds.points)
    grid = None
    if two_d:
        names = list(config.features)
        grid = GridBuilder(extent, lambda p: features(p, names), n_out)
    return RunState(
        dataset=ds,
        train_idx=train_idx,
        test_idx=test_idx,
        x=x,
        y=y,
        n_train=n_train,
        net=net,
        trainer=trainer,
        cost=get_cost(cost_name, output_act),
        cost_name=cost_name,
        output_activation=output_act,
        extent=extent,
        evaluator=Evaluator(x, y, n_train, ds.kind, net, trainer.theta),
        grid=grid,
        data_key=key,
        feedback=fb,
    )


def build_ready(config: Experiment, settings: Settings, reuse: RunState | None = None) -> RunState:
    """:func:`build`, and what the first frame needs made as well (its frame builder, and the
    grid of 2-D data): every slow part of a new state, for a worker thread."""
    st = build(config, settings, reuse)
    st.builder(min(config.batch_size, st.n_train))
    if st.grid is not None:
        st.grid(st.net)
    return st
