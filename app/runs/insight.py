"""A frame's ``explain`` and ``health`` objects (``docs/frames.md``).

- ``explain``: the full-precision terms for the neuron or edge the page has selected
  (:mod:`app.core.explain`), from the same parameters, probe and batch as the frame.
- ``health``: per hidden layer, how many units are saturated or dead
  (:mod:`app.core.saturation`); and, when most are or the run diverged, advice *tried on this
  run*: the run is rebuilt from its config (same seed: the same data and initial weights) at
  smaller learning rates and trained for a while, and only a learning rate that neither
  diverged nor left most units saturated or dead, and lowered the cost, is advised.

Advice trials are long work (up to about a second in all), so the server runs them as jobs
of its :class:`~app.runs.work.Workers` (:func:`trials_in`, from the app's lifespan), one
learning rate per job: like a CSV build or a stateless backprop, they run off the event
loop, queue with a bound, and keep to the workers' duty cycle while streams play. Without a
server (a script, a test of the domain alone), they run in a thread of their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from app.core import explain as core_explain
from app.core import saturation
from app.runs.config import ConfigError
from app.runs.experiment import Experiment
from app.runs.rounding import Array
from app.runs.state import RunState, build
from app.runs.work import Workers, WorkersBusy
from app.settings import Settings

# (l, j, k): a neuron when k is None, else the edge k → j into layer l (0-based j, k).
Selection = tuple[int, int, int | None]

TRIAL_DIVISORS = (10, 100, 1_000, 10_000)
TRIAL_MIN_STEPS, TRIAL_EPOCHS, TRIAL_MAX_STEPS = 2_000, 20, 4_000
# A trial's steps are also capped by work: steps · parameters · batch ≤ TRIAL_WORK (about
# 0.1 s of NumPy for the largest networks), so advice costs the same on any machine load.
TRIAL_WORK = 200_000_000
_ADVICE_CACHE: OrderedDict[str, dict[str, Any]] = OrderedDict()
# Trials take up to about a second (several rebuilds and thousands of steps): never on the
# event loop. In a server, the workers' jobs (_TRIALS, set by trials_in); else one thread of
# their own (_ADVISOR, made on first use). At most _PENDING_MAX configs wait their turn.
_TRIALS: tuple[Workers, asyncio.AbstractEventLoop] | None = None
_PARTIAL: OrderedDict[str, list[_Trial]] = OrderedDict()  # trials stopped before advice
_TASKS: set[asyncio.Task[None]] = set()  # trials under way in the server (kept referenced)
_ADVISOR: ThreadPoolExecutor | None = None
_PENDING: dict[str, float] = {}  # config key -> when a frame last asked for its advice
_PENDING_MAX = 8
# In a server, a config's trials stop (before its next learning rate) when no frame has asked
# for its advice this long: its student left, or deleted or changed the run. A paused stream
# asks every app.runs.player.ADVICE_POLL_S (0.25 s), a playing one with every frame, a REST
# client each time it GETs a frame; one that asks less often loses nothing but time: the
# learning rates tried are kept, and the next ask goes on from there.
UNWANTED_S = 1.0
_LOCK = threading.Lock()
_ADVICE_KEEP = 64


def check_selection(sizes: list[int], l: int, j: int, k: int | None) -> Selection:  # noqa: E741
    """The selection, or :class:`ConfigError` naming the field and its limit."""
    L = len(sizes)
    low = 1 if k is None else 2
    if not low <= l <= L:
        raise ConfigError(("l",), f"layer l must be {low}..{L} (this network has L = {L})")
    if not 0 <= j < sizes[l - 1]:
        n = sizes[l - 1]
        raise ConfigError(("j",), f"layer {l} has {n} neurons: j must be 0..{n - 1}")
    if k is not None and not 0 <= k < sizes[l - 2]:
        n = sizes[l - 2]
        raise ConfigError(("k",), f"layer {l - 1} has {n} neurons: k must be 0..{n - 1}")
    return (l, j, k)


_EXPLAIN_CACHE: dict[int, tuple[tuple[Any, ...], dict[str, Any] | None]] = {}


def explain(
    st: RunState, probe: int, batch: tuple[Array, Array], sel: Selection
) -> dict[str, Any] | None:
    """The ``explain`` object for ``sel`` (None for an input neuron: nothing is computed);
    the last one per run state is reused while its inputs are the same (a paused run)."""
    tr = st.trainer
    h = tr.hyper
    key = (
        sel,
        probe,
        tr.theta.tobytes(),
        tr._velocity.tobytes(),
        batch[0].tobytes(),
        batch[1].tobytes(),
        h,
        tuple(st.net.activations),
        st.cost_name,
    )
    hit = _EXPLAIN_CACHE.get(id(st))
    if hit is not None and hit[0] == key:
        return hit[1]
    out = _explain(st, probe, batch, sel)
    if out is not None and not _finite_tree(out):
        out = None  # overflowed (a diverging run): no NaN or Infinity leaves the server
    if len(_EXPLAIN_CACHE) > 256:
        _EXPLAIN_CACHE.clear()
    _EXPLAIN_CACHE[id(st)] = (key, out)
    return out


def _finite_tree(v: Any) -> bool:
    if isinstance(v, float):
        return math.isfinite(v)
    if isinstance(v, dict):
        return all(_finite_tree(x) for x in v.values())
    if isinstance(v, list):
        return all(_finite_tree(x) for x in v)
    return True


def _explain(
    st: RunState, probe: int, batch: tuple[Array, Array], sel: Selection
) -> dict[str, Any] | None:
    l, j, k = sel  # noqa: E741
    if l < 2 or l > st.net.L or j >= st.net.sizes[l - 1]:
        return None  # the network changed under the selection
    tr = st.trainer
    p = (st.x[probe], st.y[probe])
    b = (batch[0], batch[1])
    if k is None:
        return core_explain.neuron(st.net, st.cost_name, p, b, l, j, st.cost.sigma_prime_cancels)
    if k >= st.net.sizes[l - 2]:
        return None
    h = tr.hyper
    step = core_explain.Step(h.learning_rate, h.momentum, h.regulariser, h.lmbda, st.n_train)
    # The trainer keeps one velocity per parameter ([w^l | b^l] rows); this weight's entry.
    velocity = float(tr._v_aug[l - 2][j, k])
    return core_explain.edge(st.net, st.cost_name, p, b, l, j, k, step, velocity)


def health(st: RunState) -> dict[str, Any]:
    """Saturated and dead shares per hidden layer, over the training set (counted on the
    metrics' forward pass at this θ: no pass of its own when the metrics were just measured)."""
    layers = _layer_health(st)
    sm = saturation.summary(layers)  # the rules of share, output_saturated, alarming, reason
    return {
        "reason": "dead" if sm.mostly_dead else "saturated",
        "layers": [{"l": h.l, "n": h.n, "saturated": h.saturated, "dead": h.dead} for h in layers],
        "saturated_share": sm.saturated_share,
        "dead_share": sm.dead_share,
        "output_saturated": sm.output_saturated,
        "alarm": sm.alarm,
        "advice": None,
        "advice_pending": False,
    }


def _layer_health(st: RunState) -> list[saturation.LayerHealth]:
    ev = st.evaluator
    return saturation.count(ev.forward_at_theta(), ev.y, st.cost.sigma_prime_cancels, st.n_train)


def reason(layers: list[saturation.LayerHealth]) -> str:
    """Why the alarm is on: "dead" (mostly dead ReLUs) or "saturated" (hidden or output)."""
    return "dead" if saturation.summary(layers).mostly_dead else "saturated"


@dataclass
class _Trial:
    learning_rate: float
    steps: int
    outcome: str  # "ok" | "diverged" | "saturated" | "dead" | "no progress"
    cost_before: float | None
    cost_after: float | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "learning_rate": self.learning_rate,
            "steps": self.steps,
            "outcome": self.outcome,
            "cost_before": self.cost_before,
            "cost_after": self.cost_after,
        }


