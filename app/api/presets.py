"""The link grammar: one parser for the page's URL hash and the teacher's ``BPV_PRESET``.

A link is ``key=value&key=value`` (a leading ``#`` is dropped; ``+`` and ``%xx`` are
decoded). :data:`GRAMMAR` lists every key, what it sets (``config``: a :class:`RunConfig`
field, ``lambda`` for λ; ``view``: this page only) and how its value reads:

- ``number`` / ``int``: a plain decimal (``0.03``, ``1e-4``); no NaN, no ±Infinity;
- ``bool``: ``true|1|yes`` or ``false|0|no``; a bare key (``#test``) means true;
- ``names`` / ``ints``: comma lists (``features=x1,x2``, ``hidden=4,2``; ``hidden=`` is none);
- ``name`` / ``text``: as written. ``output_activation`` and ``cost`` also take
  ``auto``, ``null``, ``none`` or nothing: the problem's default.

TensorFlow Playground's keys (its ``src/state.ts``) work too: ``activation``, ``learningRate``,
``batchSize``, ``networkShape``, ``regularization`` (``L1``/``L2``/``none``), ``percTrainData``
and ``noise`` in percent, ``dataset``/``regDataset``/``problem``, ``showTestData``, the feature
flags ``x``, ``y``, ``xSquared``, ``ySquared``, ``xTimesY``, ``sinX``, ``sinY``, ``initZero``,
``<control>_hide``, and ``regularizationRate`` r. Playground steps ``w ← w − η·r·∂R/∂w`` while
this server follows Nielsen, ``C = C₀ + (λ/2n)·Σw²`` with n the training examples, so the same
experiment has ``λ = r·n`` (r = 0.01 with 250 training points is λ = 2.5).

:func:`parse_link` never raises on user text: what it cannot use is listed in ``ignored``
with a reason (the page shows them). :func:`parse_preset` uses it and fails at startup if a
teacher's key is unusable. Keys are looked up in dicts built here, never on objects, so
``toString`` or ``__proto__`` are just unknown keys.
"""

from __future__ import annotations

import logging
import re
import urllib.parse
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from pydantic import ValidationError

from app.api.mapping import experiment_of
from app.api.models import RunConfig
from app.core.datasets import DATASETS, make_dataset, split, split_for
from app.runs.config import ConfigError, check_caps
from app.runs.pacer import MAX_STEPS_PER_FRAME
from app.runs.state import build
from app.settings import Settings

log = logging.getLogger(__name__)

Kind = Literal["name", "text", "number", "int", "bool", "names", "ints"]
MAX_LINK = 4096  # characters of a link the server reads

# "The book's digits": Nielsen's chapter-1 network, 64-30-10 with sigmoid hidden neurons and
# mini-batches of 10, on the 8×8 digits held out 1,437/360; the output and cost are the
# multiclass default (softmax, log-likelihood: chapter 3), so η is 0.5, not chapter 1's 3.0.
# The 2-D input features do not apply to the digits (their inputs are the 64 pixels).
BOOK_DIGITS = (
    "dataset=digits&noise=0&train_share=0.8&hidden=30&hidden_activation=sigmoid"
    "&output_activation=auto&cost=auto&init=xavier&learning_rate=0.5&batch_size=10"
    "&regulariser=none&lambda=0&momentum=0"
)
# The settings the page applies when a data set is picked, where they differ from the rest.
DATASET_LINKS: dict[str, str] = {"digits": BOOK_DIGITS}


@dataclass(frozen=True)
class Key:
    """One key of the grammar. ``choices``/``bounds``/``default`` are for view keys (config
    keys are checked by :class:`RunConfig` and the server's caps)."""

    key: str
    kind: Kind
    target: Literal["config", "view"]
    nullable: bool = False
    choices: tuple[str, ...] | None = None
    bounds: tuple[float, float] | None = None
    default: Any = None


