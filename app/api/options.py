"""``GET /api/options``: every choice and limit a client needs to build its form."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from app.api.deps import DefaultConfigDep, SettingsDep
from app.api.models import Options
from app.api.presets import DATASET_LINKS, MAX_LINK, grammar_json, parse_link
from app.api.responses import OrjsonResponse
from app.core import activations, costs, feedback, regularisers
from app.core.datasets import DATASETS, FEATURE_LABELS, FEATURES, KINDS, default_output, output_size
from app.core.init import INITS
from app.runs.pacer import MAX_STEPS_PER_FRAME
from app.settings import Settings

router = APIRouter(tags=["options"])


def kinds() -> dict[str, Any]:
    """Per kind of problem, the output activations the core accepts and the auto pair."""

    def allowed(kind: str, act: str) -> bool:
        try:
            output_size(kind, 3, act)
        except ValueError:
            return False
        return True

    return {
        k: {
            "outputs": [a for a in activations.OUTPUT if allowed(k, a)],
            "default": list(default_output(k)),
        }
        for k in KINDS
    }


def about() -> dict[str, Any]:
    """What the page says about each choice, from the registries (app/core): labels, and
    the properties its equations and plots need (the formulas as the registries' tokens)."""
    return {
        "activations": {
            name: {
                "label": act.label,
                "symbol": act.symbol,
                "elementwise": act.elementwise,
                "bounds": list(act.bounds) if act.bounds else None,
                "cut": act.cut,
                "saturates": act.saturates,
                "dies": act.dies,
                "kink": act.kink,
                "prime_from_a": list(act.prime_from_a) if act.prime_from_a else None,
            }
            for name, act in activations.ACTIVATIONS.items()
        },
        "costs": {
            name: {
                "label": cost.label,
                "cancels_on": cost.cancels_on,
                "grad_a": list(cost.grad_formula),
            }
            for name, cost in costs.COSTS.items()
        },
        "regularisers": {
            name: {
                "label": reg.label,
                "grad_w": list(reg.grad_formula) if reg.grad_formula else None,
            }
            for name, reg in regularisers.REGULARISERS.items()
        },
        "feedback": {
            name: {"label": r.label, "about": r.about, "exact": r.exact}
            for name, r in feedback.RULES.items()
        },
    }


def limits(s: Settings) -> dict[str, Any]:
    return {
        "max_layers": s.max_layers,
        "max_width": s.max_width,
        "max_digits_width": s.max_digits_width,
        "max_inputs": s.max_inputs,
        "max_outputs": s.max_outputs,
        "max_params": s.max_params,
        "max_batch": s.max_batch,
        "max_rows": s.max_rows,
        "max_body_bytes": s.max_body_bytes,
        "max_runs": s.max_runs,
        "max_runs_per_client": s.max_runs_per_client,
        "run_memory_mb": s.run_memory_mb,
        "client_memory_mb": s.client_memory_mb,
        "memory_mb": s.memory_mb,
        "max_response_values": s.max_response_values,
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
    """Activations (hidden / output), costs with the outputs they pair with, what to call
    and know about each of these (``about``), per kind of problem the outputs it allows and
    its automatic (output, cost), inits, regularisers, BP2's feedback rules, datasets, input
    features, every limit, and the default experiment."""
    return OrjsonResponse(
        {
            "activations": {
                "hidden": list(activations.HIDDEN),
                "output": list(activations.OUTPUT),
            },
            "costs": {name: list(cost.outputs) for name, cost in costs.COSTS.items()},
            "about": about(),
            "kinds": kinds(),
            "inits": list(INITS),
            "regularisers": list(regularisers.REGULARISERS),
            "feedback": list(feedback.RULES),
            "datasets": [
                {
                    "name": d.name,
                    "kind": d.kind,
                    "n_points": d.n_points,
                    "n_classes": d.n_classes,
                    "description": d.description,
                    "n_inputs": d.n_inputs,
                    "image": list(d.image) if d.image else None,
                    "link": DATASET_LINKS.get(d.name),
                }
                for d in DATASETS.values()
            ],
            "features": [{"name": f, "label": FEATURE_LABELS[f]} for f in FEATURES],
            "limits": limits(settings),
            "default_config": default_config.model_dump(by_alias=True),
        }
    )


@router.get("/api/preset", response_class=OrjsonResponse)
async def preset(
    settings: SettingsDep,
    default_config: DefaultConfigDep,
    hash: str = Query(default="", max_length=MAX_LINK, description="the page's URL hash"),
) -> OrjsonResponse:
    """The link grammar's one parser (app/api/presets.py), for the page: what the teacher's
    preset and this ``hash`` set (``config``, ``view``) and what they could not (``ignored``,
    each with its reason), plus the grammar the page writes its links with."""
    return OrjsonResponse(
        {
            "preset": parse_link(settings.preset, settings).as_json(),
            "hash": parse_link(hash, settings, default_config).as_json(),
            "grammar": grammar_json(),
        }
    )
