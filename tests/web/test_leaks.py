"""Nothing controlled, unreviewed or masked leaks, tried as an attacker would.

Unique values (a valid resident ID number, a mobile number, a personal name) are planted
in every place text can live — file names, each description field, OCR lines, transcript
segments, speaker names, project notes, copy requests — on a controlled item, an item
whose manifest proposed 开放 (still unreviewed) and an item opened by open review. Then
every public route is crawled (search with each value and fragments of it, with filters,
item pages, text downloads, every link they show) and the collector's view of a project
and its exports is read: no planted value may appear, no search may find one. On SQLite
and on PostgreSQL."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlmodel import Session, select

from catalog.db import get_engine
from catalog.models import (
    Access,
    Asset,
    Collection,
    CopyRequest,
    Excerpt,
    Flag,
    Item,
    ItemStatus,
    Page,
    Project,
    Segment,
    Transcript,
)
from catalog.review import screening
from catalog.review.openreview import decide_access, decide_flag
from catalog.search import reindex_item
from configs import get_settings
from tests.web.conftest import Browser
from web.app import create_app
from web.security import add_user

PASSWORD = "correct horse battery"
FIELDS = ("title", "creator", "place", "people", "subject", "abstract", "extent", "notes",
          "narrator", "interviewer", "collected_place", "consent")  # fmt: skip


def id_number(body17: str) -> str:
    """A resident ID number with its GB 11643 check character."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return body17 + "10X98765432"[sum(int(d) * w for d, w in zip(body17, weights, strict=True)) % 11]


@dataclass(frozen=True)
class Canaries:
    id_number: str
    phone: str
    name: str

    def all(self) -> tuple[str, ...]:
        return (self.id_number, self.phone, self.name)

    def fragments(self) -> tuple[str, ...]:
        return (self.id_number[:10], self.id_number[-8:], self.phone[-8:], self.phone[:7], self.name[:2],
                self.name[1:])  # fmt: skip


OPEN = Canaries(id_number("44010619800101123"), "13907551234", "鲍文静")
UNREVIEWED = Canaries(id_number("32010219750505456"), "13815559876", "柯明远")
CONTROLLED = Canaries(id_number("51010419621212789"), "13698764321", "龚雪梅")


@dataclass
class Planted:
    open_id: int
    unreviewed_id: int
    controlled_id: int
    project_id: int


def _plant(s: Session, coll: Collection, code: str, c: Canaries, *, access: str, extra: dict) -> Item:  # type: ignore[type-arg]
    """An item with the canaries in every field, its file name, an OCR line, a segment and
    a speaker name."""
    numbers = f"公民身份号码 {c.id_number} 电话 {c.phone}"
    fields = {f: f"{f} {numbers}" for f in FIELDS}
    fields["notes"] = f"附注 {c.name} {numbers}"  # notes are never public: the name may stand here
    item = Item(collection_id=coll.id or 0, reference_code=code, kind="recording", status=ItemStatus.enriched,
                access=access, source_name=f"访谈_{c.phone}_{c.name}.wav", extra=extra, date="19800101",
                **fields)  # fmt: skip
    s.add(item)
    s.flush()
    master = Asset(item_id=item.id, role="master", key=f"masters/{code}/x.wav", sha256=code.ljust(64, "0"),
                   original_name=f"访谈_{c.phone}_{c.name}.wav")  # fmt: skip
    s.add(master)
    s.flush()
    s.add(Page(item_id=item.id or 0, asset_id=master.id, page_no=1, text=numbers,
               lines=[{"text": numbers, "bbox": [0, 0, 400, 30], "conf": 90, "words": []}]))  # fmt: skip
    tr = Transcript(item_id=item.id or 0, asset_id=master.id or 0, language="zh")
    s.add(tr)
    s.flush()
    s.add(Segment(transcript_id=tr.id or 0, seq=0, start=0.0, end=3.0, text=f"我的{numbers}",
                  speaker=f"口述者 {c.phone}"))  # fmt: skip
    s.flush()
    return item


