from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from tests.store import redis_switch

if redis_switch.ENABLED:  # BPV_TEST_REDIS=1: every app built here keeps its runs in Redis
    import app.main as _main

    _create_app = _main.create_app

    def create_app(settings: Settings) -> Any:  # type: ignore[no-redef]
        return _create_app(redis_switch.with_redis(settings))

    _main.create_app = create_app  # the test modules import it after this conftest


def pytest_runtest_setup(item: pytest.Item) -> None:
    redis_switch.skip_single_process(item)


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
