"""Leases against a real redis-server (app/runs/lease.py): a worker whose event loop is busy
keeps every lease it holds, and a lease another worker took, or that expired, is lost.

The class this guards: 80 students streaming from one worker behind Redis. Its event loop
is busy between two awaits (every stream's frames), and renewing the leases one await each
came after they expired: every run "moved" away from the only worker there was, and every
student got 0 frames/s (bench/bench_workers.py).
"""

from __future__ import annotations

import asyncio
import time

from redis.asyncio import Redis

from app.runs import lease
from app.runs.lease import LEASE_KEY, Leases

RUNS = 100
BUSY_S = 0.04  # the loop's work between two of its turns: a class's frames


async def busy_loop(stop: asyncio.Event) -> None:
    """Hold the event loop ``BUSY_S`` at a time, as a class's frame sends do."""
    while not stop.is_set():
        time.sleep(BUSY_S)  # the point: the loop is busy
        await asyncio.sleep(0)


def test_a_busy_worker_keeps_every_lease_it_renews(redis_url: str) -> None:
    async def scenario() -> tuple[list[str], int, float]:
        redis = Redis.from_url(redis_url)
        leases = Leases(redis, "w1")
        try:
            for i in range(RUNS):
                assert await leases.acquire(f"run{i}")
            stop = asyncio.Event()
            busy = asyncio.create_task(busy_loop(stop))
            t0 = time.monotonic()
            lost = await leases.renew_all()
            took = time.monotonic() - t0
            stop.set()
            await busy
            ttl = min([await redis.pttl(LEASE_KEY + f"run{i}") for i in range(RUNS)])
            return lost, ttl, took
        finally:
            await redis.aclose()

    lost, ttl, took = asyncio.run(scenario())
    # One await per lease took RUNS × BUSY_S = 4 s here, past LEASE_S: the last leases
    # had expired before they were renewed.
    assert lost == [], f"{len(lost)} leases lost in a renewal that took {took:.2f} s"
    assert ttl > (lease.LEASE_S - 1.0) * 1000, ttl  # all renewed just now


def test_a_lease_taken_by_another_worker_is_lost_and_one_that_only_expired_is_not(
    redis_url: str,
) -> None:
    """Another worker seized it, or took it after it expired (and may have changed or
    deleted the run, then let go): lost, in the renewal and in a checkpoint write. Expired
    with nobody taking it since (its worker's loop lagged): ours again, in both."""

    async def scenario() -> tuple[list[str], dict[str, str], dict[str, bool], bytes | None]:
        redis = Redis.from_url(redis_url)
        mine, other = Leases(redis, "w1"), Leases(redis, "w2")
        try:
            for rid in ("kept", "seized", "expired", "taken-since", "w-expired", "w-taken"):
                assert await mine.acquire(rid)
            holder = await mine.holder("seized")
            assert holder is not None and await other.seize("seized", holder)
            for rid in ("expired", "taken-since", "w-expired", "w-taken"):
                await redis.delete(LEASE_KEY + rid)  # as if it expired
            for rid in ("taken-since", "w-taken"):
                assert await other.acquire(rid)
                await other.release(rid)
            writes = {
                rid: await mine.write(rid, {f"bpv:test:{rid}": b"x"}, 60_000)
                for rid in ("w-expired", "w-taken")
            }
            lost = await mine.renew_all()
            return sorted(lost), dict(mine.held), writes, await redis.get(LEASE_KEY + "expired")
        finally:
            await redis.aclose()

    lost, held, writes, expired = asyncio.run(scenario())
    assert lost == ["seized", "taken-since"]
    assert sorted(held) == ["expired", "kept", "w-expired"]
    assert writes == {"w-expired": True, "w-taken": False}
    assert expired == held["expired"].encode(), "the expired lease is ours again"
