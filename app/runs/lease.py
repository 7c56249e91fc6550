"""Who trains a run when several workers share one Redis: a lease per run.

A worker (one ``backprop-viz`` process, or one of ``--workers N``) holds ``bpv:lease:<run
id>`` = ``"<worker id> <token>"`` while the run is live in it: taken with ``SET NX PX``,
renewed every :data:`RENEW_S` while the worker lives, given back (compare-and-delete) when
the run leaves the worker (evicted, moved, deleted, shutdown). A worker that dies stops
renewing: its leases expire after :data:`LEASE_S`, or sooner, when another worker finds
it gone and seizes them (compare-and-set on the dead holder's value).

Fencing: every checkpoint write is a script that writes only while the lease still holds
this worker's value (:meth:`Leases.write`), so a worker that lost its lease (paused past
expiry, its run seized) can never overwrite the new owner's checkpoints, and no two
workers ever train the same run from the same checkpoint on.

Workers register ``bpv:worker:<id>`` = the loopback address of their private listener
(requests for a run are forwarded to its owner there; ``app/api/forward.py``) and listen
on ``bpv:release:<id>`` for requests to give a run up (a stream opened elsewhere takes
its run along).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

LEASE_S = 3.0  # a dead worker's runs are free after this at most
RENEW_S = 1.0
# A worker's registration lives longer than a lease: a worker whose event loop lags (a class
# past what its cores hold) is still there, and a dead one is found at once anyway (its
# private port refuses the forwarded request; its release channel has no listener).
WORKER_S = 10.0
WORKER_KEY = "bpv:worker:"
LEASE_KEY = "bpv:lease:"
# + run id → the value of the lease last taken (acquired or seized), kept TAKEN_S: a lease
# that expired while nobody took it since is its holder's to take back.
TAKEN_KEY = "bpv:taken:"
TAKEN_S = 86_400.0
RELEASE_CHANNEL = "bpv:release:"

# Whether lease `k` is ours (value `v`), its time to live then set to `ttl`: it holds
# `v`, or it expired and `v` is still the value last taken (`taken`: no worker has taken the
# run since, so a worker whose event loop lagged behind a class too large for its cores
# keeps its runs). If another worker holds it or took it meanwhile (and may have changed or
# deleted the run), it is not.
_OURS = """
local function ours(k, taken, v, ttl)
  local held = redis.call('GET', k)
  if held == v then
    redis.call('PEXPIRE', k, ttl)
    return true
  end
  if not held and redis.call('GET', taken) == v then
    redis.call('SET', k, v, 'PX', ttl)
    return true
  end
  return false
end
"""
# Every lease this worker holds, in one round trip: KEYS the leases and their "taken" keys
# in pairs, ARGV[1] the time to live, ARGV[1 + i] the value of the i-th lease. Returns the
# 1-based indices of the lost (not ours).
_RENEW = (
    _OURS
    + """
local lost = {}
for i = 1, #ARGV - 1 do
  if not ours(KEYS[2 * i - 1], KEYS[2 * i], ARGV[i + 1], ARGV[1]) then
    lost[#lost + 1] = i
  end
end
return lost
"""
)
# KEYS[1] the lease, KEYS[2] its "taken" key; ARGV[1] our value, ARGV[2] the lease's time to
# live, ARGV[3] the taken key's.
_ACQUIRE = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[3])
  return 1
end
return 0
"""
# KEYS[1] the lease, ARGV[1] the value it must hold; then the action.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""
_SEIZE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[4])
  return 1
end
return 0
"""
# KEYS[1] the lease, KEYS[2] its "taken" key, KEYS[3..] the checkpoint's keys; ARGV[1] our
# value, ARGV[2] the checkpoint's time to live, ARGV[3] the lease's, ARGV[4..] the values:
# written only while the lease is ours (fencing; see _OURS).
_WRITE = (
    _OURS
    + """
if not ours(KEYS[1], KEYS[2], ARGV[1], ARGV[3]) then return 0 end
for i = 3, #KEYS do
  redis.call('SET', KEYS[i], ARGV[i + 1], 'PX', ARGV[2])
end
return 1
"""
)
_DELETE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  for i = 2, #KEYS do
    redis.call('DEL', KEYS[i])
  end
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
"""


@dataclass(frozen=True)
class Holder:
    """A lease's holder: the worker's id and the lease's token (its fencing value)."""

    worker: str
    value: str


