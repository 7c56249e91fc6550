"""The Redis-backed store (app/runs/redis_store.py) in this process, against a real
redis-server: what it asks of Redis when many runs leave a worker at once."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis

from app.api.placement import CODEC
from app.runs.client_ledger import KEY
from app.runs.experiment import Experiment
from app.runs.redis_store import RedisRunStore
from app.runs.state import RunState, build
from app.settings import Settings

RUNS = 60


def test_runs_leaving_at_once_are_each_released_from_the_ledger_once(redis_url: str) -> None:
    """A class's streams arriving at the other worker move their runs there at once: each
    run's ledger entry is given back exactly once. (Every give-up used to walk the whole
    list of entries to give back, one await each, so sixty moving runs released each entry
    up to sixty times: 1,800 Redis scripts where 60 do, on the loop the class's frames
    need.)"""
    settings = Settings(max_runs_per_client=RUNS, client_memory_mb=100_000, memory_mb=100_000)

    async def scenario() -> tuple[int, dict[bytes, bytes]]:
        redis = Redis.from_url(redis_url)
        store = RedisRunStore(settings, redis, CODEC)
        try:

            async def build_here(config: Experiment) -> RunState:
                return build(config, settings)

            runs = [
                await store.create_async(Experiment(), "student", build_here) for _ in range(RUNS)
            ]
            for run in runs:
                assert await store.leases.acquire(run.id)
            released = 0
            release = store.ledger.release

            async def counted(client: str, run_id: str) -> None:
                nonlocal released
                released += 1
                await release(client, run_id)

            store.ledger.release = counted  # type: ignore[method-assign]
            await asyncio.gather(*(store.give_up(run.id) for run in runs))
            return released, await redis.hgetall(KEY + "student")
        finally:
            await store.aclose()

    released, left = asyncio.run(scenario())
    assert released == RUNS
    assert left == {}, f"{len(left)} entries still count against the student"
