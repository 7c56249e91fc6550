"""``/docs`` (Swagger UI) and ``/redoc`` served offline: their scripts, styles and icon
come from the ``fastapi-offline`` package installed with the project, never a CDN, so the
API documentation works on a school network without internet.

FastAPI's own pages start Swagger UI with an inline ``<script>``, which the page's
Content-Security-Policy (``script-src 'self'``, :mod:`app.api.edge`) forbids; here the
same start-up code is a small script file served from this server.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

ASSETS_DIR = Path(fastapi_offline.__file__).resolve().parent / "static"
ASSETS_URL = "/docs-assets"

SWAGGER_INIT = """window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
  // "Try it out": the server wants this type on every state-changing request, body or not.
  requestInterceptor: (req) => {
    if (req.method !== "GET" && !req.headers["Content-Type"]) {
      req.headers["Content-Type"] = "application/json";
    }
    return req;
  },
});
"""

SWAGGER_HTML = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>backprop-viz API - Swagger UI</title>
<link rel="stylesheet" href="{ASSETS_URL}/swagger-ui.css">
<link rel="icon" href="{ASSETS_URL}/favicon.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{ASSETS_URL}/swagger-ui-bundle.js"></script>
<script src="{ASSETS_URL}/swagger-init.js"></script>
</body>
</html>
"""

REDOC_HTML = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>backprop-viz API - ReDoc</title>
<link rel="icon" href="{ASSETS_URL}/favicon.png">
</head>
<body>
<noscript>ReDoc needs JavaScript.</noscript>
<redoc spec-url="/openapi.json"></redoc>
<script src="{ASSETS_URL}/redoc.standalone.js"></script>
</body>
</html>
"""

_CACHE = {"Cache-Control": "public, max-age=86400"}


def install(app: FastAPI) -> None:
    """Add ``GET /docs``, ``/redoc`` and their assets under ``/docs-assets/``.

    Build the app with ``docs_url=None, redoc_url=None`` so FastAPI's CDN pages are off.
    """
    router = APIRouter(include_in_schema=False)

    @router.get("/docs", response_class=HTMLResponse)
    def swagger_ui() -> HTMLResponse:
        return HTMLResponse(SWAGGER_HTML)

    @router.get("/redoc", response_class=HTMLResponse)
    def redoc() -> HTMLResponse:
        return HTMLResponse(REDOC_HTML)

    @router.get(f"{ASSETS_URL}/swagger-init.js")
    def swagger_init() -> Response:
        return Response(SWAGGER_INIT, media_type="text/javascript", headers=_CACHE)

    app.include_router(router)
    app.mount(ASSETS_URL, StaticFiles(directory=str(ASSETS_DIR)), name="docs-assets")