class Leases:
    """This worker's leases, its registration, and the scripts that fence its writes."""

    def __init__(self, redis: Redis, worker: str | None = None) -> None:
        self.redis = redis
        self.worker = worker or secrets.token_hex(6)
        self.held: dict[str, str] = {}  # run id → our lease value
        self.address = ""  # host:port of the private listener
        self._renew = redis.register_script(_RENEW)
        self._acquire = redis.register_script(_ACQUIRE)
        self._release = redis.register_script(_RELEASE)
        self._seize = redis.register_script(_SEIZE)
        self._write = redis.register_script(_WRITE)
        self._delete = redis.register_script(_DELETE)

    def _value(self) -> str:
        return f"{self.worker} {secrets.token_hex(8)}"

    # -- the lease of one run -----------------------------------------------------------
    async def acquire(self, run_id: str) -> bool:
        """Take the run's lease if nobody holds it (or we do)."""
        if run_id in self.held:
            return True
        value = self._value()
        ok = await self._acquire(
            keys=[LEASE_KEY + run_id, TAKEN_KEY + run_id],
            args=[value, int(LEASE_S * 1000), int(TAKEN_S * 1000)],
        )
        if ok:
            self.held[run_id] = value
        return bool(ok)

    async def holder(self, run_id: str) -> Holder | None:
        raw = await self.redis.get(LEASE_KEY + run_id)
        if raw is None:
            return None
        value = raw.decode() if isinstance(raw, bytes) else str(raw)
        return Holder(value.split(" ", 1)[0], value)

    async def seize(self, run_id: str, dead: Holder) -> bool:
        """Take the lease from a holder found dead (only if it still holds it)."""
        value = self._value()
        ok = await self._seize(
            keys=[LEASE_KEY + run_id, TAKEN_KEY + run_id],
            args=[dead.value, value, int(LEASE_S * 1000), int(TAKEN_S * 1000)],
        )
        if ok:
            self.held[run_id] = value
        return bool(ok)

    async def release(self, run_id: str) -> None:
        value = self.held.pop(run_id, None)
        if value is not None:
            with contextlib.suppress(RedisError, OSError):
                await self._release(keys=[LEASE_KEY + run_id], args=[value])

    def forget(self, run_id: str) -> None:
        """The lease was lost (another worker holds it now): stop renewing it."""
        self.held.pop(run_id, None)

    # -- fenced writes --------------------------------------------------------------------
    async def write(self, run_id: str, values: dict[str, bytes], ttl_ms: int) -> bool:
        """Write a checkpoint's keys (key → value) only while the lease is ours; False (and
        the lease forgotten) if it is not."""
        value = self.held.get(run_id)
        if value is None:
            if not await self.acquire(run_id):
                return False
            value = self.held[run_id]
        keys = [LEASE_KEY + run_id, TAKEN_KEY + run_id, *values]
        px = int(LEASE_S * 1000)
        ok = await self._write(keys=keys, args=[value, ttl_ms, px, *values.values()])
        if not ok:
            self.forget(run_id)
        return bool(ok)

    async def delete(self, run_id: str, keys: list[str]) -> bool:
        """Remove a deleted run's checkpoint keys and its lease, only while the lease is
        ours."""
        value = self.held.pop(run_id, None)
        if value is None:
            return False
        keys = [LEASE_KEY + run_id, TAKEN_KEY + run_id, *keys]
        return bool(await self._delete(keys=keys, args=[value]))

    # -- the worker ---------------------------------------------------------------------
    async def register(self, address: str) -> None:
        self.address = address
        await self.redis.set(WORKER_KEY + self.worker, address, px=int(WORKER_S * 1000))

    async def address_of(self, worker: str) -> str | None:
        raw = await self.redis.get(WORKER_KEY + worker)
        if raw is None:
            return None
        return raw.decode() if isinstance(raw, bytes) else str(raw)

    async def renew_all(self) -> list[str]:
        """Renew the registration and every lease held, in one round trip (one await per
        lease made the last renewals of 80 streaming runs come after their leases expired,
        the event loop being busy between two awaits, and every run "moved" away from the
        only worker there was); the run ids whose lease another worker holds or took since
        (an expired lease nobody took since is taken back)."""
        px = int(LEASE_S * 1000)
        if self.address:
            await self.redis.set(WORKER_KEY + self.worker, self.address, px=int(WORKER_S * 1000))
        held = list(self.held.items())
        if not held:
            return []
        out = await self._renew(
            keys=[k for run_id, _ in held for k in (LEASE_KEY + run_id, TAKEN_KEY + run_id)],
            args=[px, *(value for _, value in held)],
        )
        lost = []
        for i in out:
            run_id, value = held[int(i) - 1]
            if self.held.get(run_id) == value:
                self.held.pop(run_id)
            lost.append(run_id)
        return lost

    async def ask_release(self, worker: str, run_id: str) -> bool:
        """Ask ``worker`` to give the run up; False if no such worker listens (it is gone)."""
        return bool(await self.redis.publish(RELEASE_CHANNEL + worker, run_id))

    async def wait_free(self, run_id: str, timeout: float) -> bool:
        """Take the lease as soon as it is free, within ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if await self.acquire(run_id):
                return True
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(0.02)

    async def unregister(self) -> None:
        with contextlib.suppress(RedisError, OSError):
            await self.redis.delete(WORKER_KEY + self.worker)
