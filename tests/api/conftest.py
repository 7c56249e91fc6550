from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings

# A linear network on the unscaled plane set at η = 10: blows up within a few steps.
DIVERGING: dict[str, Any] = {
    "dataset": "plane",
    "hidden": [8, 8],
    "hidden_activation": "linear",
    "learning_rate": 10.0,
    "init": "standard_normal",
}


def client_for(**changes: Any) -> TestClient:
    """A TestClient (use it as a context manager) of an app with these settings changed.

    It sends ``Content-Type: application/json`` as a script would (state-changing requests
    need it: app/api/edge.py).
    """
    return TestClient(
        create_app(replace(Settings(), **changes)), headers={"content-type": "application/json"}
    )


@pytest.fixture
def client() -> Iterator[TestClient]:
    with client_for() as c:
        yield c


@pytest.fixture
def run_id(client: TestClient) -> str:
    r = client.post("/api/runs", json={})
    assert r.status_code == 201
    rid: str = r.json()["id"]
    return rid
