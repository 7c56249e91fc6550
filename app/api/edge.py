"""ASGI middleware at the edge: which Host and Origin the server answers, what a
state-changing request must carry, and the security headers of every answer.

* **Host** (DNS rebinding): a request reached on a loopback address may name only a
  loopback host (``localhost``, ``127.0.0.1``, ``[::1]``, any port), as Jupyter does; one
  reached on a network address (the Docker image, a teacher's machine on the school LAN)
  may also name any IP address. Names in ``BPV_ALLOWED_HOSTS`` are always allowed (``*``
  allows every Host). A rebinding page always sends its own domain name as Host, so it is
  refused (400) by default. WebSocket handshakes are checked too (refused before accept).
* **State-changing requests** (POST, PUT, PATCH, DELETE) need ``Content-Type:
  application/json`` (415 otherwise, even with no body) and, when they carry an
  ``Origin``, an allowed one (403). A cross-site form or a ``fetch(..., {mode: 'no-cors'})``
  cannot send that content type, so it can make or change nothing; scripts without an
  ``Origin`` (curl) work when they send the JSON content type.
* **Origin** is allowed when it is this server's own origin (same host and port as the
  request's allowed Host) or is listed in ``BPV_ALLOWED_ORIGINS``.
* **Headers**: a Content-Security-Policy (``script-src 'self'``, ``frame-ancestors
  'none'``), ``X-Frame-Options: DENY``, ``Referrer-Policy: no-referrer`` and
  ``X-Content-Type-Options: nosniff`` on every answer; redirects carry a path, never the
  request's Host.
"""

from __future__ import annotations

import ipaddress
import urllib.parse
from typing import Any

from fastapi import FastAPI
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.asgi_answer import send_json
from app.settings import Settings

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# Plotly and Swagger UI set inline styles (style attributes), hence 'unsafe-inline' for
# styles only; scripts come from this server alone. ReDoc renders in a blob: worker.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
    "worker-src 'self' blob:; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
]


def split_host(value: str) -> tuple[str, str]:
    """``"Example.org:8000"`` → ``("example.org", "8000")``; ``"[::1]:80"`` → ``("::1", "80")``.

    An unparsable value gives ``("", "")``.
    """
    value = value.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return "", ""
        name, rest = value[1:end], value[end + 1 :]
        if rest and not (rest.startswith(":") and rest[1:].isdigit()):
            return "", ""
        return name, rest[1:]
    name, sep, port = value.rpartition(":")
    if not sep:
        name, port = value, ""
    elif not port.isdigit():
        return "", ""
    return name.rstrip("."), port


