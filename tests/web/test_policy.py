"""One access policy for every route: a route × role matrix built from the app's own route
table against the declared policy below (a new route without an entry fails), and edits of
an open item that never publish a new personal number."""

from __future__ import annotations

import re

import pytest
from sqlmodel import Session, select

from catalog.db import get_engine
from catalog.models import Event, Flag, Item, Revision, Segment
from configs import get_settings
from tests.web.conftest import Browser, Seeded
from tests.web.test_access import _routes
from web.app import create_app

STAFF = frozenset({"collector", "editor", "operator", "admin"})
SEES_CONTROLLED = frozenset({"editor", "operator", "admin"})
EDITORS = frozenset({"editor", "admin"})
OPERATORS = frozenset({"operator", "admin"})
EVERYONE = frozenset({"anonymous"}) | STAFF
NOBODY: frozenset[str] = frozenset()  # e.g. the public pages of a controlled item

# Who may use each route on a controlled (控制) item. "anonymous" is a visitor without an
# account; a route not named here fails the test.
POLICY: dict[tuple[str, str], frozenset[str]] = {
    ("GET", "/login"): EVERYONE,
    ("POST", "/login"): EVERYONE,
    ("POST", "/logout"): EVERYONE,
    ("GET", "/lang/{code}"): EVERYONE,
    ("GET", "/healthz"): EVERYONE,
    ("GET", "/"): STAFF,
    ("GET", "/review"): STAFF,
    ("GET", "/items/{item_id}"): SEES_CONTROLLED,
    ("POST", "/items/{item_id}/describe"): EDITORS,
    ("POST", "/items/{item_id}/status"): EDITORS,
    ("GET", "/items/{item_id}/history"): SEES_CONTROLLED,
    ("POST", "/revisions/{revision_id}/restore"): EDITORS,
    ("GET", "/api/items/{item_id}"): SEES_CONTROLLED,
    ("PATCH", "/api/items/{item_id}"): EDITORS,
    ("GET", "/items/{item_id}/export/{fmt}"): SEES_CONTROLLED,
    ("GET", "/collections/{code}/export/{fmt}"): EDITORS,
    ("GET", "/items/{item_id}/recording"): SEES_CONTROLLED,
    ("PUT", "/api/segments/{segment_id}"): EDITORS,
    ("POST", "/api/segments/{segment_id}/split"): EDITORS,
    ("POST", "/api/segments/{segment_id}/merge"): EDITORS,
    ("POST", "/api/transcripts/{transcript_id}/speakers"): EDITORS,
    ("GET", "/api/items/{item_id}/segments"): SEES_CONTROLLED,
    ("GET", "/items/{item_id}/pages/{page_no}"): SEES_CONTROLLED,
    ("PUT", "/api/pages/{page_id}/lines/{line}"): EDITORS,
    ("GET", "/search"): STAFF,
    ("GET", "/api/search"): STAFF,
    ("GET", "/screening"): EDITORS,
    ("GET", "/items/{item_id}/screening"): EDITORS,
    ("POST", "/flags/{flag_id}"): EDITORS,
    ("POST", "/items/{item_id}/access"): EDITORS,
    ("GET", "/requests"): EDITORS,
    ("POST", "/requests/{request_id}"): EDITORS,
    ("GET", "/projects"): STAFF,
    ("POST", "/projects"): EDITORS,
    ("GET", "/projects/{project_id}"): STAFF,
    ("POST", "/projects/{project_id}/excerpts/{excerpt_id}"): EDITORS,
    ("GET", "/projects/{project_id}/export/{fmt}"): STAFF,
    ("POST", "/api/excerpts"): EDITORS,
    ("GET", "/dashboard"): OPERATORS,
    ("POST", "/dashboard/retry"): OPERATORS,
    ("GET", "/metrics"): OPERATORS,
    ("GET", "/public/"): EVERYONE,
    ("GET", "/public/search"): EVERYONE,
    ("GET", "/public/items/{item_id}"): NOBODY,
    ("GET", "/public/items/{item_id}/text.txt"): NOBODY,
    ("POST", "/public/items/{item_id}/request"): NOBODY,
    ("GET", "/objects/{key:path}"): NOBODY,  # only with a valid signature, which nobody has here
    # machine endpoints with their own checks (tests/web/test_oai.py, test_iiif.py,
    # tests/flows/test_harvest.py): OAI-PMH shows open records only; IIIF what the viewer may
    # see; the partner API only signed requests of a known partner archive
    ("GET", "/oai"): EVERYONE,
    ("POST", "/oai"): EVERYONE,
    ("GET", "/oai/schemas/lantai-dat.xsd"): EVERYONE,
    ("GET", "/iiif/image/{identifier}"): EVERYONE,  # a redirect to info.json, nothing more
    ("GET", "/iiif/image/{identifier}/info.json"): SEES_CONTROLLED,
    ("GET", "/iiif/image/{identifier}/{region}/{size}/{rotation}/{name}"): SEES_CONTROLLED,
    ("GET", "/iiif/manifest/{item_id}"): SEES_CONTROLLED,
    ("GET", "/iiif/search/{item_id}"): SEES_CONTROLLED,  # search within what the viewer may see
    ("GET", "/iiif/search1/{item_id}"): SEES_CONTROLLED,
    ("POST", "/partner/requests"): NOBODY,
    ("GET", "/partner/requests/{request_id}"): NOBODY,
    # other archives' records (the union catalog) and copy requests forwarded to them
    ("GET", "/public/union/{record_id}"): EVERYONE,
    ("POST", "/public/union/{record_id}/request"): EVERYONE,
    ("GET", "/public/union/requests/{forwarded_id}"): EVERYONE,
}
NOT_RUN = {("POST", "/logout")}  # it would end the session the rest of the matrix uses
USERS = {"collector": "col", "editor": "ed", "operator": "op", "admin": "boss"}