GRAMMAR: tuple[Key, ...] = (
    Key("dataset", "name", "config"),
    Key("noise", "number", "config"),
    Key("train_share", "number", "config"),
    Key("seed", "int", "config"),
    Key("csv", "text", "config", nullable=True),
    Key("features", "names", "config"),
    Key("hidden", "ints", "config"),
    Key("hidden_activation", "name", "config"),
    Key("output_activation", "name", "config", nullable=True),
    Key("cost", "name", "config", nullable=True),
    Key("init", "name", "config"),
    Key("learning_rate", "number", "config"),
    Key("batch_size", "int", "config"),
    Key("regulariser", "name", "config"),
    Key("lambda", "number", "config"),
    Key("momentum", "number", "config"),
    Key("feedback", "name", "config"),
    Key("probe", "int", "config"),
    Key("speed", "int", "view", bounds=(1, MAX_STEPS_PER_FRAME), default=10),
    Key(
        "color",
        "name",
        "view",
        choices=("backward", "weight", "gradient", "forward"),
        default="backward",
    ),
    Key("over", "name", "view", choices=("probe", "mean"), default="probe"),
    # The gradient strip's "over the run" selector (static/js/gradient_strip.js, HEAT_QUANTITIES).
    Key("heat", "name", "view", choices=("grad", "delta", "saturated", "dead"), default="grad"),
    Key("fill", "name", "view", choices=("delta", "a", "z"), default="delta"),
    Key("scale", "name", "view", choices=("linear", "log"), default="linear"),
    Key("test", "bool", "view", default=False),
    Key("discretize", "bool", "view", default=False),
    Key("hide", "names", "view", default=[]),
    Key("lock", "names", "view", default=[]),
)
KEYS: dict[str, Key] = {k.key: k for k in GRAMMAR}

# Playground's names for the same settings (values read the same way unless noted below).
PLAYGROUND_KEYS = {
    "activation": "hidden_activation",
    "learningRate": "learning_rate",
    "batchSize": "batch_size",
    "networkShape": "hidden",
    "showTestData": "test",
}
PLAYGROUND_FEATURES = {
    "x": "x1", "y": "x2", "xSquared": "x1^2", "ySquared": "x2^2", "xTimesY": "x1x2",
    "sinX": "sin_x1", "sinY": "sin_x2",
}  # fmt: skip
PLAYGROUND_REG_DATASETS = {"reg-plane": "plane", "reg-gauss": "multigauss"}
# Playground keys with no counterpart here: only a value that asks for something is reported.
PLAYGROUND_UNUSED = {
    "cosX": "there is no cos feature here",
    "cosY": "there is no cos feature here",
    "collectStats": "Playground's statistics are not shown here",
    "tutorial": "Playground's tutorials are not part of this page",
    "hideText": "this page has no article text to hide",
}
UNKNOWN = "not a setting of this page"
SEED_TEXT = "Playground's text seeds cannot be reproduced here; this page's seed is used"

_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
_NAME = re.compile(r"[A-Za-z0-9_^.-]{1,40}")
_TRUE = ("true", "1", "yes")
_FALSE = ("false", "0", "no")
_NULL = ("", "auto", "null", "none")


class PresetError(ValueError):
    pass


class _Bad(ValueError):
    """A value this key cannot take; the message is the reason shown to the user."""


def _split(text: str) -> list[tuple[str, str | None]]:
    """(key, value) pairs as written; value None for a bare key."""
    pairs: list[tuple[str, str | None]] = []
    for part in text.split("&"):
        if not part:
            continue
        key, eq, value = part.partition("=")
        key = urllib.parse.unquote_plus(key)
        pairs.append((key, urllib.parse.unquote_plus(value) if eq else None))
    return pairs


def _bool(raw: str | None) -> bool:
    t = "true" if raw is None else raw.strip().lower()
    if t in _TRUE:
        return True
    if t in _FALSE:
        return False
    raise _Bad("expected true or false")


def _number(t: str) -> float:
    if not _NUMBER.fullmatch(t):
        raise _Bad("expected a decimal number such as 0.03")
    return float(t)


def _read(k: Key, raw: str | None) -> Any:
    """The value of ``raw`` for key ``k`` by its kind (not yet checked against limits)."""
    if k.kind == "bool":
        return _bool(raw)
    t = (raw or "").strip()
    if k.nullable and t.lower() in _NULL:
        return None
    if raw is None:
        raise _Bad("needs a value (key=value)")
    if k.kind == "number":
        return _number(t)
    if k.kind == "int":
        v = _number(t)
        if not v.is_integer():
            raise _Bad("expected a whole number")
        return int(v)
    if k.kind == "ints":
        parts = [p.strip() for p in t.split(",")] if t else []
        if not all(p.isdigit() for p in parts):
            raise _Bad("expected whole numbers separated by commas, such as 4,2")
        return [int(p) for p in parts]
    if k.kind == "names":
        names = [p.strip() for p in t.split(",") if p.strip()]
        for n in names:
            if not _NAME.fullmatch(n):
                raise _Bad(f"{n!r} is not a name")
        return names
    if k.kind == "name" and not _NAME.fullmatch(t):
        raise _Bad("not a name")
    return raw if k.kind == "text" else t


