"""The page: the Jinja2 template, our static ES modules, and Plotly.js served from this
server (never a CDN, so the page works on a network with no internet).

Static files and Plotly.js are compressed once (app/static_assets.py) and sent with
``Content-Encoding`` when the browser accepts it, ``Vary: Accept-Encoding`` and validators
(``ETag``, ``Last-Modified``; ``304`` on ``If-None-Match``)."""

from __future__ import annotations

import functools
import threading
from pathlib import Path

import plotly
from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates

from app.settings import Settings
from app.static_assets import AssetStore, choose_encoding, default_cache_dir, not_modified

# Plotly.js comes from the installed plotly package (the project's fixed rule: never a CDN,
# never a copy of our own), compressed once by app/static_assets.py.
PLOTLY_JS = Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"
# Our modules change with a deploy under the same names: revalidate (a 304 is a few bytes).
# Plotly.js changes only with the plotly package: a day without asking.
CACHE_STATIC = "no-cache"
CACHE_VENDOR = "public, max-age=86400"


def asset_response(store: AssetStore, name: str, request: Request, cache: str) -> Response:
    """The asset ``name`` as this request may take it: 404, 304, or the bytes."""
    asset = store.get(name)
    if asset is None:
        raise HTTPException(status_code=404, detail="Not Found")
    encoding = choose_encoding(asset, request.headers.get("accept-encoding"))
    headers = {
        "ETag": asset.etag(encoding),
        "Last-Modified": asset.last_modified,
        "Cache-Control": cache,
        "Vary": "Accept-Encoding",
    }
    if not_modified(
        asset, request.headers.get("if-none-match"), request.headers.get("if-modified-since")
    ):
        return Response(status_code=304, headers=headers)
    body = asset.encodings[encoding]
    if encoding != "identity":
        headers["Content-Encoding"] = encoding
    headers["Content-Length"] = str(len(body))
    return Response(
        content=b"" if request.method == "HEAD" else body,
        media_type=asset.media_type,
        headers=headers,
    )


@functools.cache
def asset_store(static_dir: Path) -> AssetStore:
    """One store per static directory and process (tests build many apps: compress once).
    Everything is compressed now, off the event loop: the first student should not wait."""
    store = AssetStore(
        roots={"static": static_dir},
        files={"vendor/plotly.min.js": PLOTLY_JS},
        cache_dir=default_cache_dir(),
    )
    threading.Thread(target=store.warm, name="assets-warm", daemon=True).start()
    return store


def install(app: FastAPI, settings: Settings) -> None:
    """Add ``GET /``, ``/static/*`` and ``/vendor/plotly.min.js`` to ``app``."""
    templates = Jinja2Templates(directory=str(settings.templates_dir))
    store = asset_store(settings.static_dir)
    app.state.assets = store
    router = APIRouter(include_in_schema=False)
    # Every module, preloaded by the page: fetched at once, not import level by import level.
    modules = sorted(p.name for p in (settings.static_dir / "js").glob("*.js"))

    @router.get("/", response_class=HTMLResponse)
    def index(request: Request) -> HTMLResponse:
        context = {"preset": settings.preset, "modules": modules}
        return templates.TemplateResponse(request, "index.html", context)

    # Plain `def`: a first read / compression runs in the thread pool, not on the loop.
    @router.api_route("/vendor/plotly.min.js", methods=["GET", "HEAD"])
    def plotly_js(request: Request) -> Response:
        return asset_response(store, "vendor/plotly.min.js", request, CACHE_VENDOR)

    @router.api_route("/static/{path:path}", methods=["GET", "HEAD"])
    def static(path: str, request: Request) -> Response:
        return asset_response(store, f"static/{path}", request, CACHE_STATIC)

    app.include_router(router)
