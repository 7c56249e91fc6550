"""``WS /api/runs/{run_id}/stream``: the live tensor stream (protocol in docs/api.md).

WebSocket handshakes bypass CORS, so a browser's ``Origin`` must be this server's own
origin or one of ``BPV_ALLOWED_ORIGINS``; anything else is refused (403) before accepting.
The Host it is compared with has passed the allow-list of :mod:`app.api.edge` (DNS
rebinding). Clients without an ``Origin`` (scripts) are not browsers and are let in.
"""

from __future__ import annotations

import re

from fastapi import APIRouter, WebSocket

from app.api.deps import RUN_ID_PATTERN
from app.api.edge import host_allowed
from app.api.edge import origin_allowed as edge_origin_allowed
from app.api.stream_session import StreamSession
from app.runs.pacer import Pacer
from app.runs.store import RunNotFound, RunStore
from app.runs.work import Workers
from app.settings import Settings

router = APIRouter(tags=["stream"])
_RUN_ID = re.compile(RUN_ID_PATTERN)


def origin_allowed(websocket: WebSocket, settings: Settings) -> bool:
    origin = websocket.headers.get("origin")
    if origin is None:
        return True
    host = websocket.headers.get("host", "")
    local = websocket.scope.get("server")
    return host_allowed(host, local[0] if local else None, settings) and edge_origin_allowed(
        origin, host, settings
    )


CLOSE_NO_SUCH_RUN = 4404


@router.websocket("/api/runs/{run_id}/stream")
async def stream(websocket: WebSocket, run_id: str) -> None:
    app = websocket.app
    settings: Settings = app.state.settings
    store: RunStore = app.state.store
    pacer: Pacer = app.state.pacer
    workers: Workers = app.state.workers
    if not origin_allowed(websocket, settings):
        await websocket.close(code=1008)  # before accept: the handshake answers 403
        return
    try:
        if not _RUN_ID.match(run_id):
            raise RunNotFound(run_id)
        run = store.get(run_id)
    except RunNotFound:
        # Accept, then close with 4404: a browser sees close codes, not handshake statuses.
        await websocket.accept()
        await websocket.send_json(
            {"type": "error", "detail": "no such run (it may have been evicted)"}
        )
        await websocket.close(code=CLOSE_NO_SUCH_RUN, reason="no such run")
        return
    await websocket.accept()
    await StreamSession(websocket, run, pacer, settings, workers).serve()
