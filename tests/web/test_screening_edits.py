"""Every way an editor changes text is screened, and an edit never un-redacts.

The edit routes are taken from the app's route table: a route that changes anything must
be declared here either as an edit of item text (then it is exercised: the edit brings a
new mobile number into the item, and the number must come back as an undecided flag and
stay off the public site) or as a route that carries no item text (with the reason). A new
route that is neither fails the test.

Then the findings of the screening review, each as its own regression test, through the
web app as an editor and a visitor see it: a number deleted from the text stays blacked
out on the page image until a reviewer decides; a speaker renamed to a number; a value
decided hidden in one field stays hidden in every other; a number split by a page break or
over three segments."""

from __future__ import annotations

import io
import itertools
import re
from collections.abc import Callable

import pytest
from PIL import Image
from sqlmodel import Session, col, select

from catalog.db import get_engine
from catalog.models import SCREENING_KINDS, Access, Flag, Item, Page, Segment
from catalog.review.openreview import ReviewRefused, decide_access, decide_flag
from catalog.search import reindex_item
from configs import get_settings
from flows.publish import public_copies as redact_item
from tests.web.conftest import ID_NUMBER, Browser, Seeded, screen_and_redact
from tests.web.test_access import _routes
from web.app import create_app

_serial = itertools.count(1)


def fresh_phone() -> str:
    """A mobile number that is valid for libphonenumber (China Mobile's 139 block) and
    appears nowhere else in the catalog."""
    return f"1390755{next(_serial):04d}"


def _db() -> Session:
    return Session(get_engine(get_settings().db_url))


def _digits(value: str) -> str:
    return "".join(ch for ch in value if ch.isdigit())


def _flags_for(item_id: int, number: str) -> list[Flag]:
    with _db() as s:
        rows = s.exec(select(Flag).where(Flag.item_id == item_id, col(Flag.kind).in_(SCREENING_KINDS))).all()
        return [f for f in rows if _digits(str(f.detail.get("value", ""))) == number]


def _pieces(item_id: int, number: str) -> list[Flag]:
    """The flags holding the pieces of a number that a page break or segment ends cut:
    one per page or segment, each with its piece as the value."""
    with _db() as s:
        rows = s.exec(select(Flag).where(Flag.item_id == item_id, col(Flag.kind).in_(SCREENING_KINDS))).all()
        pieces = [f for f in rows if _digits(str(f.detail.get("value", ""))) and
                  _digits(str(f.detail.get("value", ""))) in number]  # fmt: skip
        return sorted(pieces, key=lambda f: (f.page_no or 0, f.start or 0.0))


def _plant_segment(segment_id: int, text: str) -> None:
    """Text written straight into the catalog (as an import would), not screened yet."""
    with _db() as s:
        seg = s.get(Segment, segment_id)
        assert seg is not None
        seg.text = text
        s.add(seg)
        s.commit()


def _segments(ed: Browser, item_id: int) -> list[dict]:  # type: ignore[type-arg]
    return ed.api("GET", f"/api/items/{item_id}/segments").json()  # type: ignore[no-any-return]


def _item_version(ed: Browser, item_id: int) -> int:
    return int(ed.api("GET", f"/api/items/{item_id}").json()["version"])


def _ok(r) -> None:  # type: ignore[no-untyped-def]
    assert r.status_code in (200, 303), (r.request.url, r.status_code, r.text[:300])


# ----------------------------------------------------------------- each edit route


def _edit_line(ed: Browser, seeded: Seeded, phone: str) -> int:
    body = {"version": 0, "base": "账户余额", "text": f"账户余额 联系电话 {phone}"}
    r = ed.api("PUT", f"/api/pages/{seeded.page}/lines/2", body)
    _ok(r)
    return seeded.scan


def _edit_segment(ed: Browser, seeded: Seeded, phone: str) -> int:
    seg = seeded.segments[2]
    _ok(ed.api("PUT", f"/api/segments/{seg}", {"version": 0, "text": f"第三段 我的电话是{phone}"}))
    return seeded.recording


def _split(ed: Browser, seeded: Seeded, phone: str) -> int:
    seg = next(s for s in _segments(ed, seeded.recording) if s["text"].startswith("第三段"))
    _plant_segment(seg["id"], f"第三段 电话{phone} 谢谢大家")
    _ok(ed.api("POST", f"/api/segments/{seg['id']}/split", {"version": seg["version"], "at": 3}))
    return seeded.recording


