"""Sign in, sign out, and the interface language."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from catalog.crud import add_event
from catalog.models import EventType
from web.deps import AnyViewer, DbSession, render, secure_cookies, settings_of
from web.security import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    SESSION_HOURS,
    authenticate,
    end_session,
    new_csrf_token,
    start_session,
)
from web.throttle import SignInThrottle

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
    """Cookies are Secure on HTTPS (the scheme a trusted proxy forwarded counts) or always
    when the setting says so."""
    return secure_cookies(request)


def _throttle(request: Request) -> SignInThrottle:
    found: SignInThrottle | None = getattr(request.app.state, "sign_in_throttle", None)
    if found is None:
        web = settings_of(request).web
        found = SignInThrottle(
            free=web.login_free_attempts, cap=web.login_max_lockout, slots=web.login_hash_slots
        )
        request.app.state.sign_in_throttle = found
    return found


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
    throttle = _throttle(request)
    ip = _client(request)
    keys = [f"account:{username.strip().casefold()}", f"ip:{ip}"]
    wait = throttle.wait(keys)
    if wait > 0:
        return _too_many(request, next, wait)
    if not throttle.slots.acquire(timeout=10):  # every hashing slot busy: refuse, do not queue forever
        return render(
            request, "login.html", status_code=503, next=_local(next), error=False,
            message="busy: too many sign-ins at once, try again in a moment",
        )  # fmt: skip
    try:
        user = authenticate(db, name=username, password=password)
    finally:
        throttle.slots.release()
    if user is None:
        add_event(db, type=EventType.login, agent=username[:64], outcome="failure", ip=ip)
        locked = throttle.failed(keys)
        if locked:
            add_event(
                db, type=EventType.lockout, agent=username[:64], outcome="warning", ip=ip, seconds=locked
            )
            return _too_many(request, next, locked)
        return render(request, "login.html", status_code=401, next=_local(next), error=True)
    throttle.succeeded(keys[:1])
    end_session(db, request.cookies.get(SESSION_COOKIE))
    token, _row = start_session(db, user)
    add_event(db, type=EventType.login, agent=user.name, ip=_client(request))
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
        add_event(db, type=EventType.logout, agent=viewer.name)
    end_session(db, request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/lang/{code}")
def set_language(request: Request, code: str, back: str = "/") -> Response:
    """Switch the interface language (a cookie) and go back."""
    response = RedirectResponse(_local(back), status_code=303)
    response.set_cookie(
        "lang", "en" if code == "en" else "zh", max_age=365 * 86400, samesite="lax", secure=_secure(request)
    )
    return response


def _too_many(request: Request, next: str, wait: float) -> Response:
    seconds = max(1, round(wait))
    response = render(
        request, "login.html", status_code=429, next=_local(next), error=False,
        message=f"too many failed sign-ins: wait {seconds} s and try again",
    )  # fmt: skip
    response.headers["Retry-After"] = str(seconds)
    return response


def _client(request: Request) -> str:
    return request.client.host if request.client else ""
