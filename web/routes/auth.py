"""Sign in, sign out, and the interface language."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from catalog.crud import add_event
from web.deps import AnyViewer, DbSession, render
from web.security import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    SESSION_HOURS,
    authenticate,
    end_session,
    new_csrf_token,
    start_session,
)

router = APIRouter()


def _local(target: str | None) -> str:
    """Only same-site paths are followed after login (no open redirect)."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, viewer: AnyViewer, next: str = "/") -> Response:
    if viewer.signed_in:
        return RedirectResponse(_local(next), status_code=303)
    token = viewer.csrf or new_csrf_token()
    viewer.csrf = token
    response = render(request, "login.html", next=_local(next), error=False)
    response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="strict", secure=_secure(request))
    return response


@router.post("/login")
def login(
    request: Request,
    db: DbSession,
    viewer: AnyViewer,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=1024)],
    next: Annotated[str, Form()] = "/",
) -> Response:
    user = authenticate(db, name=username, password=password)
    if user is None:
        add_event(db, type="login", agent=username[:64], outcome="failure", ip=_client(request))
        return render(request, "login.html", status_code=401, next=_local(next), error=True)
    end_session(db, request.cookies.get(SESSION_COOKIE))
    token, _row = start_session(db, user)
    add_event(db, type="login", agent=user.name, ip=_client(request))
    response = RedirectResponse(_local(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=SESSION_HOURS * 3600,
        httponly=True,
        samesite="lax",
        secure=_secure(request),
    )
    response.delete_cookie(CSRF_COOKIE)
    return response


@router.post("/logout")
def logout(request: Request, db: DbSession, viewer: AnyViewer) -> Response:
    if viewer.signed_in:
        add_event(db, type="logout", agent=viewer.name)
    end_session(db, request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/lang/{code}")
def set_language(request: Request, code: str, back: str = "/") -> Response:
    response = RedirectResponse(_local(back), status_code=303)
    response.set_cookie("lang", "en" if code == "en" else "zh", max_age=365 * 86400, samesite="lax")
    return response


def _client(request: Request) -> str:
    return request.client.host if request.client else ""
