"""``GET /api/options``: every choice and limit a client needs to build its form."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from app.api.deps import DefaultConfigDep, SettingsDep
from app.api.models import Options
from app.api.responses import OrjsonResponse
from app.core.costs import COSTS
from app.core.datasets import DATASETS, FEATURE_LABELS, FEATURES
from app.core.init import INITS
from app.core.regularisers import REGULARISERS
from app.runs.pacer import MAX_STEPS_PER_FRAME
from app.settings import Settings

router = APIRouter(tags=["options"])

HIDDEN_ACTIVATIONS = ["tanh", "sigmoid", "relu", "leaky_relu", "linear"]
OUTPUT_ACTIVATIONS = ["tanh", "sigmoid", "linear", "relu", "leaky_relu", "softmax"]


def limits(s: Settings) -> dict[str, Any]:
    return {
        "max_layers": s.max_layers,
        "max_width": s.max_width,
        "max_inputs": s.max_inputs,
        "max_outputs": s.max_outputs,
        "max_params": s.max_params,
        "max_batch": s.max_batch,
        "max_rows": s.max_rows,
        "max_body_bytes": s.max_body_bytes,
        "max_runs": s.max_runs,
        "max_fps": s.max_fps,
        "max_steps_per_request": s.max_steps_per_request,
        "max_ws_message_bytes": s.max_ws_message_bytes,
        "idle_timeout_s": s.idle_timeout_s,
        "learning_rate": [1e-5, 10.0],
        "lambda": [0.0, 10.0],
        "noise": [0.0, 0.5],
        "train_share": [0.1, 0.9],
        "momentum": [0.0, 0.99],
        "steps_per_frame": [1, MAX_STEPS_PER_FRAME],
    }


@router.get("/api/options", response_model=Options, response_class=OrjsonResponse)
async def options(settings: SettingsDep, default_config: DefaultConfigDep) -> OrjsonResponse:
    """Activations (hidden / output), costs with the outputs they pair with, inits,
    regularisers, datasets, input features, every limit, and the default experiment."""
    return OrjsonResponse(
        {
            "activations": {"hidden": HIDDEN_ACTIVATIONS, "output": OUTPUT_ACTIVATIONS},
            "costs": {name: list(cost.outputs) for name, cost in COSTS.items()},
            "inits": list(INITS),
            "regularisers": list(REGULARISERS),
            "datasets": [
                {
                    "name": d.name,
                    "kind": d.kind,
                    "n_points": d.n_points,
                    "n_classes": d.n_classes,
                    "description": d.description,
                }
                for d in DATASETS.values()
            ],
            "features": [{"name": f, "label": FEATURE_LABELS[f]} for f in FEATURES],
            "limits": limits(settings),
            "default_config": default_config.model_dump(by_alias=True),
        }
    )
