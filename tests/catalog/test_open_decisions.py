"""`lantai open` respects recorded decisions: a 控制/延期 decision is never overridden by a
bulk open, and unknown items or collections are errors, not silent successes."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from catalog.db import get_engine
from catalog.models import Access, Collection, Item, ItemStatus
from catalog.review.editing import NotFound
from catalog.review.openreview import decide_access, open_items


def test_bulk_open_keeps_controlled_and_deferred_items_closed(db_url: str) -> None:
    with Session(get_engine(db_url)) as s:
        coll = Collection(code="T", name="测试")
        s.add(coll)
        s.flush()
        items = [
            Item(
                collection_id=coll.id or 0,
                reference_code=f"J001-WS·2020·Y-00{n}",
                title=f"记录 {n}",
                kind="scan",
                status=ItemStatus.in_review,
            )
            for n in (1, 2, 3)
        ]
        s.add_all(items)
        s.commit()
        decide_access(
            s, item_id=items[0].id or 0, access=Access.controlled, reason="涉密", reviewer="a", rounds=1
        )
        decide_access(
            s, item_id=items[1].id or 0, access=Access.deferred, reason="延期", reviewer="a", rounds=1
        )
        s.commit()
        result = open_items(s, reason="批量开放", who="ops", collection="T")
        s.commit()
        assert [e["item_id"] for e in result["opened"]] == [items[2].id]
        assert {e["item_id"] for e in result["refused"]} == {items[0].id, items[1].id}
        assert all("decided" in str(e["reason"]) for e in result["refused"])
        for item in items[:2]:
            s.refresh(item)
            assert item.access != Access.open
        with pytest.raises(NotFound, match="no item 999"):
            open_items(s, reason="x", who="ops", item_id=999)
        with pytest.raises(NotFound, match="no collection ZZ"):
            open_items(s, reason="x", who="ops", collection="ZZ")
