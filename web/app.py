"""The FastAPI application factory."""

from __future__ import annotations

from fastapi import FastAPI

from configs import Settings, get_settings
from web.routes import objects


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; settings are read here, never at import time."""
    settings = settings or get_settings()
    app = FastAPI(title="Lantai 兰台", docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.include_router(objects.router)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