def _url(path: str, seeded: Seeded) -> str:
    values = {
        "item_id": seeded.closed,  # the controlled item: the one roles differ on
        "segment_id": seeded.segments[0],
        "transcript_id": seeded.transcript,
        "page_id": seeded.page,
        "identifier": seeded.closed_page,  # the controlled item's page (IIIF)
        "region": "full",
        "size": "max",
        "rotation": "0",
        "name": "default.jpg",
        "page_no": 1,
        "line": 0,
        "fmt": "txt",
        "code": "ORAL",
        "key": "masters/cc/x.png",
    }
    url = re.sub(r"{(\w+)(:\w+)?}", lambda m: str(values.get(m[1], 1)), path)
    return url + ("?expires=4102444800&signature=forged" if path.startswith("/objects/") else "")


def _denied(status: int, location: str) -> bool:
    return status in (401, 403, 404) or (status == 303 and location.startswith("/login"))


def _refused(status: int, location: str) -> bool:
    """Refused for who the viewer is (a route that ran and found nothing answers 404)."""
    return status in (401, 403) or (status == 303 and location.startswith("/login"))


def test_every_route_has_a_policy_and_keeps_it(clients: dict[str, Browser], seeded: Seeded) -> None:
    declared = set(POLICY)
    actual = {(m, r.path) for r in _routes(create_app().routes) for m in r.methods}
    assert actual - declared == set(), "routes without a policy entry: declare who may use them"
    assert declared - actual == set(), "policy entries for routes that no longer exist"
    anonymous = Browser(create_app())
    anonymous.csrf = re.search(r'name="csrf_token" value="([^"]+)"', anonymous.get("/login").text)[1]  # type: ignore[index]
    browsers = {"anonymous": anonymous} | {role: clients[name] for role, name in USERS.items()}
    with Session(get_engine(get_settings().db_url)) as s:
        closed_title = s.get(Item, seeded.closed).title  # type: ignore[union-attr]
    for (method, path), allowed in sorted(POLICY.items()):
        if (method, path) in NOT_RUN:
            continue
        url = _url(path, seeded)
        for role, browser in browsers.items():
            if path == "/public/items/{item_id}/request":  # a complete form, so only access decides
                form = {"name": "访客", "contact": "visitor@example.org", "csrf_token": browser.csrf}
                r = browser.post(url, data=form, follow_redirects=False)
            else:
                r = browser.request(
                    method, url, json={}, headers={"X-CSRF-Token": browser.csrf}, follow_redirects=False
                )
            location = r.headers.get("location", "")
            assert r.status_code < 500, (method, url, role, r.status_code, r.text[:300])
            if role in allowed:
                assert not _refused(r.status_code, location), (
                    f"{role} was refused {method} {url}: {r.status_code}"
                )
            else:
                assert _denied(r.status_code, location), (
                    f"{role} was let through {method} {url}: {r.status_code}"
                )
                assert closed_title not in r.text, f"{method} {url} showed the controlled item to {role}"


