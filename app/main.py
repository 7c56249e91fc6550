"""Assemble the FastAPI application: settings, routers, static files. Nothing else lives here."""

from __future__ import annotations

from fastapi import FastAPI

from app.settings import Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app. ``uvicorn app.main:create_app --factory`` calls this with no arguments."""
    settings = settings or get_settings()
    app = FastAPI(title="backprop-viz", version="0.1.0")
    app.state.settings = settings

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