@pytest.fixture(params=["sqlite", "postgresql"])
def planted(request: pytest.FixtureRequest, home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Planted]:
    if request.param == "postgresql":
        monkeypatch.setenv("LANTAI_DATABASE_URL", request.getfixturevalue("pg_url"))
        get_settings.cache_clear()
    settings = get_settings()
    with Session(get_engine(settings.db_url)) as s:
        for name, role in (("ed", "editor"), ("col", "collector")):
            add_user(s, name=name, role=role, password=PASSWORD)
        coll = Collection(code="LEAK", name="canaries")
        s.add(coll)
        s.flush()
        opened = _plant(s, coll, "J009-LY·1980·Y-001", OPEN, access=Access.unreviewed, extra={})
        proposed = _plant(s, coll, "J009-LY·1980·Y-002", UNREVIEWED, access=Access.unreviewed,
                          extra={"proposed_access": "开放"})  # fmt: skip
        controlled = _plant(s, coll, "J009-LY·1980·Y-003", CONTROLLED, access=Access.controlled, extra={})
        lists = screening.term_lists(settings, coll)
        for item in (opened, proposed, controlled):
            screening.screen_item(s, item, lists)
            reindex_item(s, item)
        # open review of the first: every flag confirmed (the values stay hidden), then opened
        for flag in s.exec(select(Flag).where(Flag.item_id == opened.id)).all():
            decide_flag(s, flag_id=flag.id or 0, decision="confirm", reason="", reviewer="ed")
        decide_access(
            s, item_id=opened.id or 0, access=Access.open, reason="reviewed", reviewer="ed", rounds=1
        )
        project = Project(title="编研", description="项目说明", editors="ed", created_by="ed")
        s.add(project)
        s.flush()
        for n, item in enumerate((controlled, proposed, opened)):
            seg = s.exec(select(Segment).join(Transcript).where(Transcript.item_id == item.id)).one()
            canary = {controlled.id: CONTROLLED, proposed.id: UNREVIEWED, opened.id: OPEN}[item.id]
            note = f"注 {canary.name} 电话 {canary.phone}"
            s.add(Excerpt(project_id=project.id or 0, item_id=item.id or 0, position=n, segment_from=seg.id,
                          segment_to=seg.id, heading=f"摘录 {canary.name}", notes=note,
                          quoted=seg.text))  # fmt: skip
        s.add(CopyRequest(item_id=opened.id or 0, name=OPEN.name, contact=OPEN.phone, purpose=OPEN.id_number))
        s.commit()
        out = Planted(opened.id or 0, proposed.id or 0, controlled.id or 0, project.id or 0)
    yield out
    get_engine.cache_clear()


def _clean(text: str, canaries: tuple[Canaries, ...], where: str) -> None:
    for c in canaries:
        for value in c.all():
            assert value not in text, f"{value} leaked through {where}"


def _hits(page: str) -> set[str]:
    return set(re.findall(r'href="(/public/items/\d+)', page))


