"""The one place where the wire's config meets the domain's.

:class:`app.api.models.RunConfig` (and the stream's ``set`` message) spell an experiment as
the wire does (``lambda``); :class:`app.runs.experiment.Experiment` as the notation does
(``lmbda``). Requests are mapped onto the domain here, and a run's config back onto the
wire, field for field in :class:`RunConfig`'s order, exactly as ``RunConfig.model_dump(
by_alias=True)`` would write it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from app.api.models import RunConfig
from app.runs.config import ignored
from app.runs.experiment import Experiment
from app.runs.run import Run

# RunConfig's attribute → Experiment's field, where the two differ.
_DOMAIN_NAME = {"lambda_": "lmbda"}
_WIRE = tuple(
    (name, field.alias or name, _DOMAIN_NAME.get(name, name))
    for name, field in RunConfig.model_fields.items()
)


def changes_of(model: BaseModel) -> dict[str, Any]:
    """The config fields a request set (a PATCH body, a ``set`` message, a create body),
    under the experiment's names: what :meth:`Experiment.changed` takes."""
    fields_set = model.model_fields_set
    return {domain: getattr(model, name) for name, _, domain in _WIRE if name in fields_set}


def experiment_of(config: RunConfig) -> Experiment:
    """A whole wire config (the server's default, a teacher's preset) as an experiment."""
    return Experiment(**{domain: getattr(config, name) for name, _, domain in _WIRE})


def wire_config(experiment: Experiment) -> dict[str, Any]:
    """An experiment as the wire spells it (GET /api/runs/{id}'s ``config``)."""
    out: dict[str, Any] = {}
    for _, wire, domain in _WIRE:
        value = getattr(experiment, domain)
        out[wire] = list(value) if isinstance(value, tuple) else value
    return out


def run_info(run: Run) -> dict[str, Any]:
    """A run's :class:`app.api.models.RunInfo`: its config, status, step and shape."""
    st = run.state
    return {
        "id": run.id,
        "config": wire_config(run.config),
        "status": run.status,
        "step": st.trainer.step,
        "epoch": st.trainer.epoch,
        "kind": st.kind,
        "sizes": list(st.net.sizes),
        "n_train": st.n_train,
        "n_test": len(st.x) - st.n_train,
        "steps_per_frame": run.steps_per_frame,
        "ignored": [
            {"field": name, "reason": why}
            for name, why in ignored(run.config, st.dataset.points.shape[1])
        ],
    }
