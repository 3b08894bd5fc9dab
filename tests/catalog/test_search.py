"""Search on SQLite and PostgreSQL: Chinese-aware, script-insensitive, located, robust."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from catalog.db import get_engine
from catalog.models import Access, Asset, Collection, Item, Page, Segment, Transcript
from catalog.search import reindex_item, search
from configs.errors import BadInputError


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
        )
        talk = Item(
            collection_id=coll.id,
            reference_code="J001-LY·2020·Y-001",
            title="口述 interview",
            kind="recording",
            access=Access.open,
            narrator="张三",
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


def refs(hits) -> list[str]:  # type: ignore[no-untyped-def]
    return [h.reference_code for h in hits]


def test_two_character_word_finds_both_scripts_with_locations(session: Session) -> None:
    hits = search(session, "水库")
    assert set(refs(hits)) == {"J001-WS·2020·Y-001", "J001-LY·2020·Y-001"}
    page_hit = next(h for h in hits if h.kind == "scan")
    assert page_hit.location == {"page": 1, "bbox": [50, 5, 90, 25]}  # the two words 水 and 庫
    assert "<mark>水庫</mark>" in page_hit.snippet
    talk_hit = next(h for h in hits if h.kind == "recording")
    assert talk_hit.location == {"start": 1.5, "end": 4.0}


def test_traditional_query_finds_simplified_text(session: Session) -> None:
    assert "J001-LY·2020·Y-001" in refs(search(session, "水庫"))


def test_phrase_and_single_character(session: Session) -> None:
    assert refs(search(session, "水库大坝")) == ["J001-WS·2020·Y-001"]
    assert refs(search(session, "库大坝修")) == []  # not a phrase anywhere
    assert set(refs(search(session, "坝"))) == {"J001-WS·2020·Y-001"}


def test_english_and_mixed_queries(session: Session) -> None:
    assert refs(search(session, "dam")) == ["J001-LY·2020·Y-001"]
    assert refs(search(session, "reservoir 2019")) == ["J001-WS·2020·Y-001"]
    assert refs(search(session, "interview 张三")) == ["J001-LY·2020·Y-001"]


def test_title_ranks_above_body(session: Session) -> None:
    session.add(
        Item(
            collection_id=1,
            reference_code="J001-WS·2020·Y-009",
            title="水库档案",
            kind="scan",
            access=Access.open,
        )
    )
    session.flush()
    reindex_item(session, session.get(Item, 4) or Item())
    hits = search(session, "水库")
    assert hits[0].reference_code == "J001-WS·2020·Y-009"


def test_restricted_items_hidden_unless_allowed(session: Session) -> None:
    assert "J001-WS·2020·Y-002" not in refs(search(session, "秘密"))
    assert refs(search(session, "秘密", include_restricted=True)) == ["J001-WS·2020·Y-002"]


def test_filters(session: Session) -> None:
    assert refs(search(session, "水库", kind="recording")) == ["J001-LY·2020·Y-001"]
    assert refs(search(session, "水库", collection="nope")) == []


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("水库 OR", False),
        ("NEAR(a b)", False),
        ("a* -b", False),
        ("'; DROP TABLE item; --", False),
        ("AND", False),
        ("x:y", False),
        ('水库"', True),
        ("^水库", True),
        ("(水库", True),
        ("水库)*", True),
    ],
)
def test_query_syntax_is_inert(session: Session, query: str, found: bool) -> None:
    """FTS operators and SQL are plain words here: never an error, all words must match."""
    assert bool(search(session, query)) is found


@pytest.mark.parametrize("query", ["", "   ", "!!!", '"', "\\", "x" * 300])
def test_unusable_queries_give_a_clear_message(session: Session, query: str) -> None:
    with pytest.raises(BadInputError):
        search(session, query)