def test_public_site_leaks_nothing(planted: Planted) -> None:
    everyone = (OPEN, UNREVIEWED, CONTROLLED)
    public = Browser(create_app())
    seen: dict[str, str] = {}

    def get(url: str, echo: str = "") -> str:
        r = public.get(url)
        assert r.status_code < 500, (url, r.status_code)
        seen[url] = r.text
        # the visitor's own query is echoed in the search box: that is not a leak
        _clean(r.text.replace(f'value="{echo}"', "") if echo else r.text, everyone, url)
        return r.text

    # search: each planted value and fragments of it, alone and with the public filters
    for c in everyone:
        for q in (*c.all(), *c.fragments()):
            for extra in ("", "&kind=recording", "&year=1980", "&kind=scan&year=1980"):
                page = get(f"/public/search?q={q}{extra}", echo=q)
                assert not _hits(page), f"public search for {q!r}{extra} matched {_hits(page)}"
    assert _hits(get("/public/search?q=电话")) == {f"/public/items/{planted.open_id}"}  # the open one only
    # item pages: the open item masked; the others answer exactly as a missing item does
    missing = public.get("/public/items/999999")
    for item_id in (planted.unreviewed_id, planted.controlled_id):
        for suffix in ("", "/text.txt"):
            r = public.get(f"/public/items/{item_id}{suffix}")
            gone = public.get(f"/public/items/999999{suffix}")
            assert r.status_code == 404 == gone.status_code
            assert r.text.replace(f"/items/{item_id}", "/items/N") == gone.text.replace(
                "/items/999999", "/items/N"
            )
    assert missing.status_code == 404
    page = get(f"/public/items/{planted.open_id}")
    assert "█" in page and "J009-LY·1980·Y-001" in page
    for absent in ("附注", "访谈_", "consent"):  # never shown: notes, file names, consent
        assert absent not in page
    text = get(f"/public/items/{planted.open_id}/text.txt")
    assert "█" in text
    # every link the public pages show
    for body in list(seen.values()):
        for link in set(re.findall(r'(?:href|src)="(/public/[^"#]*)', body)):
            get(link.replace("&amp;", "&"))


def test_collectors_see_no_controlled_excerpt(planted: Planted) -> None:
    hidden = (UNREVIEWED, CONTROLLED)
    col = Browser(create_app()).login("col")
    page = col.get(f"/projects/{planted.project_id}")
    assert page.status_code == 200 and "受控档案，无权查看" in page.text
    _clean(page.text, hidden, "the project page")
    assert "J009-LY·1980·Y-003" not in page.text and "J009-LY·1980·Y-002" not in page.text
    md = col.get(f"/projects/{planted.project_id}/export/md").text
    _clean(md, hidden, "the Markdown export")
    assert "2 条摘录取自受控档案" in md
    docx = col.get(f"/projects/{planted.project_id}/export/docx").content
    with zipfile.ZipFile(io.BytesIO(docx)) as z:
        _clean(z.read("word/document.xml").decode(), hidden, "the DOCX export")
    for q in (*CONTROLLED.all(), *UNREVIEWED.all()):
        assert col.get(f"/api/search?q={q}").json()["hits"] == []
        _clean(col.get(f"/search?q={q}").text.replace(f'value="{q}"', ""), hidden, "staff search")
    for item_id in (planted.unreviewed_id, planted.controlled_id):
        for url in (f"/items/{item_id}", f"/api/items/{item_id}", f"/api/items/{item_id}/segments",
                    f"/items/{item_id}/export/txt", f"/items/{item_id}/history"):  # fmt: skip
            r = col.get(url)
            assert r.status_code == 403, (url, r.status_code)
            _clean(r.text, hidden, url)
    assert col.get("/requests").status_code == 403  # visitors' names and contacts
    # an editor sees everything, as recorded
    ed = Browser(create_app()).login("ed")
    assert CONTROLLED.id_number in ed.get(f"/projects/{planted.project_id}").text


def test_project_text_is_screened_for_editors(planted: Planted) -> None:
    """A project's own text (headings, notes) is screened: editors see a warning with the
    masked preview, never the number itself in the warning; collectors get no warning
    (nor the notes of hidden excerpts)."""
    ed = Browser(create_app()).login("ed")
    page = ed.get(f"/projects/{planted.project_id}").text
    warning = page[
        page.index('id="project-screening"') : page.index("</div>", page.index('id="project-screening"'))
    ]
    for c in (OPEN, UNREVIEWED, CONTROLLED):  # every excerpt's note is screened, masked in the warning
        assert c.phone not in warning and f"{c.phone[:3]}****{c.phone[-4:]}" in warning
    assert warning.count("notes: mobile") == 3
    col = Browser(create_app()).login("col")
    assert 'id="project-screening"' not in col.get(f"/projects/{planted.project_id}").text
