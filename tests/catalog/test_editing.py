"""Revisions and optimistic locking on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlmodel import Session, col, select

from catalog.models import Item, Revision, Segment
from catalog.review.editing import EditConflict, Editor, edit_segment, update_description
from catalog.search import search
from configs.errors import BadInputError

ED, EVE = Editor("ed", "editor"), Editor("eve", "editor")


def _seg(session: Session) -> Segment:
    return session.exec(select(Segment).order_by(col(Segment.id))).first()  # type: ignore[return-value]


def test_compare_and_set_refuses_a_stale_version(session: Session) -> None:
    seg = _seg(session)
    edit_segment(session, segment_id=seg.id or 0, version=0, editor=ED, text="我们村在一九五八年修了水坝")
    session.commit()
    with pytest.raises(EditConflict) as e:
        edit_segment(session, segment_id=seg.id or 0, version=0, editor=EVE, text="别人的改动")
    session.rollback()
    assert e.value.current["text"] == "我们村在一九五八年修了水坝" and e.value.yours["text"] == "别人的改动"
    revs = session.exec(
        select(Revision).where(Revision.target == "segment").order_by(col(Revision.number))
    ).all()
    assert [(r.number, r.author) for r in revs] == [(0, "machine"), (1, "ed")]
    assert revs[0].after["text"] == "我们村在一九五八年修了水库"
    assert search(session, "水坝", include_restricted=True)  # the index follows the edit
    found = search(session, "水库", include_restricted=True)
    assert not [h for r in found for h in r.hits if h.field == "segment"]


def test_a_second_session_sees_the_conflict(session: Session) -> None:
    """Two sessions (two web requests) read version 0; only the first write lands."""
    seg = _seg(session)
    other = Session(session.get_bind())
    seg_b = other.get(Segment, seg.id)
    assert seg_b is not None and seg_b.version == 0
    edit_segment(session, segment_id=seg.id or 0, version=0, editor=ED, text="甲")
    session.commit()
    with pytest.raises(EditConflict):
        edit_segment(other, segment_id=seg.id or 0, version=0, editor=EVE, text="乙")
    other.rollback()
    other.close()
    session.expire_all()
    assert _seg(session).text == "甲"


def test_description_is_validated(session: Session) -> None:
    item = session.exec(select(Item).where(Item.kind == "scan")).first()
    assert item is not None
    with pytest.raises(BadInputError, match="日期"):
        update_description(
            session, item_id=item.id or 0, version=0, fields={"date": "1958-02-30x"}, editor=ED
        )
    with pytest.raises(BadInputError, match="already used"):
        update_description(
            session,
            item_id=item.id or 0,
            version=0,
            fields={"reference_code": "J001-LY·2020·Y-001"},
            editor=ED,
        )
    done = update_description(
        session, item_id=item.id or 0, version=0, fields={"date": "1958年3月1日"}, editor=ED
    )
    assert done.date == "19580301" or done.version == 0  # unchanged value: no revision, no new version


def test_revision_zero_is_the_text_as_delivered_not_the_engine_script(db_url: str) -> None:
    """The engine wrote traditional characters, OpenCC stored simplified: restoring the
    machine output (revision 0) brings back the simplified text."""
    from sqlmodel import Session, select

    from catalog.db import get_engine
    from catalog.models import Asset, Collection, Item, Revision, Segment, Transcript
    from catalog.review.editing import Editor, edit_segment, restore_revision

    with Session(get_engine(db_url)) as s:
        coll = Collection(code="R0", name="r0")
        s.add(coll)
        s.flush()
        item = Item(collection_id=coll.id or 0, reference_code="J001-LY·2020·Y-090", kind="recording")
        s.add(item)
        s.flush()
        master = Asset(item_id=item.id or 0, role="master", key="masters/r0", sha256="r" * 64)
        s.add(master)
        s.flush()
        tr = Transcript(item_id=item.id or 0, asset_id=master.id or 0)
        s.add(tr)
        s.flush()
        seg = Segment(transcript_id=tr.id or 0, seq=0, start=0, end=2, text="这个水库", raw_text="這個水庫")
        s.add(seg)
        s.flush()
        editor = Editor("ed", "editor")
        edit_segment(s, segment_id=seg.id or 0, version=0, editor=editor, text="这座水库")
        zero = s.exec(select(Revision).where(Revision.target_id == seg.id, Revision.number == 0)).one()
        assert zero.after["text"] == "这个水库" and zero.after["engine_text"] == "這個水庫"
        restore_revision(s, revision_id=zero.id or 0, editor=editor)
        s.refresh(seg)
        assert seg.text == "这个水库"