def _check(k: Key, value: Any, settings: Settings, dataset: str | None = None) -> Any:
    """``value`` if key ``k`` may take it here; else :class:`_Bad` with the reason.
    ``dataset``: the link's data set, whose caps apply (the digits allow wider layers)."""
    if k.target == "view":
        if k.choices and value not in k.choices:
            raise _Bad(f"choose one of {', '.join(k.choices)}")
        if k.bounds and not k.bounds[0] <= value <= k.bounds[1]:
            raise _Bad(f"must be between {k.bounds[0]} and {k.bounds[1]}")
        return value
    try:
        config = RunConfig.model_validate({k.key: value})
        if k.key != "dataset":  # dataset=csv needs CSV text, which the page keeps
            experiment = experiment_of(config)
            if dataset in DATASETS:
                experiment = experiment.changed(dataset=dataset)
            check_caps(experiment, settings)
    except ValidationError as e:
        raise _Bad(e.errors()[0]["msg"]) from None
    except ConfigError as e:
        raise _Bad(e.msg) from None
    return value


def _n_train(dataset: str, train_share: float) -> int | None:
    """Training examples of a built-in dataset at this share (n in λ/n), as the server splits."""
    spec = DATASETS.get(dataset)
    if spec is None:
        return None
    if spec.image is not None:  # the digits: a stratified split of their own
        ds = make_dataset(dataset, 0.0, np.random.default_rng(0))
        return len(split_for(ds, train_share, np.random.default_rng(0))[0])
    return len(split(spec.n_points, train_share, np.random.default_rng(0))[0])


@dataclass
class Link:
    """What a link sets: ``config`` (RunConfig keys), ``view`` (page keys), and ``ignored``
    (``{"key", "value", "reason", "kind"}`` for every part that was not used; kind
    ``invalid``: a value this key cannot take, ``unknown``: no such key, ``unused``: a
    Playground setting with no counterpart here)."""

    config: dict[str, Any]
    view: dict[str, Any]
    ignored: list[dict[str, str]]

    def as_json(self) -> dict[str, Any]:
        return {"config": self.config, "view": self.view, "ignored": self.ignored}


def parse_link(text: str, settings: Settings, base: RunConfig | None = None) -> Link:
    """Read a link. ``base`` (the default experiment) gives the dataset and training share
    that Playground's ``regularizationRate`` is converted with when the link does not."""
    link = Link({}, {}, [])
    text = text.strip().removeprefix("#")
    if len(text) > MAX_LINK:
        reason = f"longer than {MAX_LINK} characters"
        link.ignored.append(
            {"key": "(link)", "value": text[:40] + "…", "reason": reason, "kind": "invalid"}
        )
        return link

    def ignore(key: str, raw: str | None, reason: str, kind: str = "invalid") -> None:
        link.ignored.append({"key": key, "value": raw or "", "reason": reason, "kind": kind})

    playground: dict[str, tuple[str, str | None]] = {}
    features: list[str] = []
    feature_flags = False
    hide: list[str] = []
    pairs = _split(text)
    dataset = next((raw for key, raw in pairs if key == "dataset" and raw), None)
    for key, raw in pairs:
        if key in PLAYGROUND_KEYS:
            key = PLAYGROUND_KEYS[key]
        elif key == "regularization":
            key, raw = "regulariser", (raw or "").lower()
        elif key == "percTrainData":
            try:
                link.config["train_share"] = _check(
                    KEYS["train_share"], _number((raw or "").strip()) / 100, settings
                )
            except _Bad as e:
                ignore(key, raw, f"Playground's training percentage: {e}")
            continue
        elif key in PLAYGROUND_FEATURES:
            try:
                feature_flags = True
                if _bool(raw):
                    features.append(PLAYGROUND_FEATURES[key])
            except _Bad as e:
                ignore(key, raw, str(e))
            continue
        elif key in ("regularizationRate", "problem", "regDataset"):
            playground[key] = (key, raw)
            continue
        elif key == "initZero":
            try:
                if _bool(raw):
                    link.config["init"] = "zeros"
            except _Bad as e:
                ignore(key, raw, str(e))
            continue
        elif key.endswith("_hide") and len(key) > 5:
            try:
                if _bool(raw):
                    hide.append(key[:-5])
            except _Bad as e:
                ignore(key, raw, str(e))
            continue
        elif key in PLAYGROUND_UNUSED:
            if raw not in (None, "", "false", "undefined", "null"):
                ignore(key, raw, PLAYGROUND_UNUSED[key], "unused")
            continue
        k = KEYS.get(key)
        if k is None:
            ignore(key, raw, UNKNOWN, "unknown")
            continue
        if key == "seed" and raw is not None and re.fullmatch(r"0?\.\d+", raw.strip()):
            ignore(key, raw, SEED_TEXT, "unused")  # Playground's seeds look like 0.38215
            continue
        try:
            value = _read(k, raw)
            if key == "noise" and value is not None and 0.5 < value <= 50:
                value = value / 100  # Playground writes noise in percent (0-50)
            value = _check(k, value, settings, dataset)
        except _Bad as e:
            ignore(key, raw, str(e))
            continue
        (link.config if k.target == "config" else link.view)[key] = value

    if feature_flags:
        if "features" in link.config:
            ignore("x", "", "the link also gives features=, which is used", "unused")
        elif features:
            link.config["features"] = features
        else:
            ignore("x", "false", "a network needs at least one input feature")
    if hide:
        link.view["hide"] = [*link.view.get("hide", []), *hide]
    if "problem" in playground:  # Playground links carry both data sets; problem picks one
        _, raw = playground["problem"]
        if raw == "regression" and "regDataset" in playground:
            _, reg = playground["regDataset"]
            if reg in PLAYGROUND_REG_DATASETS:
                link.config["dataset"] = PLAYGROUND_REG_DATASETS[reg]
            else:
                ignore("regDataset", reg, f"choose one of {', '.join(PLAYGROUND_REG_DATASETS)}")
        elif raw not in ("classification", "regression"):
            ignore("problem", raw, "choose classification or regression")
    if "regularizationRate" in playground:
        _, raw = playground["regularizationRate"]
        _lambda_from_rate(link, raw, settings, base or RunConfig(), ignore)
    return link


