"""The page: the Jinja2 template, our static ES modules, and Plotly.js from the installed
``plotly`` package (never a CDN, so the page works on a network with no internet)."""

from __future__ import annotations

from pathlib import Path

import plotly
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from app.settings import Settings

PLOTLY_JS = Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"


def install(app: FastAPI, settings: Settings) -> None:
    """Add ``GET /``, ``/static/*`` and ``/vendor/plotly.min.js`` to ``app``."""
    templates = Jinja2Templates(directory=str(settings.templates_dir))
    router = APIRouter(include_in_schema=False)

    @router.get("/", response_class=HTMLResponse)
    def index(request: Request) -> HTMLResponse:
        return templates.TemplateResponse(request, "index.html", {"preset": settings.preset})

    @router.get("/vendor/plotly.min.js")
    def plotly_js() -> FileResponse:
        return FileResponse(
            PLOTLY_JS,
            media_type="text/javascript",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    app.include_router(router)
    app.mount("/static", StaticFiles(directory=str(settings.static_dir)), name="static")
