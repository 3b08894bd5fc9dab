"""A small catalog on SQLite and on PostgreSQL, for search and export tests."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from catalog.db import get_engine
from catalog.models import Access, Asset, Collection, Item, Page, Segment, Transcript
from catalog.search import reindex_item


@pytest.fixture
def session(db_url: str):  # type: ignore[no-untyped-def]
    with Session(get_engine(db_url)) as session:
        coll = Collection(code="C1", name="test")
        session.add(coll)
        session.flush()
        scan = Item(
            collection_id=coll.id,
            reference_code="J001-WS·2020·Y-001",
            title="水利档案",
            kind="scan",
            access=Access.open,
            date="19580301",
            language="中文",
            creator="县水利局",
            subject="水库;水利",
            notes="<b>不是标签</b>",
        )
        talk = Item(
            collection_id=coll.id,
            reference_code="J001-LY·2020·Y-001",
            title="口述 interview",
            kind="recording",
            access=Access.open,
            narrator="张三",
            interviewer="李四",
            date="20200105",
            language="中文",
        )
        closed = Item(
            collection_id=coll.id,
            reference_code="J001-WS·2020·Y-002",
            title="内部文件",
            kind="scan",
            access=Access.controlled,
        )
        session.add_all([scan, talk, closed])
        session.flush()
        a1 = Asset(item_id=scan.id, role="master", key="masters/1", sha256="1")
        a2 = Asset(item_id=talk.id, role="master", key="masters/2", sha256="2")
        a3 = Asset(item_id=closed.id, role="master", key="masters/3", sha256="3")
        session.add_all([a1, a2, a3])
        session.flush()
        words = [
            {"text": t, "bbox": [10 + 20 * i, 5, 30 + 20 * i, 25], "conf": 90}
            for i, t in enumerate("新建水庫大壩")
        ]
        session.add(
            Page(
                item_id=scan.id,
                asset_id=a1.id,
                page_no=1,
                text="新建水庫大壩",
                lines=[
                    {"text": "新建水庫大壩", "bbox": [10, 5, 130, 25], "conf": 90, "words": words},
                    {
                        "text": "Reservoir report 2019",
                        "bbox": [10, 40, 200, 60],
                        "conf": 95,
                        "words": [
                            {"text": "Reservoir", "bbox": [10, 40, 90, 60], "conf": 95},
                            {"text": "report", "bbox": [95, 40, 150, 60], "conf": 95},
                            {"text": "2019", "bbox": [155, 40, 200, 60], "conf": 95},
                        ],
                    },
                ],
            )
        )
        session.add(
            Page(
                item_id=closed.id,
                asset_id=a3.id,
                page_no=1,
                text="水库 秘密",
                lines=[{"text": "水库秘密", "bbox": [0, 0, 10, 10], "conf": 90, "words": []}],
            )
        )
        t = Transcript(item_id=talk.id, asset_id=a2.id)
        session.add(t)
        session.flush()
        session.add_all(
            [
                Segment(transcript_id=t.id, seq=0, start=1.5, end=4.0, text="我们村在一九五八年修了水库"),
                Segment(transcript_id=t.id, seq=1, start=4.0, end=7.25, text="the dam was built by hand"),
            ]
        )
        session.flush()
        for item in (scan, talk, closed):
            reindex_item(session, item)
        session.commit()
        yield session