def _lambda_from_rate(
    link: Link, raw: str | None, settings: Settings, base: RunConfig, ignore: Any
) -> None:
    """Playground's regularizationRate r as this page's λ = r·n (see the module docstring)."""
    if "lambda" in link.config:
        ignore("regularizationRate", raw, "the link also gives lambda=, which is used", "unused")
        return
    try:
        r = _number((raw or "").strip())
    except _Bad as e:
        ignore("regularizationRate", raw, str(e))
        return
    dataset = link.config.get("dataset", base.dataset)
    n = _n_train(dataset, link.config.get("train_share", base.train_share))
    if n is None:
        ignore("regularizationRate", raw, "needs a built-in dataset to know n in λ/n")
        return
    lam = float(f"{r * n:.6g}")
    try:
        link.config["lambda"] = _check(KEYS["lambda"], lam, settings)
    except _Bad:
        ignore(
            "regularizationRate",
            raw,
            f"Playground's rate {r:g} is λ = {r:g}·n = {lam:g} here (n = {n} training "
            f"examples), above this page's limit λ ≤ 10",
        )


def grammar_json() -> list[dict[str, Any]]:
    """The grammar as the page writes links with it: key, kind, target, nullable, default,
    and a view key's choices (null for the others)."""
    return [
        {
            "key": k.key,
            "kind": k.kind,
            "target": k.target,
            "nullable": k.nullable,
            "default": k.default,
            "choices": list(k.choices) if k.choices else None,
        }
        for k in GRAMMAR
    ]


def parse_preset(text: str, settings: Settings) -> RunConfig:
    """The default experiment with the preset's values; raises PresetError if a key the
    server reads is unusable (the page-only keys are the page's; unknown keys are logged)."""
    link = parse_link(text, settings)
    bad = [i for i in link.ignored if i["kind"] == "invalid"]
    if bad:
        first = bad[0]
        raise PresetError(f"BPV_PRESET: {first['key']}={first['value']!r}: {first['reason']}")
    if link.ignored:
        log.warning("BPV_PRESET: ignored %s", [f"{i['key']}: {i['reason']}" for i in link.ignored])
    try:
        config = RunConfig.model_validate(link.config)
        check_caps(experiment_of(config), settings)
        build(experiment_of(config), settings)  # the same checks as POST /api/runs
    except ValidationError as e:
        first_err = e.errors()[0]
        loc = ".".join(str(p) for p in first_err["loc"])
        raise PresetError(f"BPV_PRESET: {loc}: {first_err['msg']}") from None
    except ConfigError as e:
        loc = ".".join(str(p) for p in e.loc)
        raise PresetError(f"BPV_PRESET: {loc}: {e.msg}") from None
    return config


__all__ = ["GRAMMAR", "Link", "PresetError", "grammar_json", "parse_link", "parse_preset"]