def _merge(ed: Browser, seeded: Seeded, phone: str) -> int:
    first, second = _segments(ed, seeded.recording)[:2]
    _plant_segment(second["id"], f"补充 电话{phone}")
    body = {"version": first["version"], "next_version": second["version"]}
    _ok(ed.api("POST", f"/api/segments/{first['id']}/merge", body))
    return seeded.recording


def _rename_speaker(ed: Browser, seeded: Seeded, phone: str) -> int:
    r = ed.api("POST", f"/api/transcripts/{seeded.transcript}/speakers", {"old": "", "new": f"口述者{phone}"})
    _ok(r)
    assert r.json()["changed"] == 3
    return seeded.recording


def _describe(ed: Browser, seeded: Seeded, phone: str) -> int:
    version = _item_version(ed, seeded.recording)
    form = {"csrf_token": ed.csrf, "version": str(version), "title": "口述寄语", "place": f"联系 {phone}"}
    _ok(ed.post(f"/items/{seeded.recording}/describe", data=form, follow_redirects=False))
    return seeded.recording


def _patch_item(ed: Browser, seeded: Seeded, phone: str) -> int:
    version = _item_version(ed, seeded.scan)
    _ok(ed.api("PATCH", f"/api/items/{seeded.scan}", {"version": version, "abstract": f"经办人电话 {phone}"}))
    return seeded.scan


def _restore(ed: Browser, seeded: Seeded, phone: str) -> int:
    """A number written, then deleted (its flag is kept as removed), then brought back by
    restoring the revision: the restore must screen, or the flag stays 'removed'."""
    url = f"/api/pages/{seeded.page}/lines/1"
    page = ed.api("GET", f"/api/items/{seeded.scan}").json()
    assert page
    with _db() as s:
        current = s.get(Page, seeded.page)
        assert current is not None
        version, base = current.version, current.lines[1]["text"]
    _ok(ed.api("PUT", url, {"version": version, "base": base, "text": f"备注 电话 {phone}"}))
    _ok(ed.api("PUT", url, {"version": version + 1, "base": f"备注 电话 {phone}", "text": "备注"}))
    [flag] = _flags_for(seeded.scan, phone)
    assert flag.status == "removed"
    history = ed.get(f"/items/{seeded.scan}/history").text
    ids = [int(x) for x in re.findall(r"/revisions/(\d+)/restore", history)]
    from catalog.models import Revision

    with _db() as s:
        rev = next(
            r
            for r in (s.get(Revision, i) for i in ids)
            if r is not None and phone in str(r.after.get("text", ""))
        )
    _ok(ed.post(f"/revisions/{rev.id}/restore", data={"csrf_token": ed.csrf}, follow_redirects=False))
    [flag] = _flags_for(seeded.scan, phone)
    assert flag.status == "open", "the restored number is undecided again"
    return seeded.scan


EditRoute = Callable[[Browser, Seeded, str], int]

# every route that changes an item's text → how to make such an edit (returns the item)
EDITS: dict[tuple[str, str], EditRoute] = {
    ("PUT", "/api/pages/{page_id}/lines/{line}"): _edit_line,
    ("PUT", "/api/segments/{segment_id}"): _edit_segment,
    ("POST", "/api/segments/{segment_id}/split"): _split,
    ("POST", "/api/segments/{segment_id}/merge"): _merge,
    ("POST", "/api/transcripts/{transcript_id}/speakers"): _rename_speaker,
    ("POST", "/items/{item_id}/describe"): _describe,
    ("PATCH", "/api/items/{item_id}"): _patch_item,
    ("POST", "/revisions/{revision_id}/restore"): _restore,
}

# routes that change something but no text of an item (the reason says where their text goes)
NO_ITEM_TEXT = {
    ("POST", "/login"): "signs in",
    ("POST", "/logout"): "signs out",
    ("POST", "/dashboard/retry"): "queues a failed run again",
    ("POST", "/items/{item_id}/status"): "approve / reopen: no text (the reason is an event for staff)",
    ("POST", "/flags/{flag_id}"): "a reviewer's decision on a flag",
    (
        "POST",
        "/items/{item_id}/access",
    ): "an access decision (screens again before opening)",
    ("POST", "/requests/{request_id}"): "a staff answer to a copy request (never public)",
    ("POST", "/partner/requests"): "a partner's signed copy request (staff only)",
    ("POST", "/public/items/{item_id}/request"): "a visitor's copy request (staff only)",
    ("POST", "/public/union/{record_id}/request"): "a visitor's request for a partner's record (staff only)",
    ("POST", "/oai"): "OAI-PMH verbs sent as a form: reads only",
    # a project's own text is screened where it is shown (test_leaks: project text screened)
    ("POST", "/projects"): "a project's title and description (screened on display)",
    (
        "POST",
        "/projects/{project_id}/excerpts/{excerpt_id}",
    ): "an excerpt's heading, notes",
    ("POST", "/api/excerpts"): "an excerpt quoting already screened text",
}


