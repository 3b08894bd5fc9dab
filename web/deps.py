"""Request dependencies: the catalog session, who is asking, role checks, CSRF, templates."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Annotated, Any

from annotated_types import Ge, Le
from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader
from sqlmodel import Session

from catalog.db import get_engine
from catalog.models import Role
from catalog.review.access import sees_restricted
from catalog.review.editing import Editor
from configs import Settings
from configs.errors import LantaiError
from storage import ObjectStore, open_store
from web.i18n import label
from web.security import CSRF_COOKIE, SESSION_COOKIE, load_session, tokens_match

TEMPLATES = Path(__file__).with_name("templates")
# Every id or count a client sends: catalog ids are 64-bit integers, and a browser's numbers
# are exact only up to 2**53. A larger number names nothing (a 404 for a path id, a 422
# elsewhere) and never reaches the database, whose integer would overflow (a 500).
MAX_INT = 2**53
Int = Annotated[int, Ge(0), Le(MAX_INT)]
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# machine-to-machine endpoints that act on no session: OAI-PMH (read-only, POST allowed by
# the protocol) and the partner archives' API (each request signed with the partner's key)
CSRF_EXEMPT = ("/oai", "/partner/")


class LoginRequired(LantaiError):
    """No valid session: pages redirect to /login, the API answers 401."""

    http_status = 401

    def __init__(self, message: str = "sign in first") -> None:
        super().__init__(message)


class Forbidden(LantaiError):
    """The signed-in user's role may not do this."""

    http_status = 403
    title_key = "forbidden"


class CsrfFailed(LantaiError):
    """A form that is stale or came from another site (CSRF check)."""

    http_status = 403

    def __init__(
        self, message: str = "the form is stale or came from another site (CSRF check): reload and retry"
    ) -> None:
        super().__init__(message)


@dataclass
class Viewer:
    """Who is asking, as plain values (they outlive the request's database session)."""

    csrf: str
    lang: str = "zh"
    name: str = ""
    role: str = ""
    user_id: int | None = None

    @property
    def signed_in(self) -> bool:
        return self.user_id is not None

    @property
    def editor(self) -> Editor:
        return Editor(self.name, self.role)

    @property
    def can_edit(self) -> bool:
        return self.role in (Role.editor, Role.admin)

    @property
    def sees_restricted(self) -> bool:
        return sees_restricted(self.role)


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


_store_lock = threading.Lock()


def store_of(request: Request) -> ObjectStore:
    """The app's object store, connected once per app (for MinIO: one connection pool and
    one bucket check, not one per request or IIIF tile)."""
    state = request.app.state
    store: ObjectStore | None = getattr(state, "store", None)
    if store is None:
        with _store_lock:
            store = getattr(state, "store", None)
            if store is None:
                store = state.store = open_store(settings_of(request))
    return store


def secure_cookies(request: Request) -> bool:
    """Whether cookies set on this response are Secure: on HTTPS requests (the scheme of
    the connection, or the one a trusted proxy forwarded) and always when configured."""
    return request.url.scheme == "https" or settings_of(request).web.secure_cookies


def get_db(request: Request) -> Iterator[Session]:
    """One catalog session per request, committed when the route succeeds."""
    with Session(get_engine(settings_of(request).db_url), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


# "function" scope: the commit happens before the response is sent, so a client that gets
# 200 knows its change is stored, and its next request sees it (the default "request" scope
# commits after the response, which raced with the next save in bench/web_transcript.py).
DbSession = Annotated[Session, Depends(get_db, scope="function")]


def get_viewer(request: Request, db: DbSession) -> Viewer:
    lang = request.cookies.get("lang", "zh")
    lang = lang if lang in ("zh", "en") else "zh"
    found = load_session(db, request.cookies.get(SESSION_COOKIE))
    if found is None:
        viewer = Viewer(request.cookies.get(CSRF_COOKIE, ""), lang)
    else:
        row, user = found
        viewer = Viewer(row.csrf_token, lang, user.name, user.role, user.id)
    request.state.viewer = viewer
    return viewer


async def csrf_guard(request: Request, viewer: Annotated[Viewer, Depends(get_viewer)]) -> None:
    """Every POST/PUT/PATCH/DELETE carries the CSRF token (form field or X-CSRF-Token header)."""
    if request.method not in UNSAFE or request.url.path.startswith(CSRF_EXEMPT):
        return
    given = request.headers.get("x-csrf-token")
    if given is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        given = str((await request.form()).get("csrf_token", ""))
    if not tokens_match(viewer.csrf, given):
        raise CsrfFailed()


def require(*roles: str) -> Any:
    """A dependency: a signed-in user with one of ``roles`` (any role when none are named)."""

    def check(viewer: Annotated[Viewer, Depends(get_viewer)]) -> Viewer:
        if not viewer.signed_in:
            raise LoginRequired()
        if roles and viewer.role not in roles:
            raise Forbidden(f"this page needs the role {' or '.join(roles)}; you are {viewer.role}")
        return viewer

    return Depends(check)


Staff = Annotated[Viewer, require()]
EditorUser = Annotated[Viewer, require(Role.editor, Role.admin)]
Operator = Annotated[Viewer, require(Role.operator, Role.admin)]
Admin = Annotated[Viewer, require(Role.admin)]
AnyViewer = Annotated[Viewer, Depends(get_viewer)]


@cache
def templates() -> Jinja2Templates:
    """Templates with autoescaping on for every file: record text is never trusted."""
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True)
    return Jinja2Templates(env=env)


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render a template with the viewer, its CSRF token and the label function."""
    viewer: Viewer | None = getattr(request.state, "viewer", None)
    lang = viewer.lang if viewer else "zh"
    context |= {
        "viewer": viewer,
        "csrf": viewer.csrf if viewer else "",
        "lang": lang,
        "t": lambda key: label(key, lang),
    }
    return templates().TemplateResponse(request, name, context, status_code=status_code)
