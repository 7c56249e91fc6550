"""Dependencies shared by the routers, as ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request
from starlette.requests import HTTPConnection

from app.api.models import RunConfig
from app.runs.run import Run
from app.runs.store import RunStore
from app.runs.work import Workers
from app.settings import Settings

RUN_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"


async def get_store(conn: HTTPConnection) -> RunStore:
    store: RunStore = conn.app.state.store
    return store


async def get_settings(conn: HTTPConnection) -> Settings:
    settings: Settings = conn.app.state.settings
    return settings


async def get_workers(conn: HTTPConnection) -> Workers:
    workers: Workers = conn.app.state.workers
    return workers


def client_address(conn: HTTPConnection) -> str:
    """The client a run belongs to: the peer address (a classroom behind one NAT address is
    one client: raise ``max_runs_per_client`` for it)."""
    return conn.client.host if conn.client is not None else ""


async def get_default_config(request: Request) -> RunConfig:
    config: RunConfig = request.app.state.default_config
    return config


async def get_run(
    request: Request,
    run_id: Annotated[str, Path(pattern=RUN_ID_PATTERN, description="a run's id")],
) -> Run:
    store: RunStore = request.app.state.store
    return store.get(run_id)  # a read does not keep the run alive: changes call run.touch()


StoreDep = Annotated[RunStore, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
DefaultConfigDep = Annotated[RunConfig, Depends(get_default_config)]
RunDep = Annotated[Run, Depends(get_run)]
WorkersDep = Annotated[Workers, Depends(get_workers)]