NEW_ID = "44010619800101123" + "0"  # 440106198001011230: a valid resident ID number
NEW_PHONE = "13907551234"


def _public_shows(public: Browser, item_id: int, value: str) -> bool:
    page = public.get(f"/public/items/{item_id}").text
    text = public.get(f"/public/items/{item_id}/text.txt").text
    found = public.get(f"/public/search?q={value}").text.replace(f'value="{value}"', "")
    return value in page or value in text or value in found or f"/public/items/{item_id}" in found


@pytest.mark.parametrize("how", ["edit", "split", "restore", "speaker", "line", "description"])
def test_edits_of_an_open_item_never_publish_a_new_number(
    how: str, clients: dict[str, Browser], seeded: Seeded
) -> None:
    ed = clients["ed"]
    public = Browser(create_app())
    seg, item_id = seeded.segments[0], seeded.recording
    number = NEW_ID if how != "speaker" else NEW_PHONE
    text = f"我的身份证号码是 {number} 谢谢"
    if how == "edit":
        assert ed.api("PUT", f"/api/segments/{seg}", {"version": 0, "text": text}).status_code == 200
    elif how == "split":  # the number, split in two at the cut, is still one number to screening
        assert ed.api("PUT", f"/api/segments/{seg}", {"version": 0, "text": text}).status_code == 200
        r = ed.api("POST", f"/api/segments/{seg}/split", {"version": 1, "at": text.index(number) + 9})
        assert r.status_code == 200, r.text
    elif how == "restore":  # an edit with the number, undone, then restored
        assert ed.api("PUT", f"/api/segments/{seg}", {"version": 0, "text": text}).status_code == 200
        assert ed.api("PUT", f"/api/segments/{seg}", {"version": 1, "text": "没有号码"}).status_code == 200
        with Session(get_engine(get_settings().db_url)) as s:
            rev = s.exec(
                select(Revision).where(Revision.target == "segment", Revision.target_id == seg)
            ).all()
            with_number = next(r for r in rev if number in str(r.after.get("text", "")))
        r = ed.post(
            f"/revisions/{with_number.id}/restore", data={"csrf_token": ed.csrf}, follow_redirects=False
        )
        assert r.status_code in (200, 303), r.text
    elif how == "speaker":
        r = ed.api("PUT", f"/api/segments/{seg}", {"version": 0, "speaker": f"电话{number}"})
        assert r.status_code == 200, r.text
    elif how == "line":
        item_id = seeded.scan
        r = ed.api("PUT", f"/api/pages/{seeded.page}/lines/0",
                   {"version": 0, "base": "网络支付方式说明", "text": text})  # fmt: skip
        assert r.status_code == 200, r.text
    elif how == "description":
        with Session(get_engine(get_settings().db_url)) as s:
            version = s.get(Item, item_id).version  # type: ignore[union-attr]
        r = ed.api("PATCH", f"/api/items/{item_id}", {"version": version, "abstract": text})
        assert r.status_code == 200, r.text
    assert public.get(f"/public/items/{item_id}").status_code == 200  # still open
    assert not _public_shows(public, item_id, number), f"{how}: the new number is public"
    with Session(get_engine(get_settings().db_url)) as s:
        flags = s.exec(select(Flag).where(Flag.item_id == item_id, Flag.status == "open")).all()
        values = "".join(str(f.detail.get("value", "")).replace(" ", "") for f in flags)
        assert number in values  # (a split number is flagged as its two pieces)
        withheld = s.exec(select(Event).where(Event.item_id == item_id, Event.type == "withheld")).all()
        assert withheld, "the item goes back to open review with an event"
    queue = ed.get("/screening").text
    assert f"/items/{item_id}/screening" in queue
    if how == "split":
        with Session(get_engine(get_settings().db_url)) as s:
            assert len(s.exec(select(Segment).where(Segment.transcript_id == seeded.transcript)).all()) == 4
