"""Every route but login, static files and signed object links needs a signed-in user with
the right role; every state-changing request needs the CSRF token."""

from __future__ import annotations

import re

from fastapi.routing import APIRoute
from sqlmodel import Session, select

from catalog.db import get_engine
from catalog.models import Event, WebSession
from configs import get_settings
from tests.web.conftest import PASSWORD, Browser, Seeded
from web.app import create_app

PUBLIC = {"/login", "/logout", "/healthz", "/lang/{code}", "/objects/{key:path}",
          # machine endpoints with their own access checks (see test_policy.py)
          "/oai", "/oai/schemas/lantai-dat.xsd", "/iiif/image/{identifier}",
          "/iiif/image/{identifier}/info.json", "/iiif/image/{identifier}/{region}/{size}/{rotation}/{name}",
          "/iiif/manifest/{item_id}", "/iiif/search/{item_id}", "/iiif/search1/{item_id}",
          "/partner/requests", "/partner/requests/{request_id}"}  # fmt: skip


def _routes(routes: list) -> list[APIRoute]:  # type: ignore[type-arg]
    """Every endpoint, including those of included routers."""
    out: list[APIRoute] = []
    for r in routes:
        if isinstance(r, APIRoute):
            out.append(r)
        elif hasattr(r, "original_router"):
            out += _routes(r.original_router.routes)
    return out


def _concrete(path: str, seeded: Seeded) -> str:
    values = {
        "item_id": seeded.scan,
        "segment_id": seeded.segments[0],
        "transcript_id": seeded.transcript,
        "page_id": seeded.page,
        "page_no": 1,
        "line": 0,
        "revision_id": 1,
        "fmt": "txt",
    }
    return re.sub(r"{(\w+)(:\w+)?}", lambda m: str(values.get(m[1], 1)), path)


def test_every_staff_route_requires_login(client: Browser, seeded: Seeded) -> None:
    routes = [
        r for r in _routes(create_app().routes) if r.path not in PUBLIC and not r.path.startswith("/public/")
    ]
    assert len(routes) >= 15
    for route in routes:
        url = _concrete(route.path, seeded)
        for method in route.methods:
            r = client.request(method, url, follow_redirects=False, json={}, headers={"X-CSRF-Token": "x"})
            if method != "GET":  # refused by the CSRF check (no session token) or the login check
                assert r.status_code in (401, 403, 303), (method, url, r.status_code)
            elif url.startswith("/api/"):
                assert r.status_code == 401, (method, url, r.status_code)
            else:
                assert r.status_code in (303, 403), (method, url, r.status_code)
                if r.status_code == 303:
                    assert r.headers["location"].startswith("/login?next="), (method, url)


def test_login_logout_and_audit(client: Browser, seeded: Seeded) -> None:
    form = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)[1]  # type: ignore[index]
    bad = client.post("/login", data={"username": "ed", "password": "nope-nope", "csrf_token": token})
    assert bad.status_code == 401 and "不正确" in bad.text
    no_csrf = client.post("/login", data={"username": "ed", "password": PASSWORD})
    assert no_csrf.status_code == 403
    client.login("ed")
    assert client.get("/review").status_code == 200
    assert "httponly" in str(client.cookies.jar).lower() or client.cookies.get("lantai_session")
    with Session(get_engine(get_settings().db_url)) as s:
        assert s.exec(select(WebSession)).first() is not None
        events = [(e.type, e.agent, e.outcome) for e in s.exec(select(Event).where(Event.type == "login"))]
    assert ("login", "ed", "failure") in events and ("login", "ed", "success") in events
    # logout needs the token too, and then the session is gone server-side
    assert client.post("/logout", data={}, follow_redirects=False).status_code == 403
    r = client.post("/logout", data={"csrf_token": client.csrf}, follow_redirects=False)
    assert r.status_code == 303
    assert client.get("/review", follow_redirects=False).status_code == 303
    with Session(get_engine(get_settings().db_url)) as s:
        assert s.exec(select(WebSession)).first() is None


def test_stolen_cookie_after_logout_is_useless(clients: dict[str, Browser]) -> None:
    ed = clients["ed"]
    cookie = ed.cookies.get("lantai_session")
    ed.post("/logout", data={"csrf_token": ed.csrf})
    thief = Browser(ed.app)
    thief.cookies.set("lantai_session", cookie or "")
    assert thief.get("/review", follow_redirects=False).status_code == 303


def test_open_redirect_is_refused(client: Browser) -> None:
    form = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)[1]  # type: ignore[index]
    r = client.post(
        "/login",
        data={"username": "ed", "password": PASSWORD, "csrf_token": token, "next": "//evil.example/x"},
        follow_redirects=False,
    )
    assert r.headers["location"] == "/"


def test_roles(clients: dict[str, Browser], seeded: Seeded) -> None:
    seg = seeded.segments[0]
    body = {"version": 0, "text": "改"}
    # collectors and operators read, but do not edit
    for name in ("col", "op"):
        assert clients[name].api("PUT", f"/api/segments/{seg}", body).status_code == 403
        assert (
            clients[name]
            .post(
                f"/items/{seeded.scan}/status", data={"action": "approve", "csrf_token": clients[name].csrf}
            )
            .status_code
            == 403
        )
    # not-open items: hidden from collectors, visible to editors
    assert clients["col"].get(f"/items/{seeded.closed}").status_code == 403
    assert clients["ed"].get(f"/items/{seeded.closed}").status_code == 200
    assert clients["col"].api("GET", "/api/search?q=水库").json()["hits"] == []
    assert {h["item_id"] for h in clients["ed"].api("GET", "/api/search?q=水库").json()["hits"]} == {
        seeded.closed
    }
    assert "内部" not in clients["col"].get("/search?q=水库").text


def test_csrf_is_required_for_api_changes(clients: dict[str, Browser], seeded: Seeded) -> None:
    ed = clients["ed"]
    url = f"/api/segments/{seeded.segments[0]}"
    assert ed.put(url, json={"version": 0, "text": "x"}).status_code == 403
    assert (
        ed.put(url, json={"version": 0, "text": "x"}, headers={"X-CSRF-Token": "forged"}).status_code == 403
    )
    # another user's token is not this session's token
    assert (
        ed.put(
            url, json={"version": 0, "text": "x"}, headers={"X-CSRF-Token": clients["eve"].csrf}
        ).status_code
        == 403
    )
    assert ed.api("PUT", url, {"version": 0, "text": "x"}).status_code == 200


def test_security_headers(clients: dict[str, Browser], seeded: Seeded) -> None:
    r = clients["ed"].get(f"/items/{seeded.recording}/recording")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert r.headers["x-frame-options"] == "DENY"
