"""Re-enrichment keeps what refers to an item's text: page numbers, editors' corrections,
compilation excerpts and search locations survive ``--force`` and a changed engine option;
a two-part interview shows and exports every part on its own time line."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest
from sqlmodel import col, select

from catalog.db import session_scope
from catalog.models import Collection, Excerpt, Item, Page, Revision, Segment
from catalog.parts import recording_parts, segments_of
from catalog.projects import add_page_excerpt, add_segment_excerpt, create_project, source_text
from catalog.publish.exports import to_vtt
from catalog.review.editing import Editor, edit_page_line
from catalog.search import search
from configs import get_settings
from flows.enrich import enrich_flow
from flows.ingest import ingest_flow
from tests.flows.conftest import INTERVIEW, case_files
from tests.web.conftest import PASSWORD, Browser
from web.app import create_app
from web.routes.search import deep_link
from web.security import add_user

pytestmark = pytest.mark.slow  # the fast tier: bash scripts/test -m "not slow"


def _ingest(folder: Path) -> tuple[int, int]:
    case_files(folder)
    ingest_flow(str(folder), "G", None, None)
    enrich_flow("G")
    with session_scope(get_settings()) as session:
        record = session.exec(select(Item).where(Item.title == "会议记录")).one()
        interview = session.exec(select(Item).where(Item.reference_code == INTERVIEW)).one()
        return record.id or 0, interview.id or 0


def _state(record: int) -> dict[str, object]:
    with session_scope(get_settings()) as session:
        pages = session.exec(select(Page).where(Page.item_id == record).order_by(col(Page.page_no))).all()
        hits = [h for r in search(session, "quick brown", include_restricted=True, limit=50) for h in r.hits]
        return {
            "pages": [(p.id, p.page_no, p.asset_id, p.source_page) for p in pages],
            "line0": pages[0].lines[0]["text"],
            "locations": sorted(
                (h.location["page"], tuple(h.location["bbox"] or ())) for h in hits if h.item_id == record
            ),
        }


def test_re_enrichment_keeps_pages_corrections_excerpts_and_locations(home: Path, tmp_path: Path) -> None:
    record, interview = _ingest(tmp_path / "案卷")
    settings = get_settings()
    editor = Editor("ed", "editor")
    with session_scope(settings) as session:
        page1 = session.exec(select(Page).where(Page.item_id == record, Page.page_no == 1)).one()
        machine_line = page1.lines[0]["text"]
        edit_page_line(
            session,
            page_id=page1.id or 0,
            line=0,
            base=machine_line,
            version=page1.version,
            text="Corrected by ed",
            editor=editor,
        )
        project = create_project(session, title="专题", editor="ed")
        page_ex = add_page_excerpt(
            session,
            project_id=project.id or 0,
            editor="ed",
            item_id=record,
            page_from=3,
            line_from=0,
            line_to=1,
        )
        part1 = recording_parts(session, interview)[0]
        first_seg = segments_of(session, part1)[0]
        seg_ex = add_segment_excerpt(
            session, project_id=project.id or 0, editor="ed", segment_from=first_seg.id or 0
        )
        quoted = (page_ex.quoted, seg_ex.quoted)
        ids = (page_ex.id, seg_ex.id)
    before = _state(record)
    assert before["line0"] == "Corrected by ed" and [p[1] for p in before["pages"]] == [1, 2, 3]  # type: ignore[union-attr]
    assert {loc[0] for loc in before["locations"]} == {1, 2, 3}  # type: ignore[union-attr]

    with Browser(create_app()) as browser:  # the page view names the files of the item
        with session_scope(settings) as session:
            add_user(session, name="ed", role="editor", password=PASSWORD)
        browser.login("ed")
        html = browser.get(f"/items/{record}/pages/2").text
        assert "p2.tif" in html and f'href="/items/{record}/pages/3">p3.tif' in html
    forced = enrich_flow(None, record, True)
    assert not forced[0]["skipped"] and forced[0]["pages"] == 3
    assert _state(record) == before  # same rows, numbers, correction and search locations

    def keys() -> set[str]:
        with session_scope(settings) as session:
            return {p.result_key for p in session.exec(select(Page).where(Page.item_id == record))}

    old_keys = keys()
    with session_scope(settings) as session:  # a changed engine option: another result key
        coll = session.exec(select(Collection).where(Collection.code == "G")).one()
        # (English only: `auto` now hands the pages to Tesseract instead of PP-OCR)
        coll.ocr_languages = "eng"
        session.add(coll)
    enrich_flow(None, record, True)
    enrich_flow(None, interview, True)  # and the interview transcribed again
    after = _state(record)
    # the same rows, numbers and correction; the other engine puts its boxes a few pixels off
    assert {k: v for k, v in after.items() if k != "locations"} == {
        k: v for k, v in before.items() if k != "locations"
    }
    assert {loc[0] for loc in after["locations"]} == {1, 2, 3}  # type: ignore[union-attr]
    with session_scope(settings) as session:
        assert keys().isdisjoint(old_keys)  # every page was read again, in place
        page_ex_now, seg_ex_now = (session.get(Excerpt, i) for i in ids)
        assert page_ex_now is not None and seg_ex_now is not None
        # still page 3; the new reading of page 3 shows as an update the editor may accept
        assert page_ex_now.page_from == 3 and page_ex_now.quoted == quoted[0]
        page3 = session.exec(select(Page).where(Page.item_id == record, Page.page_no == 3)).one()
        assert page_ex_now.page_from_id == page_ex_now.page_to_id == page3.id  # by id as well as number
        assert source_text(session, page_ex_now) == "\n".join(ln["text"] for ln in page3.lines[:2])
        # the segment excerpt follows the new segments by time (the same speech, the same text)
        seg_now = session.get(Segment, seg_ex_now.segment_from)
        assert seg_now is not None and abs(seg_now.start - first_seg.start) < 1.0
        assert source_text(session, seg_ex_now) == quoted[1]
        history = session.exec(
            select(Revision).where(Revision.target == "page", Revision.target_id == page1.id)
        ).all()
        # the correction stays; the machine's new reading is a revision to compare when it reads
        # the page differently (PP-OCR and then Tesseract may read this English page alike)
        authors = [r.author for r in sorted(history, key=lambda r: r.number)]
        assert authors[:2] == ["machine", "ed"] and set(authors[2:]) <= {"machine"}


def test_two_part_interview_every_part_visible_editable_and_on_one_time_line(
    home: Path, tmp_path: Path
) -> None:
    _record, interview = _ingest(tmp_path / "案卷")
    settings = get_settings()
    with session_scope(settings) as session:
        parts = recording_parts(session, interview)
        assert [p.number for p in parts] == [1, 2] and parts[1].offset == parts[0].transcript.duration
        assert [p.name for p in parts] == ["part1.wav", "part2.wav"]
        part1_segs = segments_of(session, parts[0])
        part2_segs = segments_of(session, parts[1])
        assert part1_segs and part2_segs
        vtt = to_vtt(session, session.get(Item, interview))  # type: ignore[arg-type]
        add_user(session, name="ed", role="editor", password=PASSWORD)
        hits = [
            h
            for r in search(session, part1_segs[0].text[:4], include_restricted=True)
            for h in r.hits
            if h.item_id == interview and h.field == "segment"
        ]
    cues = [tuple(_seconds(t) for t in m) for m in re.findall(r"(\S+) --> (\S+)", vtt)]
    assert len(cues) == len(part1_segs) + len(part2_segs)
    assert all(a[1] <= b[0] + 1e-3 for a, b in itertools.pairwise(cues)), "overlapping cues"
    assert cues[len(part1_segs)][0] >= parts[0].transcript.duration - 1e-3

    with Browser(create_app()) as browser:
        browser.login("ed")
        listed = browser.get(f"/api/items/{interview}/segments").json()
        assert {s["part"] for s in listed} == {1, 2} and len(listed) == len(cues)
        assert [s["id"] for s in browser.get(f"/api/items/{interview}/segments?part=2").json()] == [
            s.id for s in part2_segs
        ]
        # the deep link of a hit in part 1 opens part 1 at the segment's time
        link = deep_link(interview, hits[0].__dict__)
        html = browser.get(link).text
        assert 'data-part="1"' in html and f'id="seg-{part1_segs[0].id}"' in html
        page2 = browser.get(f"/items/{interview}/recording?part=2").text
        assert 'data-part="2"' in page2 and f'id="seg-{part2_segs[0].id}"' in page2
        assert "part1.wav" in page2 and "recording?part=1" in page2
        # a segment of part 2 saves like any other
        seg = part2_segs[0]
        saved = browser.api(
            "PUT", f"/api/segments/{seg.id}", {"version": seg.version, "text": "第二部分已校对"}
        )
        assert saved.status_code == 200, saved.text
    with session_scope(settings) as session:
        assert session.get(Segment, seg.id).text == "第二部分已校对"  # type: ignore[union-attr]


def _seconds(clock: str) -> float:
    h, m, s = clock.split(":")
    return int(h) * 3600 + int(m) * 60 + float(s)
