"""Revisions and optimistic locking on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlmodel import Session, col, select

from catalog.editing import EditConflict, Editor, edit_segment, update_description
from catalog.models import Item, Revision, Segment
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
    assert not [h for h in search(session, "水库", include_restricted=True) if h.field == "segment"]


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
