"""Checking an :class:`~app.runs.experiment.Experiment` against the server's caps, and
resolving its defaults.

Every problem is a :class:`ConfigError` naming the field (``loc``) and, for a cap, the
cap's value and setting name, e.g. ``("hidden", 0)``: "at most 8 neurons per hidden layer
(max_width)". The REST API turns it into a 422, the stream into an ``error`` message.
"""

from __future__ import annotations

from app.core.activations import ACTIVATIONS, OUTPUT
from app.core.costs import COSTS, get_cost
from app.core.datasets import DIGITS, default_output
from app.runs.experiment import Experiment
from app.settings import Settings


class ConfigError(ValueError):
    def __init__(self, loc: tuple[str | int, ...], msg: str) -> None:
        super().__init__(msg)
        self.loc = loc
        self.msg = msg


def check_caps(config: Experiment, settings: Settings) -> None:
    """The caps that need no data: depth, width (wider on the digits), batch size, a CSV
    when asked for one."""
    s = settings
    if len(config.hidden) > s.max_layers:
        raise ConfigError(("hidden",), f"at most {s.max_layers} hidden layers (max_layers)")
    width, cap = s.max_width, "max_width"
    if config.dataset == DIGITS.name:
        width, cap = s.max_digits_width, "max_digits_width"
    for i, n in enumerate(config.hidden):
        if n > width:
            on = " on the digits" if cap == "max_digits_width" else ""
            raise ConfigError(
                ("hidden", i), f"at most {width} neurons per hidden layer{on} ({cap})"
            )
    if config.batch_size > s.max_batch:
        raise ConfigError(("batch_size",), f"at most {s.max_batch} examples (max_batch)")
    if config.dataset == "csv" and not config.csv:
        raise ConfigError(("csv",), "CSV text is required when dataset is 'csv'")
    if config.csv is not None and len(config.csv) > s.max_body_bytes:
        raise ConfigError(("csv",), f"at most {s.max_body_bytes} characters (max_body_bytes)")


def ignored(config: Experiment, n_inputs: int) -> list[tuple[str, str]]:
    """(field, why) for each setting of ``config`` its data makes meaningless: kept in the
    config (picking other data brings it back) but without effect. ``n_inputs``: the data's
    raw columns (2 for the plane, where the input features apply)."""
    out: list[tuple[str, str]] = []
    if n_inputs != 2:
        what = "the digits' 64 pixels" if config.dataset == DIGITS.name else "its columns"
        out.append(
            (
                "features",
                f"the input layer is the data's {n_inputs} inputs ({what}); the input "
                "features (x1, x2, x1², …) apply to data with 2 inputs only",
            )
        )
    if config.dataset == "csv" and config.noise != 0.0:
        out.append(("noise", "noise applies to the built-in data sets, not to CSV data"))
    return out


def resolve_output(kind: str, output: str | None, cost: str | None) -> tuple[str, str]:
    """(output activation, cost) after filling nulls from the dataset kind's default: a cost
    alone takes the output σ' cancels on (else the default output, or one with 0/1 targets
    where the default is not elementwise); an output alone takes the cost that cancels on
    it, else the quadratic cost."""
    default_act, default_cost = default_output(kind)
    if output is None and cost is None:
        return default_act, default_cost
    if output is None:
        assert cost is not None
        c = COSTS.get(cost)
        if c is not None and c.cancels_on is not None:
            output = c.cancels_on
        elif ACTIVATIONS[default_act].elementwise:
            output = default_act
        else:  # one-hot targets are 0/1
            output = next(n for n in OUTPUT if ACTIVATIONS[n].classes == (0.0, 1.0))
    if cost is None:
        cost = next((c.name for c in COSTS.values() if c.cancels_on == output), "quadratic")
    act = ACTIVATIONS.get(output)
    if kind == "regression" and act is not None and not act.elementwise:
        raise ConfigError(
            ("output_activation",), f"{act.label} needs several outputs; regression has one"
        )
    try:
        get_cost(cost, output)
    except ValueError as e:
        raise ConfigError(("cost",), str(e)) from None
    return output, cost
