"""The OpenAPI document, with the caps of this server's settings written into the schemas.

Pydantic models carry only hard bounds; the configurable caps (widths, depth, batch, steps)
are checked at run time and patched in here, so ``/docs`` and schema checkers see the
limits that really apply.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from app.settings import Settings

DESCRIPTION = """
Watch backpropagation: train small multilayer perceptrons and read every `z`, `a` and `δ`.

Notation (Nielsen, ch. 2): layers `l = 1..L`, layer 1 is the input; per-layer lists start at
the first non-input layer, so `layers[i]` is layer `l = i + 2` and `weights[i][j][k]` is
`w^{i+2}_jk`, the weight **from neuron k in layer l-1 to neuron j in layer l** (row j =
destination, column k = source). Never transposed. No response carries NaN or Infinity:
non-finite input is a 422, divergence is the run status `diverged`.
"""


def _patch(schemas: dict[str, Any], s: Settings) -> None:
    for name, schema in schemas.items():
        props = schema.get("properties", {})
        if name.startswith("RunConfig") or name == "SetMessage":
            hidden = props.get("hidden", {})
            hidden["maxItems"] = s.max_layers
            # the digits allow wider layers (max_digits_width), the 2-D sets max_width
            hidden.setdefault("items", {})["maximum"] = max(s.max_width, s.max_digits_width)
            props.get("batch_size", {})["maximum"] = s.max_batch
            props.get("csv", {}).pop("maxLength", None)
        if name == "BackpropRequest":
            props["sizes"]["maxItems"] = s.max_layers + 2
            props["sizes"]["items"]["maximum"] = max(s.max_inputs, s.max_width, s.max_outputs)
            props["x"]["maxItems"] = s.max_batch
            props["y"]["maxItems"] = s.max_batch
        if name == "StepRequest":
            for key in ("steps", "epochs"):
                for option in props[key].get("anyOf", []):
                    if option.get("type") == "integer":
                        option["maximum"] = s.max_steps_per_request


def install(app: FastAPI, settings: Settings) -> None:
    def custom_openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            _patch(doc.get("components", {}).get("schemas", {}), settings)
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = custom_openapi  # type: ignore[method-assign]
