"""Error handlers: every 4xx body is plain JSON that never echoes the input back.

FastAPI's default 422 includes the rejected ``input``; for a body carrying ``NaN`` that
value cannot be encoded as strict JSON and the handler itself fails with a 500
(reliability.md, pitfall 1). These handlers keep only ``loc``, ``msg`` and ``type``, and cut
long location keys (an unknown field's name is user text).
"""

from __future__ import annotations

import sys
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import Match

from app.runs.config import ConfigError
from app.runs.run import RunDiverged
from app.runs.store import RunNotFound, StoreFull

MAX_LOC_TEXT = 64
MAX_MSG = 300
MAX_ISSUES = 20  # a body with 50,000 unknown keys answered 4.5 MB of errors; now ~2 KB


def _clean_loc(loc: Any) -> list[str | int]:
    out: list[str | int] = []
    for part in loc if isinstance(loc, list | tuple) else [loc]:
        if isinstance(part, int) and not isinstance(part, bool):
            out.append(part)
        else:
            text = str(part)
            out.append(text if len(text) <= MAX_LOC_TEXT else text[:MAX_LOC_TEXT] + "…")
    return out


def issue(loc: Any, msg: str, kind: str) -> dict[str, Any]:
    return {"loc": _clean_loc(loc), "msg": str(msg)[:MAX_MSG], "type": str(kind)}


def validation_issues(errors: Any) -> list[dict[str, Any]]:
    """pydantic / FastAPI error dicts reduced to loc, msg and type; at most
    :data:`MAX_ISSUES` of them, then one that says how many were left out."""
    errors = list(errors)
    shown = [
        issue(e.get("loc", ()), e.get("msg", "invalid"), e.get("type", "value_error"))
        for e in errors[:MAX_ISSUES]
    ]
    if len(errors) > MAX_ISSUES:
        left = len(errors) - MAX_ISSUES
        shown.append(
            issue(("body",), f"{left} more problems not shown (first {MAX_ISSUES} listed)", "more")
        )
    return shown


def unprocessable(issues: list[dict[str, Any]]) -> JSONResponse:
    return JSONResponse({"detail": issues}, status_code=422)


def config_error(e: ConfigError, prefix: tuple[str, ...] = ("body",)) -> JSONResponse:
    return unprocessable([issue((*prefix, *e.loc), e.msg, "value_error")])


async def _on_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return unprocessable(validation_issues(exc.errors()))


async def _on_config(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ConfigError)
    return config_error(exc)


async def _on_not_found(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": "no such run (it may have been evicted)"}, status_code=404)


async def _on_full(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StoreFull)
    return JSONResponse(
        {"detail": str(exc), "reason": exc.reason},
        status_code=429,
        headers={"Retry-After": str(exc.retry_after)},
    )


async def _on_diverged(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=409)


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 400:  # FastAPI's "error parsing the body": say what was wrong
        return unprocessable([_unparsable(exc.__cause__)])
    headers = exc.headers
    if exc.status_code == 405:  # Starlette lists the first matching route's methods only
        headers = {"Allow": ", ".join(_allowed_methods(request))}
    detail = exc.detail if isinstance(exc.detail, str) else "error"
    return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=headers)


_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _unparsable(cause: BaseException | None) -> dict[str, Any]:
    """What made ``json.loads`` fail on a body that is not malformed JSON text."""
    if isinstance(cause, RecursionError):
        msg = "the JSON is nested too deeply (arrays or objects inside each other)"
        return issue(("body",), msg, "json_too_deep")
    if isinstance(cause, ValueError) and "digits" in str(cause):
        msg = f"a number in the body has more than {sys.get_int_max_str_digits()} digits"
        return issue(("body",), msg, "json_number_too_long")
    if isinstance(cause, UnicodeDecodeError):
        return issue(("body",), "the body is not UTF-8 text", "json_invalid")
    return issue(("body",), "the body could not be read as JSON", "json_invalid")


def _allowed_methods(request: Request) -> list[str]:
    """The methods some route takes at this path: each is tried against the router as a
    request would be (routes may sit in included routers, so their lists are not flat)."""
    return [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] == Match.FULL
            for route in request.app.routes
        )
    ]


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(ConfigError, _on_config)
    app.add_exception_handler(RunNotFound, _on_not_found)
    app.add_exception_handler(StoreFull, _on_full)
    app.add_exception_handler(RunDiverged, _on_diverged)
    app.add_exception_handler(HTTPException, _on_http)
