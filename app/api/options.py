"""``GET /api/options``: every choice and limit a client needs to build its form."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from fastapi import APIRouter, Query
from numpy.typing import NDArray

from app.api.deps import DefaultConfigDep, SettingsDep
from app.api.models import Options
from app.api.presets import MAX_LINK, grammar_json, parse_link
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


# Formulas the page can write out, as tokens (the page's equations read them, as they read an
# activation's prime_from_a), each beside the NumPy it means. A registry entry is described
# by the first formula its own function agrees with on the sample points, so what the page
# writes is checked against the function the engine runs; one that matches none gets None
# and the page shows its values without a formula.
Formula = tuple[tuple[str, ...], Callable[..., NDArray[np.float64]]]
GRAD_A: tuple[Formula, ...] = (  # ∇_a C_x from (a^L, y)
    (("a", "−", "y"), lambda a, y: a - y),
    (("−", "y", "/", "a"), lambda a, y: -y / a),
    (
        ("(", "a", "−", "y", ")", "/", "(", "a", "·", "(", "1", "−", "a", ")", ")"),
        lambda a, y: (a - y) / (a * (1.0 - a)),
    ),
)
GRAD_W: tuple[Formula, ...] = (  # a regulariser's r'(w)
    (("w",), lambda w: w),
    (("sgn", "(", "w", ")"), np.sign),
)
SAMPLE_A = np.array([[0.12, 0.5, 0.93], [0.7, 0.31, 0.055]])
SAMPLE_Y = np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 0.25]])
SAMPLE_W = np.array([[-1.5, 0.0, 0.25], [2.0, -0.003, 7.0]])


def formula(
    fn: Callable[..., NDArray[np.float64]],
    candidates: tuple[Formula, ...],
    *args: NDArray[np.float64],
) -> list[str] | None:
    """The tokens of the first candidate that computes what ``fn`` does on ``args``."""
    want = fn(*args)
    for tokens, f in candidates:
        if np.allclose(f(*args), want, rtol=1e-12, atol=0.0):
            return list(tokens)
    return None


def about() -> dict[str, Any]:
    """What the page says about each choice, from the registries (app/core): labels, and
    the properties its equations and plots need."""
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
                "grad_a": formula(cost.grad, GRAD_A, SAMPLE_A, SAMPLE_Y),
            }
            for name, cost in costs.COSTS.items()
        },
        "regularisers": {
            name: {
                "label": reg.label,
                "grad_w": formula(reg.grad, GRAD_W, SAMPLE_W) if reg.active else None,
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
