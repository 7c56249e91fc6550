"""``GET /api/stats``: how loaded the server is, for a teacher's glance and for the soak bench."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict

from app.api.deps import SettingsDep, StoreDep
from app.runs.pacer import Pacer

router = APIRouter(tags=["health"])


class Stats(BaseModel):
    model_config = ConfigDict(extra="forbid")

    runs: int
    max_runs: int
    playing: int
    fps: float


@router.get("/api/stats", response_model=Stats)
async def stats(request: Request, store: StoreDep, settings: SettingsDep) -> Stats:
    """Live runs, the cap, streams playing now, and the frame rate each of them gets."""
    pacer: Pacer = request.app.state.pacer
    return Stats(
        runs=len(store), max_runs=settings.max_runs, playing=pacer.playing, fps=pacer.fps()
    )