def _ip(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        return None


def is_loopback(name: str) -> bool:
    ip = _ip(name)
    return name == "localhost" or (ip is not None and ip.is_loopback)


def host_allowed(host_header: str, local_address: str | None, settings: Settings) -> bool:
    """Whether a request whose ``Host`` is ``host_header``, reached on the server's
    ``local_address`` (``scope["server"][0]``), is answered."""
    allowed = {h.lower().rstrip(".") for h in settings.allowed_hosts}
    if "*" in allowed:
        return True
    name, _ = split_host(host_header)
    if not name:
        return False
    if name in allowed or is_loopback(name):
        return True
    if local_address is not None and _ip(local_address) is None:
        # Not a socket: an app driven in-process (Starlette's TestClient names its server
        # "testserver"). Servers put the socket's IP address here, or nothing (Unix socket).
        return True
    # Reached on a network address: an IP address is what students type; a rebinding
    # attack needs a domain name, so IP addresses are safe to accept.
    reached_on_loopback = local_address is None or is_loopback(local_address)
    return not reached_on_loopback and _ip(name) is not None


def origin_allowed(origin: str, host_header: str, settings: Settings) -> bool:
    """Whether a browser ``Origin`` may use this server: listed in ``BPV_ALLOWED_ORIGINS``,
    or the very origin of this (already host-checked) request."""
    origin = origin.strip().rstrip("/").lower()
    if origin in {o.strip().rstrip("/").lower() for o in settings.allowed_origins}:
        return True
    parsed = urllib.parse.urlsplit(origin)
    if parsed.scheme not in ("http", "https") or not host_header:
        return False
    default_port = "80" if parsed.scheme == "http" else "443"
    o_name, o_port = split_host(parsed.netloc)
    h_name, h_port = split_host(host_header)
    return bool(o_name) and (o_name, o_port or default_port) == (h_name, h_port or default_port)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _local_address(scope: Scope) -> str | None:
    server = scope.get("server")
    return str(server[0]) if server else None


def _is_json(content_type: str | None) -> bool:
    if content_type is None:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json"


async def _answer(send: Send, status: int, detail: str) -> None:
    await send_json(send, status, {"detail": detail}, SECURITY_HEADERS)


HOST_REFUSED = (
    "this server does not answer to that Host: use localhost, 127.0.0.1 or the server's IP "
    "address, or ask the teacher to add the name to BPV_ALLOWED_HOSTS"
)
ORIGIN_REFUSED = (
    "requests from another site are refused: this Origin is not this server's own and is "
    "not in BPV_ALLOWED_ORIGINS"
)
NOT_JSON = (
    "state-changing requests (POST, PUT, PATCH, DELETE) need the header "
    "Content-Type: application/json, even with no body"
)


class EdgeMiddleware:
    """Host and Origin checks, the JSON content type of state-changing requests, security
    headers on every answer, and Host-free redirects (module docstring)."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        host = _header(scope, b"host") or ""
        if not host_allowed(host, _local_address(scope), self.settings):
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})  # handshake: 403
            else:
                await _answer(send, 400, HOST_REFUSED)
            return
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)  # app.api.stream checks its Origin
            return
        if scope["method"] in STATE_CHANGING and _routed(scope):
            if not _is_json(_header(scope, b"content-type")):
                await _answer(send, 415, NOT_JSON)
                return
            origin = _header(scope, b"origin")
            if origin is not None and not origin_allowed(origin, host, self.settings):
                await _answer(send, 403, ORIGIN_REFUSED)
                return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if k not in _SECURITY_NAMES and k != b"location"
                ]
                headers += SECURITY_HEADERS
                for k, v in message.get("headers", []):
                    if k == b"location":
                        headers.append((k, _path_only(v)))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


_SECURITY_NAMES = frozenset(name for name, _ in SECURITY_HEADERS)


def _routed(scope: Scope) -> bool:
    """Whether a route takes this method at this path (else the app answers 404 or 405)."""
    app = scope.get("app")
    routes = getattr(app, "routes", None)
    if routes is None:
        return True
    return any(route.matches(scope)[0] == Match.FULL for route in routes)


def document(app: FastAPI) -> None:
    """Add the edge's answers (400, 403, 415) to every state-changing operation of the
    OpenAPI document, so schema checkers and /docs see them."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        doc = build()
        for item in doc.get("paths", {}).values():
            for method, operation in item.items():
                if method.upper() in STATE_CHANGING:
                    responses = operation.setdefault("responses", {})
                    responses.setdefault("400", {"description": "Host not allowed"})
                    responses.setdefault("403", {"description": "Origin not allowed"})
                    responses.setdefault(
                        "415", {"description": "Content-Type is not application/json"}
                    )
        return doc

    app.openapi = openapi  # type: ignore[method-assign]


def _path_only(location: bytes) -> bytes:
    """An absolute redirect target cut to its path and query (Starlette's slash redirects
    build it from the request's Host); a leading ``//`` is collapsed so the result can
    never name another host."""
    parts = urllib.parse.urlsplit(location.decode("latin-1"))
    path = "/" + parts.path.lstrip("/")
    if parts.query:
        path += "?" + parts.query
    return path.encode("latin-1")