def _finite(v: float) -> float | None:
    return v if math.isfinite(v) else None


def _trial(config: Experiment, settings: Settings, eta: float) -> _Trial:
    """Rebuild the run at learning rate η (same seed), train, and judge the units and cost."""
    state = build(config.changed(learning_rate=eta), settings)
    tr = state.trainer
    per_epoch = -(-state.n_train // tr.hyper.batch_size)
    steps = min(TRIAL_MAX_STEPS, max(TRIAL_MIN_STEPS, TRIAL_EPOCHS * per_epoch))
    work = state.net.n_params() * tr.hyper.batch_size
    steps = max(1, min(steps, TRIAL_WORK // work))
    x, y = state.x[: state.n_train], state.y[: state.n_train]
    before = tr.evaluate(x, y)
    tr.train(steps)
    if tr.status != "ok":
        return _Trial(eta, steps, "diverged", _finite(before), None)
    after = tr.evaluate(x, y)
    layers = _layer_health(state)
    if saturation.alarming(layers):
        outcome = reason(layers)
    elif not (math.isfinite(after) and after < before):
        outcome = "no progress"
    else:
        outcome = "ok"
    return _Trial(eta, steps, outcome, _finite(before), _finite(after))


def advice(config: Experiment, settings: Settings, reason: str) -> dict[str, Any] | None:
    """The advice for this config (see :func:`try_smaller_rates`), or None while it is being
    tried in the background thread: a later frame carries it. Cached per config."""
    trained = config.changed(probe=0)  # the probe changes no trial
    key = hashlib.sha256(f"{reason}|{trained!r}".encode()).hexdigest()
    with _LOCK:
        hit = _ADVICE_CACHE.get(key)
        if hit is not None:
            _ADVICE_CACHE.move_to_end(key)
            return hit
        if key in _PENDING:
            _PENDING[key] = time.monotonic()
            return None
        if len(_PENDING) >= _PENDING_MAX:
            return None
        _PENDING[key] = time.monotonic()
    trials = _TRIALS
    if trials is None:
        global _ADVISOR
        with _LOCK:
            if _ADVISOR is None:
                _ADVISOR = ThreadPoolExecutor(1, thread_name_prefix="bpv-advice")
        _ADVISOR.submit(_advise, key, config, settings, reason)
        return None
    workers, loop = trials
    try:  # from the loop's thread or any other: the trial starts on the server's loop
        loop.call_soon_threadsafe(_start_trials, workers, key, config, settings, reason)
    except RuntimeError:  # the server's loop has closed: nothing is tried
        _settled(key, None)
    return None


@contextlib.contextmanager
def trials_in(workers: Workers) -> Iterator[None]:
    """From the app's lifespan, on its event loop: advice trials are ``workers``' jobs for as
    long as the server runs."""
    global _TRIALS
    _TRIALS = (workers, asyncio.get_running_loop())
    try:
        yield
    finally:
        if _TRIALS is not None and _TRIALS[0] is workers:
            _TRIALS = None


def _start_trials(
    workers: Workers, key: str, config: Experiment, settings: Settings, reason: str
) -> None:
    task = asyncio.get_running_loop().create_task(
        _advise_in(workers, key, config, settings, reason)
    )
    _TASKS.add(task)
    task.add_done_callback(_TASKS.discard)


async def _advise_in(
    workers: Workers, key: str, config: Experiment, settings: Settings, reason: str
) -> None:
    """Each learning rate tried as a job of ``workers`` (one after the other; stops at the
    first that works). A full work queue, or no frame asking for the advice for
    :data:`UNWANTED_S`, stops the trials: the ones done are kept (:data:`_PARTIAL`), and a
    frame that asks later resumes from there."""
    out = None
    with _LOCK:
        tried = _PARTIAL.pop(key, [])
    try:
        for eta in list(_candidates(config.learning_rate))[len(tried) :]:
            t = await workers.run(_wanted_trial, key, config, settings, eta)
            if t is None:
                return
            tried.append(t)
            if t.outcome == "ok":
                break
        out = _advised(reason, tried)
    except WorkersBusy:
        pass
    finally:
        with _LOCK:
            if out is None and tried:
                _PARTIAL[key] = tried
                while len(_PARTIAL) > _ADVICE_KEEP:
                    _PARTIAL.popitem(last=False)
        _settled(key, out)


def _wanted_trial(key: str, config: Experiment, settings: Settings, eta: float) -> _Trial | None:
    """:func:`_trial`, in a worker when its turn comes: None (nothing tried) when no frame
    has asked for this advice for :data:`UNWANTED_S`."""
    with _LOCK:
        asked = _PENDING.get(key, -math.inf)
    if time.monotonic() - asked > UNWANTED_S:
        return None
    return _trial(config, settings, eta)


def _advise(key: str, config: Experiment, settings: Settings, reason: str) -> None:
    out = None
    try:
        out = try_smaller_rates(config, settings, reason)
    finally:
        _settled(key, out)


def _settled(key: str, out: dict[str, Any] | None) -> None:
    """The advice for ``key`` is no longer pending; ``out`` (unless None) is kept."""
    with _LOCK:
        if out is not None:
            _ADVICE_CACHE[key] = out
            while len(_ADVICE_CACHE) > _ADVICE_KEEP:
                _ADVICE_CACHE.popitem(last=False)
        _PENDING.pop(key, None)


def _candidates(eta: float) -> Iterator[float]:
    """The learning rates tried, largest first: η/10, η/100, ... (one significant digit),
    none under 1e-5."""
    for div in TRIAL_DIVISORS:
        candidate = float(f"{eta / div:.1g}")
        if candidate < 1e-5:
            return
        yield candidate


def _advised(reason: str, tried: list[_Trial]) -> dict[str, Any]:
    chosen = next((t for t in tried if t.outcome == "ok"), None)
    return {
        "reason": reason,
        "learning_rate": chosen.learning_rate if chosen else None,
        "tried": [t.as_dict() for t in tried],
    }


def try_smaller_rates(config: Experiment, settings: Settings, reason: str) -> dict[str, Any]:
    """Try smaller learning rates on this run (from step 0, same seed) and advise the largest
    that works. ``reason``: "diverged" | "saturated" | "dead"."""
    tried: list[_Trial] = []
    for eta in _candidates(config.learning_rate):
        tried.append(_trial(config, settings, eta))
        if tried[-1].outcome == "ok":
            break
    return _advised(reason, tried)
