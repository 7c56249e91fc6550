"""``GET /api/stats``: how loaded the server is, for a teacher's glance and for the soak bench."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from app.api.deps import SettingsDep, StoreDep
from app.runs.pacer import Pacer

router = APIRouter(tags=["health"])


class Stats(BaseModel):
    model_config = ConfigDict(extra="forbid")

    runs: int
    max_runs: int
    playing: int
    fps: float = Field(
        description="the median frame rate of the playing streams now (each has its own)"
    )
    training_ms: float = Field(
        description="median training time per frame a stream may use now (at least one step)"
    )
    overhead_ms: float = Field(
        description="measured server time per frame outside the runs' own code"
    )
    cpu_share: float = Field(
        description="the share of one core the streams are planned to use now: BPV_CPU_SHARE,"
        " less while their ticks run late (the core is busy with something else)"
    )


@router.get("/api/stats", response_model=Stats)
async def stats(request: Request, store: StoreDep, settings: SettingsDep) -> Stats:
    """Live runs, the cap, streams playing now, and what each of them gets."""
    pacer: Pacer = request.app.state.pacer
    return Stats(
        runs=len(store),
        max_runs=settings.max_runs,
        playing=pacer.playing,
        fps=pacer.fps(),
        training_ms=round(pacer.budget() * 1e3, 3),
        overhead_ms=round(pacer.overhead * 1e3, 3),
        cpu_share=round(pacer.cpu_share * pacer.scale, 3),
    )
