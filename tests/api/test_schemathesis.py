"""schemathesis 4 over the app's own OpenAPI document: no 5xx, no schema violation.

Every check runs. ``positive_data_acceptance`` also accepts 422: a schema cannot say that a
cost must pair with its output activation, that weight matrices must match ``sizes``, or
that a probe index must be below the run's training-set size, so schema-valid data can
still be refused, by design, with a 422 naming the field.
"""

from __future__ import annotations

import schemathesis
from schemathesis.config import SchemathesisConfig

from app.main import create_app
from app.settings import Settings

CONFIG = SchemathesisConfig.from_dict(
    {
        "seed": 20240607,
        "generation": {"max-examples": 25},
        "checks": {
            "positive_data_acceptance": {"expected-statuses": ["2xx", "404", "409", "422", "429"]},
        },
    }
)

app = create_app(Settings(max_runs=50, idle_timeout_s=600))
schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=CONFIG)


@schema.parametrize()
def test_api(case: schemathesis.Case) -> None:
    # As every client must (app/api/edge.py: 415 without it), even with no body.
    case.call_and_validate(headers={"Content-Type": "application/json"})