def _changing_routes() -> set[tuple[str, str]]:
    """Every route that may change data, from the app's route table (included routers too)."""
    return {
        (method, route.path)
        for route in _routes(create_app().routes)
        for method in route.methods
        if method in {"POST", "PUT", "PATCH", "DELETE"}
    }


def test_every_edit_route_is_declared(home: object) -> None:
    routes = _changing_routes()
    undeclared = routes - set(EDITS) - set(NO_ITEM_TEXT)
    assert not undeclared, f"routes neither screened edits nor declared text-free: {undeclared}"
    gone = (set(EDITS) | set(NO_ITEM_TEXT)) - routes
    assert not gone, f"declared routes that no longer exist: {gone}"


@pytest.mark.parametrize("route", list(EDITS), ids=[f"{m} {p}" for m, p in EDITS])
def test_every_edit_route_is_screened(
    route: tuple[str, str], clients: dict[str, Browser], seeded: Seeded
) -> None:
    ed, public = clients["ed"], Browser(clients["ed"].app)
    phone = fresh_phone()
    item_id = EDITS[route](ed, seeded, phone)
    flags = _flags_for(item_id, phone)
    assert flags, f"{route}: the number the edit brought in was not screened"
    assert all(f.status == "open" for f in flags)
    for url in (f"/public/items/{item_id}", f"/public/items/{item_id}/text.txt", f"/iiif/manifest/{item_id}",
                f"/public/search?q={phone}"):  # fmt: skip
        r = public.get(url)
        assert r.status_code == 200, url
        assert phone not in r.text.replace(f'value="{phone}"', ""), f"{route}: {phone} public through {url}"
    assert "/public/items/" not in public.get(f"/public/search?q={phone}").text.split("</form>", 1)[-1]


# ----------------------------------------------------------------- the findings, one by one


def _black(png: bytes, box: list[int]) -> bool:
    img = Image.open(io.BytesIO(png)).convert("L")
    x0, y0, x1, y1 = box
    return max(img.crop((x0 + 2, y0 + 2, x1 - 2, y1 - 2)).getdata()) < 40


def test_deleting_a_flagged_number_never_unredacts_the_page_image(
    clients: dict[str, Browser], seeded: Seeded
) -> None:
    ed, public = clients["ed"], Browser(clients["ed"].app)
    screen_and_redact(seeded.scan)
    with _db() as s:
        page = s.get(Page, seeded.page)
        assert page is not None
        box = page.lines[3]["words"][1]["bbox"]
        line, version = page.lines[3]["text"], page.version
    image = f"/iiif/image/{seeded.page}/full/max/0/default.png"
    assert _black(public.get(image).content, box)
    # the editor deletes the number from the text: the flag is kept as removed, with who and when
    _ok(
        ed.api(
            "PUT", f"/api/pages/{seeded.page}/lines/3", {"version": version, "base": line, "text": "身份证"}
        )
    )
    flags = _flags_for(seeded.scan, _digits(ID_NUMBER))
    [flag] = flags
    assert flag.status == "removed" and flag.detail["removed"]["by"] == "ed"
    redact_item(seeded.scan)  # the worker makes the public copies again
    r = public.get(image)
    assert r.status_code == 200 and _black(r.content, box), "the number is still printed on the image"
    # the item cannot open while a reviewer has not decided the removed value
    with _db() as s:
        s.get(Item, seeded.scan).access = Access.unreviewed  # type: ignore[union-attr]
        s.commit()
        with pytest.raises(ReviewRefused, match="undecided"):
            decide_access(
                s, item_id=seeded.scan, access=Access.open, reason="审核通过", reviewer="boss", rounds=1
            )
        s.rollback()
        decide_flag(s, flag_id=flag.id or 0, decision="confirm", reason="ID number", reviewer="boss")
        decide_access(
            s, item_id=seeded.scan, access=Access.open, reason="审核通过", reviewer="boss", rounds=1
        )
        s.commit()
    redact_item(seeded.scan)
    assert _black(public.get(image).content, box)  # confirmed: hidden for good


def test_a_speaker_renamed_to_a_number_is_screened(clients: dict[str, Browser], seeded: Seeded) -> None:
    ed, public = clients["ed"], Browser(clients["ed"].app)
    phone = fresh_phone()
    _rename_speaker(ed, seeded, phone)
    flags = _flags_for(seeded.recording, phone)
    assert len(flags) == 3 and all(f.detail.get("field") == "speaker" for f in flags)  # one per segment
    page = public.get(f"/public/items/{seeded.recording}").text
    assert phone not in page and "口述者" in page


