"""The run store with Redis behind it (``BPV_REDIS_URL``): runs still train in this process
(:class:`~app.runs.store.RunStore`: its caps, idle eviction and memory budgets, all per
process), and each is checkpointed to Redis (:mod:`app.runs.checkpoints`), so a restart
loses no run, no setting, no edited weight, and at most :data:`CHECKPOINT_S` of training.

When a run is written:

- right after every change made through a REST request (the API awaits :meth:`flush`
  before it answers: the answer means the change is kept), a delete removes it;
- while it trains (a stream playing, a long ``/step``), at most every :data:`CHECKPOINT_S`
  (:meth:`checkpoint_forever` looks every :data:`TICK_S`);
- a change from a stream's message (a weight edit, a setting) within :data:`TICK_S`;
- at a graceful shutdown, every run that changed since its last write.

A checkpoint is made on the event loop (the run is consistent between two awaits; about
0.2 ms for the default network, ``bench/bench_workers.py``) and sent with redis-py's
asyncio client. A run that is not live here is read back on its first request
(:meth:`load`) and rebuilt in a thread of its own, checked in full as an imported document
is. Evicting an idle run frees this process's memory only: its checkpoint stays in Redis
for :data:`RUN_TTL_S` after its last write (then Redis drops it: abandoned runs do not pile
up), and the run comes back on its next request.

A client's caps (``max_runs_per_client``, ``client_memory_mb``) count its runs on every
worker (:mod:`app.runs.client_ledger`): a run counts while it is live in some worker, as in
one process. Creating, importing or restoring a run, and a config change that grows its
estimate, reserve its entry atomically before the run is built; a run that leaves this
worker (deleted, evicted, moved, its build failed, shutdown) gives its entry back. An
evicted run stops counting, as in one process, where it is gone; it counts again when it
comes back, if there is room (else its request is a 429, as a new run would be). The
``Retry-After`` of such a 429 is when the client's soonest idle run on any worker would be
evicted (as its worker last renewed it, at most :data:`~app.runs.lease.RENEW_S` old), or
the idle timeout if none is idle. If Redis does not answer, the caps are counted in this
process only (as :class:`~app.runs.store.RunStore` does) and the entry is written by the
next renewal. ``max_runs`` and ``memory_mb`` stay per process: they guard its memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import secrets
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.runs import budget, checkpoints, lease
from app.runs.checkpoints import Checkpoint, Codec
from app.runs.client_ledger import NO_LIMIT, Entry, Ledger, Refusal
from app.runs.config import ConfigError
from app.runs.experiment import Experiment
from app.runs.lease import Holder, Leases
from app.runs.measurements import HISTORY_POINTS
from app.runs.run import Run
from app.runs.state import RunState
from app.runs.store import ClientFull, RunStore, client_memory_full, client_runs_full
from app.settings import Settings

log = logging.getLogger(__name__)

KEY = "bpv:run:"  # + run id → checkpoint JSON (its document's history empty)
HISTORY_KEY = "bpv:history:"  # + run id → the document's history (loss and layer series)
CHECKPOINT_S = 1.5  # a training run's checkpoint is at most this old (+ TICK_S + one write)
TICK_S = 0.25
RUN_TTL_S = 86_400  # a day after its last change, an abandoned run's checkpoint expires
# A long run's history (2,000 points and the per-layer series, ~300 KB of JSON, ~20 ms) is
# written with the checkpoint after a REST change, a rebuild or rewind, and otherwise at
# most this often (a short one more often: see capture); a restart then finds the weights
# at most CHECKPOINT_S old and the loss chart at most HISTORY_S old.
HISTORY_S = 30.0


def run_key(run_id: str) -> str:
    return KEY + run_id


def history_key(run_id: str) -> str:
    return HISTORY_KEY + run_id


@dataclass
class Saved:
    """What a run was at its last checkpoint here (to tell whether it changed since)."""

    created: float  # Unix time the run was first made (kept across restores)
    at: float = 0.0  # monotonic time of the last write (0: never)
    mark: tuple[object, ...] = ()
    history_at: float = -math.inf  # monotonic time the history was last written
    history_of: tuple[int, int] = (-1, -1)  # (generation, history revision) it was of


def _mark(run: Run) -> tuple[object, ...]:
    """Changes whenever anything a checkpoint holds may have changed: a step, a command
    (every command touches the run), a rebuild, a rewind or a restored history."""
    return (
        run.step,
        run.last_used,
        run.generation,
        run.measurements.revision,
        run.steps_per_frame,
    )


class Elsewhere(RuntimeError):
    """The run is live in another worker (``holder`` holds its lease)."""

    def __init__(self, run_id: str, holder: Holder) -> None:
        super().__init__(f"run {run_id} is held by worker {holder.worker}")
        self.holder = holder


MOVED = "the run moved to another worker: reconnect"


class RedisRunStore(RunStore):
    def __init__(
        self, settings: Settings, redis: Redis, codec: Codec, leases: Leases | None = None
    ) -> None:
        super().__init__(settings)
        self.redis = redis
        self.codec = codec
        self.leases = leases or Leases(redis)
        self.ledger = Ledger(redis, self.leases.worker)
        self._entries: dict[str, str] = {}  # run id → client: ledger entries kept here
        self._building: dict[str, int] = {}  # run id → bytes reserved: being built here
        self._unledgered: dict[str, str] = {}  # run id → client: entries to give back
        self._to_release: set[str] = set()  # left this worker: give their leases back
        self._tasks: set[asyncio.Task[None]] = set()
        self._saved: dict[str, Saved] = {}
        self._fresh: set[str] = set()  # created here, not written yet
        self._deleted: set[str] = set()  # deleted here, not removed from Redis yet
        self._loading: dict[str, asyncio.Future[bool]] = {}
        # Restores are rebuilt one at a time in a thread of their own: a worker that takes
        # over twenty runs at once must not fill the requests' work queue (app/runs/work.py).
        self._restorer = ThreadPoolExecutor(1, thread_name_prefix="bpv-restore")
        self.checkpoint_seconds = 0.0  # time spent making checkpoints (on the loop)
        self.checkpoints = 0

    # -- the store's hooks ----------------------------------------------------------------
    def _add(
        self,
        config: Experiment,
        state: RunState,
        client: str,
        size: int,
        run_id: str | None = None,
    ) -> Run:
        run = super()._add(config, state, client, size, run_id)
        run.grow = self.grow
        if run.id not in self._saved:
            self._saved[run.id] = Saved(time.time())
            self._fresh.add(run.id)
        return run

    def delete(self, run_id: str) -> None:
        super().delete(run_id)
        self._let_go(run_id)
        self._saved.pop(run_id, None)
        self._fresh.discard(run_id)
        self._deleted.add(run_id)

    def evict_idle(self, now: float | None = None) -> int:
        n = super().evict_idle(now)
        if n:
            for rid in [r for r in self._saved if r not in self._runs]:
                del self._saved[rid]
                self._to_release.add(rid)
            for rid in [r for r in self._entries if r not in self._runs]:
                if rid not in self._building:
                    self._let_go(rid)
        return n

    def drop(self, run_id: str, reason: str) -> Run | None:
        """Stop holding a run here (it lives on in Redis): its stream is ended."""
        run = self._runs.pop(run_id, None)
        self._saved.pop(run_id, None)
        self._fresh.discard(run_id)
        self._let_go(run_id)
        if run is not None:
            self._end(run, reason)
        return run

    async def give_up(self, run_id: str, reason: str = MOVED) -> None:
        """Let another worker have the run: once the request or stream holding it is done
        with it, write it, stop holding it here and give its lease back."""
        run = self._runs.get(run_id)
        if run is not None:
            async with run.lock:
                if self._runs.get(run_id) is run and run_id in self.leases.held:
                    await self.save(run, full=True)
                self.drop(run_id, reason)
        await self.leases.release(run_id)
        with contextlib.suppress(RedisError, OSError):
            await self._give_back()  # the new owner takes the entry over

    def lost(self, run_id: str) -> None:
        """Our lease went to another worker (we were too slow to renew it): the run must
        not train here any more."""
        self.leases.forget(run_id)
        self.drop(run_id, MOVED)

    async def keep_leases_forever(self) -> None:
        """The background task: renew this worker's leases; drop runs whose lease was
        lost; give back the leases of runs that left (evicted)."""
        while True:
            await asyncio.sleep(lease.RENEW_S)
            try:
                for rid in await self.leases.renew_all():
                    log.warning("run %s: lease lost to another worker", rid)
                    self.lost(rid)
                for rid in list(self._to_release):
                    self._to_release.discard(rid)
                    if rid not in self._runs:
                        await self.leases.release(rid)
            except (RedisError, OSError) as e:
                log.warning("renewing leases failed: %s", e)
            try:
                await self._give_back()
                await self.ledger.renew(self._ledger_entries())
            except (RedisError, OSError) as e:
                log.warning("renewing the clients' ledger failed: %s", e)

    async def release_all(self) -> None:
        """At shutdown, after :meth:`save_all`: every lease given back."""
        for rid in list(self.leases.held):
            await self.leases.release(rid)
        await self.leases.unregister()
        for rid in list(self._entries):
            self._let_go(rid)
        with contextlib.suppress(RedisError, OSError):
            await self._give_back()

    # -- one client's runs on every worker (app/runs/client_ledger.py) --------------------
    async def create_async(
        self,
        config: Experiment,
        client: str,
        build_off_loop: Callable[[Experiment], Awaitable[RunState]],
        run_id: str | None = None,
    ) -> Run:
        """As :meth:`RunStore.create_async`, the run first counted against its client on
        every worker (:meth:`_reserve`); its entry is given back if the run is not made."""
        run_id = run_id or secrets.token_urlsafe(12)
        size = self.estimate(config)
        await self._reserve(client, run_id, size, self.settings.max_runs_per_client)
        self._building[run_id] = size
        try:
            return await super().create_async(config, client, build_off_loop, run_id)
        except BaseException:
            self._let_go(run_id)
            with contextlib.suppress(RedisError, OSError):
                await self._give_back()
            raise
        finally:
            self._building.pop(run_id, None)

    async def grow(self, run: Run, size: int) -> None:
        """A config change that grows ``run``'s estimate to ``size`` bytes (already within
        this process's budgets: :meth:`admit_change`): reserved on every worker first."""
        await self._reserve(run.owner, run.id, size, NO_LIMIT, lambda r: r is not run)

    async def _reserve(
        self,
        client: str,
        run_id: str,
        size: int,
        max_runs: int,
        others: Callable[[Run], bool] = lambda r: True,
    ) -> None:
        """Count ``run_id`` (``size`` bytes) against ``client`` in the ledger, atomically,
        or raise :class:`ClientFull` (idle runs here are evicted first if that makes room,
        as in one process). ``max_runs``: the client's other runs must be fewer."""
        self._unledgered.pop(run_id, None)  # back here before its entry was given back
        limit = self.settings.client_memory_mb * budget.MB
        evicts = time.time() + self.settings.idle_timeout_s
        try:
            refusal = await self.ledger.admit(
                client, run_id, size, max_runs, limit, evicts, time.time()
            )
            if refusal is not None and self.evict_idle():
                await self._give_back()
                refusal = await self.ledger.admit(
                    client, run_id, size, max_runs, limit, evicts, time.time()
                )
        except (RedisError, OSError) as e:  # the caps of this process still hold
            log.warning("client %s counted in this worker only: %s", client, e)
            refusal = None
        if refusal is not None:
            raise self._refused(client, refusal, size, others)
        self._entries[run_id] = client

    def _refused(
        self, client: str, refusal: Refusal, size: int, others: Callable[[Run], bool]
    ) -> ClientFull:
        """The 429 of a ledger's refusal, as one process words it. Retry-After: the sooner
        of this worker's exact answer and the ledger's (other workers' idle runs)."""
        s = self.settings
        wait = self.retry_after(only=lambda r: r.owner == client and others(r))
        if refusal.wait_s is not None:
            wait = min(wait, max(1, math.ceil(refusal.wait_s)))
        if refusal.reason == "client_runs":
            return client_runs_full(refusal.runs, s.max_runs_per_client, wait)
        return client_memory_full(refusal.used + size, s.client_memory_mb, wait)

    def _let_go(self, run_id: str) -> None:
        """The run left this worker: its entry is to be given back (:meth:`_give_back`)."""
        client = self._entries.pop(run_id, None)
        if client is not None:
            self._unledgered[run_id] = client

    async def _give_back(self) -> None:
        """The entries of runs that left this worker removed (those it still owns). Each
        entry is taken off the list before its release is awaited, so that callers running
        at once (a hundred runs moving to another worker as their streams arrive there)
        release it once between them, not every one of them every entry; one whose release
        failed is put back for the next call."""
        while self._unledgered:
            rid = next(iter(self._unledgered))
            client = self._unledgered.pop(rid)
            if rid in self._entries:  # admitted here again meanwhile
                continue
            try:
                await self.ledger.release(client, rid)
            except BaseException:
                self._unledgered.setdefault(rid, client)
                raise

    def _ledger_entries(self) -> dict[str, list[Entry]]:
        """This worker's entries as renewed: client → its runs here (and being built)."""
        now, unix = time.monotonic(), time.time()
        idle = self.settings.idle_timeout_s
        out: dict[str, list[Entry]] = {}
        for rid, client in self._entries.items():
            run = self._runs.get(rid)
            if run is not None:
                evicts = unix + run.last_used + idle - now if self._evictable(run) else 0.0
                out.setdefault(client, []).append(Entry(rid, run.bytes, evicts))
            elif rid in self._building:
                out.setdefault(client, []).append(Entry(rid, self._building[rid], 0.0))
        return out

    # -- writing ------------------------------------------------------------------------
    async def write(self, run_id: str, data: dict[str, bytes], ttl_ms: int) -> bool:
        """The checkpoint written, only while this worker holds the run's lease."""
        return await self.leases.write(run_id, data, ttl_ms)

    def capture(self, run: Run, full: bool = False) -> dict[str, bytes]:
        """The run's checkpoint now (on the loop), timed: key → bytes. Its history too when
        ``full``, when it was rebuilt, rewound or reset since, or after HISTORY_S."""
        t0 = time.perf_counter()
        now = time.monotonic()
        saved = self._saved.setdefault(run.id, Saved(time.time()))
        of = (run.generation, run.measurements.revision)
        # A short history is cheap: written as often as the weights; a full one every
        # HISTORY_S (the cost grows with its length).
        every = max(CHECKPOINT_S, HISTORY_S * len(run.history) / HISTORY_POINTS)
        history = full or saved.history_of != of or now - saved.history_at >= every
        data, kept = checkpoints.capture(run, self.codec, saved.created, history)
        out = {run_key(run.id): data}
        if kept is not None:
            out[history_key(run.id)] = kept
            saved.history_at, saved.history_of = now, of
        saved.mark = _mark(run)
        saved.at = now
        self.checkpoint_seconds += time.perf_counter() - t0
        self.checkpoints += 1
        return out

    async def save(self, run: Run, full: bool = False) -> bool:
        """Write ``run``'s checkpoint now (``full``: its history too); False if the write
        was refused or failed (the next tick tries again)."""
        data = self.capture(run, full)
        refused = False
        try:
            ok = await self.write(run.id, data, RUN_TTL_S * 1000)
            refused = not ok
        except (RedisError, OSError) as e:  # Redis away: the run goes on here, kept later
            log.warning("checkpoint of run %s failed: %s", run.id, e)
            ok = False
        if not ok and run.id in self._saved:
            self._saved[run.id].mark = ()  # still to be written
            self._saved[run.id].history_at = -math.inf
        if refused and run.id not in self.leases.held:  # the lease is another's now
            self.lost(run.id)
        return ok

    def changed(self, run: Run) -> bool:
        saved = self._saved.get(run.id)
        return saved is None or saved.mark != _mark(run)

    async def flush(self, run_id: str | None) -> None:
        """After a REST change: write the run (or remove it, deleted), and any run created
        here since the last flush. Awaited before the answer goes out."""
        for rid in list(self._fresh):
            self._fresh.discard(rid)
            fresh = self._runs.get(rid)
            if fresh is None or await self.save(fresh, full=True):
                continue
            if rid in self._runs:  # not written (Redis away): still only ours, not stale
                self._fresh.add(rid)
        if run_id is None:
            return
        if run_id in self._deleted:
            self._deleted.discard(run_id)
            with contextlib.suppress(RedisError, OSError):
                await self.remove(run_id)
            with contextlib.suppress(RedisError, OSError):
                await self._give_back()  # its slot is free on every worker at once
            return
        run = self._runs.get(run_id)
        if run is not None and self.changed(run):
            await self.save(run, full=True)

    async def remove(self, run_id: str) -> None:
        """A deleted run's checkpoint and lease removed (fenced: only while ours)."""
        await self.leases.delete(run_id, [run_key(run_id), history_key(run_id)])

    async def checkpoint_due(self, now: float | None = None) -> int:
        """Write every run that changed: one that trained or plays, once
        :data:`CHECKPOINT_S` has passed since its last write; a paused one changed by a
        command, now."""
        now = time.monotonic() if now is None else now
        written = 0
        for run in list(self._runs.values()):
            saved = self._saved.get(run.id)
            if saved is not None and saved.mark == _mark(run):
                continue
            # Training, or playing (its stream touches it every frame, trained or not): at
            # most once per CHECKPOINT_S. A paused run changed by a command: now.
            trained = saved is None or not saved.mark or saved.mark[0] != run.step
            if (trained or run.playing) and saved is not None and now - saved.at < CHECKPOINT_S:
                continue
            if run.closed is None and await self.save(run):
                written += 1
        for rid in list(self._deleted):
            self._deleted.discard(rid)
            with contextlib.suppress(RedisError, OSError):
                await self.remove(rid)
        return written

    async def checkpoint_forever(self) -> None:
        """The background task: :meth:`checkpoint_due` every :data:`TICK_S`."""
        while True:
            await asyncio.sleep(TICK_S)
            try:
                await self.checkpoint_due()
            except Exception:  # a bug must not end checkpointing for good
                log.exception("checkpointing failed")

    async def save_all(self) -> None:
        """At shutdown: write every run that changed since its last write."""
        for run in list(self._runs.values()):
            if self.changed(run) and run.closed is None:
                await self.save(run, full=True)

    # -- reading back -------------------------------------------------------------------
    async def fetch(self, run_id: str) -> Checkpoint | None:
        raw, history = await self.redis.mget([run_key(run_id), history_key(run_id)])
        if not isinstance(raw, bytes):  # None: no such run (or it expired)
            return None
        try:
            return checkpoints.read(raw, history if isinstance(history, bytes) else None)
        except checkpoints.CheckpointError as e:
            log.warning("run %s: %s", run_id, e)
            return None

    async def load(self, run_id: str) -> bool:
        """Make the run live here from its checkpoint if it is not (one restore at a time
        per run); True if it is live now, False if Redis has no such run. Raises
        :class:`Elsewhere` if another worker holds its lease, and the store's refusals
        (StoreFull, ClientFull, MemoryFull) when it does not fit."""
        if run_id in self._runs:
            if run_id in self.leases.held or run_id in self._fresh:
                return True
            self.lost(run_id)  # its lease expired or was seized: what we hold is stale
        pending = self._loading.get(run_id)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._loading[run_id] = future
        try:
            ok = await self._restore(run_id)
        except BaseException as e:
            future.set_exception(e)
            future.exception()  # retrieved: waiters get it too
            raise
        else:
            future.set_result(ok)
            return ok
        finally:
            del self._loading[run_id]

    async def _restore(self, run_id: str) -> bool:
        if not await self.leases.acquire(run_id):
            holder = await self.leases.holder(run_id)
            if holder is not None:
                raise Elsewhere(run_id, holder)
            if not await self.leases.acquire(run_id):  # freed meanwhile; taken meanwhile
                holder = await self.leases.holder(run_id)
                raise Elsewhere(run_id, holder or Holder("", ""))
        try:
            ok = await self._rebuild(run_id)
        except BaseException:
            await self.leases.release(run_id)
            raise
        if not ok:
            await self.leases.release(run_id)
        return ok

    async def _rebuild(self, run_id: str) -> bool:
        """The run made live here from its checkpoint (its lease is ours)."""
        cp = await self.fetch(run_id)
        if cp is None:
            return False
        if run_id in self._runs:
            return True
        meta = cp.meta
        loop = asyncio.get_running_loop()
        built: dict[str, object] = {}

        async def build_off_loop(config: Experiment) -> RunState:
            _, state, history = await loop.run_in_executor(
                self._restorer, checkpoints.rebuild, cp, self.codec, self.settings
            )
            built["history"] = history
            return state

        try:
            experiment = self.codec.from_wire(cp.document["settings"])
        except (ConfigError, ValueError, KeyError) as e:
            log.warning("run %s cannot be restored: %s", run_id, e)
            return False
        self._saved[run_id] = Saved(meta.created)
        try:
            run = await self.create_async(experiment, meta.owner, build_off_loop, run_id)
        except ConfigError as e:  # a checkpoint this version cannot go on from
            self._saved.pop(run_id, None)
            log.warning("run %s cannot be restored: %s at %s", run_id, e.msg, e.loc)
            return False
        except BaseException:
            self._saved.pop(run_id, None)
            raise
        history = built["history"]
        assert isinstance(history, list)
        run.measurements.restore(history)
        run.steps_per_frame = meta.steps_per_frame
        self._fresh.discard(run_id)
        saved = self._saved[run_id]
        saved.mark, saved.at = _mark(run), time.monotonic()  # as it is in Redis
        log.info("run %s restored at step %d", run_id, run.step)
        return True

    async def aclose(self) -> None:
        self._restorer.shutdown(wait=False, cancel_futures=True)
        await self.redis.aclose()

    async def listen_forever(self) -> None:
        """The background task: give a run up when another worker asks (a stream for it
        opened there: :data:`~app.runs.lease.RELEASE_CHANNEL`)."""
        channel = lease.RELEASE_CHANNEL + self.leases.worker
        while True:
            pubsub = self.redis.pubsub()
            try:
                await pubsub.subscribe(channel)
                async for message in pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    data = message["data"]
                    run_id = data.decode() if isinstance(data, bytes) else str(data)
                    task = asyncio.create_task(self.give_up(run_id))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
            except (RedisError, OSError) as e:
                log.warning("listening for release requests failed: %s", e)
                await asyncio.sleep(0.5)
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
