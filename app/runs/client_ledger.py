"""One client's runs counted across every worker that shares a Redis: the ledger behind
``max_runs_per_client`` and ``client_memory_mb`` when ``BPV_REDIS_URL`` is set.

``bpv:client:<client>`` is a hash, run id → ``"<worker> <bytes> <expires> <evicts>"``:
the worker that holds the run live, the run's memory estimate, when the entry lapses
(Redis's clock, ms) unless that worker renews it, and when the run would be evicted if it
stays idle (Unix ms; 0: it cannot be, a stream or a request holds it). A run counts while
it is live in some worker, as in one process, where an evicted or deleted run is gone:

- :meth:`Ledger.admit` is one Lua script: it drops lapsed entries, counts the client's
  other runs and their bytes, and writes the run's entry only if both stay within the caps,
  so two creates racing on two workers cannot both pass. A run moving to another worker
  (or coming back from its checkpoint) is admitted there under its own id: its old entry
  is taken over, never counted twice.
- :meth:`Ledger.renew` runs in the worker's lease-renewal loop (every
  :data:`~app.runs.lease.RENEW_S`): each entry lives :data:`ENTRY_S` past its last renewal,
  so the runs of a worker killed with ``kill -9`` stop counting within a lease's time.
- :meth:`Ledger.release` gives an entry back when its run leaves the worker (deleted,
  evicted, moved, its build failed, shutdown), only while that worker still owns it.

The whole hash expires :data:`ENTRY_S` after its last write: a client gone leaves nothing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from redis.asyncio import Redis

from app.runs import lease

KEY = "bpv:client:"
ENTRY_S = lease.LEASE_S  # an entry nobody renews stops counting after this
NO_LIMIT = 2**53  # a count no cap reaches (a config change does not add a run)

# The entries' fields: worker, bytes, expires (Redis ms), evicts (Unix ms, 0: not idle).
# ``_scan`` drops lapsed entries and sums the others but ARGV[1]'s (the run being admitted).
_SCAN = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local flat = redis.call('HGETALL', KEYS[1])
local runs, used, soonest = 0, 0, 0
for i = 1, #flat, 2 do
  local w, b, exp, ev = string.match(flat[i + 1], '^(%S+) (%d+) (%d+) (%d+)$')
  if exp == nil or tonumber(exp) < now then
    redis.call('HDEL', KEYS[1], flat[i])
  elseif flat[i] ~= ARGV[1] then
    runs = runs + 1
    used = used + tonumber(b)
    ev = tonumber(ev)
    if ev > 0 and (soonest == 0 or ev < soonest) then soonest = ev end
  end
end
"""
# KEYS[1] the client's hash; ARGV: run id, worker, bytes, ttl ms, evicts, max runs, max
# bytes. Returns {0 admitted | 1 too many runs | 2 too many bytes, the other runs, their
# bytes, the soonest eviction (Unix ms, 0: none idle)}.
_ADMIT = (
    _SCAN
    + """
if runs >= tonumber(ARGV[6]) then return {1, runs, used, soonest} end
if used + tonumber(ARGV[3]) > tonumber(ARGV[7]) then return {2, runs, used, soonest} end
local ttl = tonumber(ARGV[4])
local entry = ARGV[2] .. ' ' .. ARGV[3] .. ' ' .. string.format('%d', now + ttl) .. ' ' .. ARGV[5]
redis.call('HSET', KEYS[1], ARGV[1], entry)
redis.call('PEXPIRE', KEYS[1], ttl)
return {0, runs, used, soonest}
"""
)
# KEYS[1] the client's hash; ARGV: worker, ttl ms, then (run id, bytes, evicts) triples.
# An entry another worker took over is left to it; a missing one is written again (Redis
# restarted, or it was unreachable when the run was admitted).
_RENEW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
local expires = string.format('%d', now + ttl)
for i = 3, #ARGV, 3 do
  local old = redis.call('HGET', KEYS[1], ARGV[i])
  if not old or string.match(old, '^(%S+)') == ARGV[1] then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[1] .. ' ' .. ARGV[i + 1] .. ' ' .. expires
      .. ' ' .. ARGV[i + 2])
  end
end
redis.call('PEXPIRE', KEYS[1], ttl)
return 1
"""
# KEYS[1] the client's hash; ARGV: run id, worker. Removed only while that worker owns it.
_RELEASE = """
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old and string.match(old, '^(%S+)') == ARGV[2] then
  return redis.call('HDEL', KEYS[1], ARGV[1])
end
return 0
"""


def client_key(client: str) -> str:
    return KEY + client


@dataclass(frozen=True)
class Refusal:
    """Why the ledger refused a run: ``reason`` is the 429's (client_runs or
    client_memory); ``runs`` and ``used`` (bytes) are the client's other live runs, on
    every worker; ``wait_s`` is the seconds until the soonest of them is evicted if it
    stays idle (None: none is idle now)."""

    reason: str
    runs: int
    used: int
    wait_s: float | None


@dataclass(frozen=True)
class Entry:
    """One run's entry as its worker renews it: ``evicts`` is the Unix time (s) the run
    would be evicted if it stays idle, 0 if a stream or a request holds it."""

    run_id: str
    bytes: int
    evicts: float


class Ledger:
    """The per-client ledger as one worker (``worker``, its lease id) writes it."""

    def __init__(self, redis: Redis, worker: str) -> None:
        self.redis = redis
        self.worker = worker
        self._admit = redis.register_script(_ADMIT)
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)

    async def admit(
        self,
        client: str,
        run_id: str,
        size: int,
        max_runs: int,
        max_bytes: float,
        evicts: float,
        now: float,
    ) -> Refusal | None:
        """Count ``run_id`` (``size`` bytes) against ``client`` if its other runs are fewer
        than ``max_runs`` and their bytes with ``size`` at most ``max_bytes``; otherwise the
        refusal. ``evicts``, ``now``: Unix times (s)."""
        code, runs, used, soonest = await self._admit(
            keys=[client_key(client)],
            args=[
                run_id,
                self.worker,
                int(size),
                int(ENTRY_S * 1000),
                _ms(evicts),
                max_runs,
                math.floor(max_bytes),
            ],
        )
        if code == 0:
            return None
        wait = (int(soonest) / 1000 - now) if soonest else None
        reason = "client_runs" if code == 1 else "client_memory"
        return Refusal(reason, int(runs), int(used), wait)

    async def renew(self, entries: Mapping[str, Iterable[Entry]]) -> None:
        """Renew this worker's entries (client → its runs here), in one round trip."""
        if not entries:
            return
        pipe = self.redis.pipeline(transaction=False)
        ttl = int(ENTRY_S * 1000)
        for client, runs in entries.items():
            args: list[str | int] = [self.worker, ttl]
            for e in runs:
                args += [e.run_id, int(e.bytes), _ms(e.evicts)]
            await self._renew(keys=[client_key(client)], args=args, client=pipe)
        await pipe.execute()

    async def release(self, client: str, run_id: str) -> None:
        """``run_id`` no longer counts against ``client`` (if this worker still owns it)."""
        await self._release(keys=[client_key(client)], args=[run_id, self.worker])


def _ms(unix_s: float) -> int:
    return max(0, math.ceil(unix_s * 1000)) if unix_s > 0 else 0
