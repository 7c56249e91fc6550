"""orjson responses, and the error responses each route declares in the OpenAPI."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import JSONResponse

from app.api.models import Detail, Refusal, ValidationDetail

OPTS = orjson.OPT_SERIALIZE_NUMPY


class OrjsonResponse(JSONResponse):
    """JSON encoded by orjson (NumPy arrays included); bytes are passed through."""

    def render(self, content: Any) -> bytes:
        if isinstance(content, bytes):
            return content
        return orjson.dumps(content, option=OPTS)


def json_bytes(body: bytes, status_code: int = 200) -> OrjsonResponse:
    return OrjsonResponse(body, status_code=status_code)


_DESCRIPTIONS = {
    404: "No such run (unknown id, deleted, or evicted after being idle)",
    409: "The run diverged (reset it, or rewind and lower the learning rate), or is busy "
    "with long work for more than 0.25 s (the message says what)",
    413: "Request body over max_body_bytes",
    422: "Invalid input: the field and, for a cap, its limit are named",
    429: "Too many live runs, too many for this client, or the memory budget is in use; "
    "see Retry-After. Its `reason` names the limit: server_full, client_runs, client_memory, "
    "server_memory, or client_requests (too many requests a second from one address)",
    503: "Too many slow requests (run builds, backprop) are waiting already; see Retry-After",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        model = {422: ValidationDetail, 429: Refusal}.get(code, Detail)
        entry: dict[str, Any] = {"model": model, "description": _DESCRIPTIONS[code]}
        if code in (429, 503):
            entry["headers"] = {
                "Retry-After": {
                    "description": "seconds until a run slot (or the work queue) is likely free",
                    "schema": {"type": "integer"},
                }
            }
        out[code] = entry
    return out
