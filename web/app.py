"""The FastAPI application factory: staff UI, JSON API, object links, static files."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from catalog.publish.partners import Relay
from configs import Settings, get_settings
from configs.errors import LantaiError
from web.deps import LoginRequired, csrf_guard, render
from web.routes import (
    auth,
    iiif,
    oai,
    objects,
    operations,
    pages,
    partners,
    projects,
    public,
    recordings,
    review,
    screening,
    search,
)

STATIC = Path(__file__).with_name("static")


def _csp(settings: Settings) -> str:
    """Scripts and styles from this site only; media and images also from the object store
    when presigned S3 URLs point elsewhere."""
    media = "'self' blob:"
    if settings.storage.backend == "minio":
        scheme = "https" if settings.storage.secure else "http"
        media += f" {scheme}://{settings.storage.endpoint}"
    return (
        f"default-src 'self'; script-src 'self'; style-src 'self'; img-src {media} data:; "
        f"media-src {media}; connect-src {media}; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    )


class CompressPages:
    """gzip for pages and JSON; object links (media with range requests) pass untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.gzip = GZipMiddleware(app, minimum_size=1024)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope["path"].startswith(("/objects/", "/static/")):
            await self.gzip(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or "application/json" in request.headers.get("accept", "")


def _error(request: Request, status: int, message: str, key: str = "error", **extra: object) -> Response:
    if _wants_json(request):
        return JSONResponse({"error": message, **extra}, status_code=status)
    return render(request, "error.html", status_code=status, message=message, title_key=key)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; settings are read here, never at import time."""
    settings = settings or get_settings()
    relay = Relay(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        relay.start()
        try:
            yield
        finally:
            relay.stop()

    app = FastAPI(
        lifespan=lifespan,
        title="Lantai 兰台",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        dependencies=[Depends(csrf_guard)],
    )
    app.state.settings = settings
    app.state.relay = relay  # 跨馆出证: forwards and refreshes copy requests in the background
    app.add_middleware(CompressPages)
    modules = (
        auth,
        review,
        recordings,
        pages,
        search,
        screening,
        projects,
        operations,
        public,
        objects,
        oai,
        partners,
        iiif,
    )
    for module in modules:
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    csp = _csp(settings)

    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", csp)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        if _wants_json(request):
            return JSONResponse({"error": "sign in first"}, status_code=401)
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        from urllib.parse import quote

        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        """A path that cannot name a record (``/items/99999999999999999999``) is not found;
        other bad input keeps FastAPI's 422 with the field that is wrong."""
        errors = exc.errors()
        if errors and all(e.get("loc", ("",))[0] == "path" for e in errors):
            return _error(request, 404, "no such record", "not_found")
        return await request_validation_exception_handler(request, exc)

    @app.exception_handler(UnicodeError)
    async def not_unicode(request: Request, exc: UnicodeError) -> Response:
        """Text that is not Unicode (a lone surrogate such as "\\ud800" in JSON) cannot be
        stored or shown: the client's error, refused before anything is kept."""
        return _error(request, 422, "the text is not valid Unicode (a lone surrogate or undecodable bytes)")

    @app.exception_handler(LantaiError)
    async def lantai_error(request: Request, exc: LantaiError) -> Response:
        """Every Lantai error carries its HTTP status (docs/errors.md lists them)."""
        return _error(request, exc.http_status, str(exc), exc.title_key, **exc.extra())

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