def test_a_value_hidden_in_one_field_is_hidden_in_every_other(
    clients: dict[str, Browser], seeded: Seeded
) -> None:
    """A reviewer confirms a number found in the description; the same number also stands
    — written another way — in a page line, a segment, a speaker name and another field.
    Every public place shows the mask, none the number."""
    ed, public = clients["ed"], Browser(clients["ed"].app)
    phone = fresh_phone()
    spaced = f"{phone[:3]} {phone[3:7]} {phone[7:]}"
    fullwidth = "".join(chr(ord(c) + 0xFEE0) for c in phone)
    _ok(ed.api("PATCH", f"/api/items/{seeded.recording}",
               {"version": _item_version(ed, seeded.recording), "abstract": f"联系 {phone}"}))  # fmt: skip
    [flag] = _flags_for(seeded.recording, phone)
    with _db() as s:
        decide_flag(s, flag_id=flag.id or 0, decision="confirm", reason="mobile", reviewer="boss")
        s.commit()
        # the same value elsewhere in the item, written straight into the catalog
        item = s.get(Item, seeded.recording)
        assert item is not None
        item.title = f"口述寄语 {spaced}"
        for seg in s.exec(select(Segment).where(col(Segment.id).in_(seeded.segments))).all():
            seg.text = f"{seg.text} 回拨{fullwidth}"
            seg.speaker = f"说话人 {spaced}"
            s.add(seg)
        s.add(item)
        s.flush()
        reindex_item(s, item)
        s.commit()
    forms = (phone, spaced, fullwidth, phone[3:], fullwidth[3:])
    for url in (f"/public/items/{seeded.recording}", f"/public/items/{seeded.recording}/text.txt",
                f"/iiif/manifest/{seeded.recording}", "/public/search?q=口述寄语"):  # fmt: skip
        text = public.get(url).text
        for form in forms:
            assert form not in text, f"{form!r} shown through {url}"
    assert "█" in public.get(f"/public/items/{seeded.recording}").text


def test_a_number_across_a_page_break_is_found_and_masked(
    clients: dict[str, Browser], seeded: Seeded
) -> None:
    public = Browser(clients["ed"].app)
    phone = fresh_phone()
    with _db() as s:
        page = s.get(Page, seeded.page)
        assert page is not None
        lines = [
            *page.lines,
            {"text": f"联系电话 {phone[:7]}", "bbox": [10, 170, 200, 200], "conf": 90, "words": []},
        ]
        page.lines, page.text = lines, "\n".join(x["text"] for x in lines)
        nxt = {"text": f"{phone[7:]} 以上情况属实", "bbox": [10, 10, 200, 40], "conf": 90, "words": []}
        s.add(page)
        s.add(Page(item_id=seeded.scan, asset_id=page.asset_id, page_no=2, text=nxt["text"], lines=[nxt]))
        s.commit()
    screen_and_redact(seeded.scan)
    first, second = _pieces(seeded.scan, phone)
    assert (first.page_no, second.page_no) == (1, 2) and first.detail["spans_pages"]
    assert _digits(first.detail["value"]) + _digits(second.detail["value"]) == phone
    assert first.status == second.status == "open"
    text = public.get(f"/public/items/{seeded.scan}/text.txt").text
    assert phone[:7] not in text and phone[7:] not in text and "以上情况属实" in text


def test_a_number_over_three_segments_is_found_and_masked(
    clients: dict[str, Browser], seeded: Seeded
) -> None:
    ed, public = clients["ed"], Browser(clients["ed"].app)
    phone = fresh_phone()
    parts = (f"我的电话是 {phone[:3]}", phone[3:7], f"{phone[7:]} 记一下")
    for seg, text in zip(seeded.segments, parts, strict=True):
        version = next(x for x in _segments(ed, seeded.recording) if x["id"] == seg)["version"]
        _ok(ed.api("PUT", f"/api/segments/{seg}", {"version": version, "text": text}))
    pieces = _pieces(seeded.recording, phone)
    assert [f.segment_id for f in pieces] == seeded.segments
    assert "".join(_digits(f.detail["value"]) for f in pieces) == phone
    assert all(f.status == "open" and f.detail["spans_segments"] for f in pieces)
    text = public.get(f"/public/items/{seeded.recording}/text.txt").text
    for part in (phone[3:7], phone[7:]):
        assert part not in text
    assert "记一下" in text
