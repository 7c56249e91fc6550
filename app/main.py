"""Assemble the FastAPI application: settings, routers, error handlers, limits, the page.
Nothing else lives here."""

from __future__ import annotations

import os

# One BLAS thread: every matrix here is small, and OpenBLAS's worker threads only wait for a
# busy second core. With them, a frame took 1-600 ms on a loaded 2-core machine; without,
# a steady 1 ms (64-30-10). Must be set before NumPy loads, so before the imports below.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import asyncio  # noqa: E402
import contextlib  # noqa: E402
import gc  # noqa: E402
import sys  # noqa: E402
from collections.abc import AsyncIterator  # noqa: E402
from types import ModuleType  # noqa: E402

from fastapi import FastAPI  # noqa: E402

from app import web  # noqa: E402
from app.api import (  # noqa: E402
    backprop,
    docs,
    edge,
    errors,
    export,
    nudge,
    openapi,
    options,
    runs,
    stats,
    stream,
)
from app.api.edge import EdgeMiddleware  # noqa: E402
from app.api.limits import LimitsMiddleware  # noqa: E402
from app.api.presets import parse_preset  # noqa: E402
from app.api.request_rate import RequestRateMiddleware  # noqa: E402
from app.api.shutdown import ShutdownMiddleware  # noqa: E402
from app.runs import insight  # noqa: E402
from app.runs.pacer import Pacer  # noqa: E402
from app.runs.store import RunStore  # noqa: E402
from app.runs.work import Workers  # noqa: E402
from app.settings import Settings, SettingsError, get_settings  # noqa: E402


def redis_placement() -> ModuleType:
    """:mod:`app.api.placement`, which needs redis-py (the ``redis`` extra): imported only
    when ``BPV_REDIS_URL`` is set; missing, one line and exit status 2."""
    try:
        from app.api import placement
    except ImportError as e:
        print(
            f"backprop-viz: BPV_REDIS_URL is set but {e}: pip install 'backprop-viz[redis]'",
            file=sys.stderr,
            flush=True,
        )
        raise SystemExit(2) from None
    return placement


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app. ``uvicorn app.main:create_app --factory`` calls this with no arguments.

    A bad ``BPV_PRESET`` raises :class:`app.api.presets.PresetError` here, at startup.
    """
    if settings is None:
        try:
            settings = get_settings()
        except SettingsError as e:  # one line, no traceback, as the CLI says it
            print(f"backprop-viz: {e}", file=sys.stderr, flush=True)
            raise SystemExit(2) from None
    default_config = parse_preset(settings.preset, settings)
    store = RunStore(settings)
    durable = None  # with BPV_REDIS_URL: the Redis-backed store's helpers (app/api/placement)
    if settings.redis_url:
        durable = redis_placement()
        store = durable.make_store(settings)
    pacer = Pacer(settings.max_fps, settings.min_fps, settings.cpu_share, settings.steady_fps)
    # Builds, stateless backprop and advice trials, off the event loop; a duty cycle while
    # streams play.
    workers = Workers(contended=lambda: pacer.playing > 0)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Everything alive now lives as long as the server: keep it out of the collector's
        # full passes (they took ~80 ms with 100 streaming runs, a visible hitch).
        gc.freeze()
        evictor = asyncio.create_task(store.evict_forever())
        saver = None if durable is None else await durable.start(app, store)
        try:
            with insight.trials_in(workers):  # advice trials: the workers' jobs too
                yield
        finally:
            evictor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await evictor
            if durable is not None and saver is not None:
                await durable.stop(app, store, saver)  # changes since the last tick kept
            workers.shutdown()

    app = FastAPI(
        title="backprop-viz",
        version="0.1.0",
        description=openapi.DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served offline by app.api.docs
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.store = store
    app.state.workers = workers
    app.state.pacer = pacer
    app.state.default_config = default_config

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    for module in (options, backprop, runs, export, nudge, stream, stats):
        app.include_router(module.router)
    errors.install(app)
    runs.install(app)  # busy runs (409), budgets and caps (429), a full work queue (503)
    openapi.install(app, settings)
    edge.document(app)
    docs.install(app)
    if durable is not None:  # innermost: the request's run in place, its changes kept
        app.add_middleware(durable.RunPlacementMiddleware, store=store)
    app.add_middleware(LimitsMiddleware, max_body_bytes=settings.max_body_bytes)
    # Inside the edge: a request refused for its Host or Origin costs no one's budget.
    app.add_middleware(RequestRateMiddleware, rps=settings.client_rps, burst=settings.client_burst)
    app.add_middleware(ShutdownMiddleware)
    app.add_middleware(EdgeMiddleware, settings=settings)  # outermost: Host, Origin, headers
    web.install(app, settings)
    return app
