"""The default experiment, and a teacher's preset (``BPV_PRESET``) on top of it.

A preset is a URL-hash-style string, as the page writes it: ``dataset=xor&hidden=4,4&
learning_rate=0.1``. Keys are :class:`RunConfig` fields (``lambda`` for λ); lists are
comma-separated (``hidden=`` is no hidden layer); ``null`` (or nothing) clears
``output_activation``/``cost``. Keys the server does not know belong to the page (hidden
controls and the like) and are ignored. A bad value of a known key fails at startup.
"""

from __future__ import annotations

import logging
import urllib.parse
from typing import Any

from pydantic import ValidationError

from app.api.models import RunConfig
from app.runs.config import ConfigError, check_caps
from app.runs.state import build
from app.settings import Settings

log = logging.getLogger(__name__)

_INTS = {"seed", "batch_size", "probe"}
_FLOATS = {"noise", "train_share", "learning_rate", "lambda", "momentum"}
_LISTS = {"hidden", "features"}
_NULLABLE = {"output_activation", "cost", "csv"}


class PresetError(ValueError):
    pass


def _value(key: str, raw: str) -> Any:
    if key in _INTS:
        return int(raw)
    if key in _FLOATS:
        return float(raw)
    if key in _LISTS:
        parts = [p.strip() for p in raw.split(",") if p.strip()]
        return [int(p) for p in parts] if key == "hidden" else parts
    if key in _NULLABLE and raw in ("", "null", "none"):
        return None
    return raw


def parse_preset(text: str, settings: Settings) -> RunConfig:
    """The default experiment with the preset's values; raises PresetError if invalid."""
    text = text.strip().lstrip("#")
    if not text:
        return RunConfig()
    fields = {f.alias or name for name, f in RunConfig.model_fields.items()}
    values: dict[str, Any] = {}
    ignored = []
    for key, raw in urllib.parse.parse_qsl(text, keep_blank_values=True):
        if key not in fields:
            ignored.append(key)
            continue
        try:
            values[key] = _value(key, raw)
        except ValueError:
            raise PresetError(f"BPV_PRESET: {key}={raw!r} is not a valid value") from None
    if ignored:
        log.info("BPV_PRESET: keys for the page only, ignored by the server: %s", ignored)
    try:
        config = RunConfig.model_validate(values)
        check_caps(config, settings)
        build(config, settings)  # the same checks as POST /api/runs
    except ValidationError as e:
        first = e.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise PresetError(f"BPV_PRESET: {loc}: {first['msg']}") from None
    except ConfigError as e:
        loc = ".".join(str(p) for p in e.loc)
        raise PresetError(f"BPV_PRESET: {loc}: {e.msg}") from None
    return config
