"""Alembic migrations and the SQLModel tables must describe the same schema."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from catalog.db import get_engine, include_object


def _migrate(engine: Any, revision: str, *, down: bool = False) -> None:
    """Up (or down) to ``revision`` in one transaction, as ``catalog.db.upgrade`` does."""
    from alembic import command

    from catalog.db import alembic_config

    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(cfg, revision)


def test_migrations_match_models(db_url: str) -> None:
    engine = get_engine(db_url)  # upgrades to head
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"include_object": include_object, "compare_type": True})
        diff = compare_metadata(ctx, SQLModel.metadata)
    assert diff == []


def test_upgrade_is_idempotent(db_url: str) -> None:
    from catalog.db import upgrade

    engine = get_engine(db_url)
    upgrade(engine)
    upgrade(engine)


def test_postgresql_search_partitions_keep_entries(pg_url: str) -> None:
    """Migration 0006 moves PostgreSQL's search entries into hash partitions with a stored
    tsvector; the entries of an existing catalog stay searchable, and the way back keeps
    them too."""
    import sqlalchemy as sa
    from sqlmodel import Session

    from catalog.models import Access, Collection, Item
    from catalog.search import Filters, reindex_item, search

    engine = sa.create_engine(pg_url)

    def migrate(revision: str, *, down: bool = False) -> None:
        _migrate(engine, revision, down=down)

    def count(sql: str) -> int:
        with engine.connect() as conn:
            return int(conn.execute(sa.text(sql)).scalar_one())

    migrate("0005")
    with Session(engine) as s:
        coll = Collection(code="C1", name="test")
        s.add(coll)
        s.flush()
        item = Item(collection_id=coll.id, reference_code="J001-WS·2020·Y-001", title="水庫工程档案",
                    kind="scan", access=Access.open, subject="水利")  # fmt: skip
        s.add(item)
        s.flush()
        reindex_item(s, item)
        s.commit()
    before = count("SELECT count(*) FROM search_entry")
    assert before == 4  # title and description, for staff and for the public

    migrate("0006")
    assert count("SELECT count(*) FROM pg_inherits WHERE inhparent = 'search_entry'::regclass") == 32
    assert count("SELECT count(*) FROM search_entry") == before
    with Session(engine) as s:
        assert [h.reference_code for h in search(s, "水库")] == ["J001-WS·2020·Y-001"]
        reindex_item(s, s.get(Item, 1) or Item())  # new rows get new ids from the same sequence
        s.commit()
    assert count("SELECT count(*) FROM search_entry") == before

    # the entries' copies of the item fields follow the item (filters read them, not the item)
    with Session(engine) as s:
        item = s.get(Item, 1) or Item()
        assert search(s, "水库", filters=Filters(kind="scan", access=Access.open.value))
        item.kind, item.access = "recording", Access.controlled
        s.add(item)
        s.commit()
        assert not search(s, "水库", filters=Filters(kind="scan", include_restricted=True))
        assert not search(s, "水库")  # no longer open
        assert search(s, "水库", filters=Filters(kind="recording", include_restricted=True))
    assert count("SELECT count(*) FROM search_entry WHERE item_kind = 'recording'") == before

    migrate("0005", down=True)
    assert count("SELECT count(*) FROM pg_inherits WHERE inhparent = 'search_entry'::regclass") == 0
    assert count("SELECT count(*) FROM search_entry") == before
    migrate("0006")  # the copies are filled again from the items
    with Session(engine) as s:
        found = search(s, "水庫", filters=Filters(kind="recording", include_restricted=True))
        assert [h.reference_code for h in found] == ["J001-WS·2020·Y-001"]
    engine.dispose()


def test_items_opened_by_a_manifest_go_back_to_review(db_url: str) -> None:
    """Migration 0008: an item open without an open-review decision (a manifest opened it
    before 0008) is unreviewed afterwards, with the proposal kept and its public entries
    gone; an item opened by a decision stays open."""
    import sqlalchemy as sa
    from sqlmodel import Session, select

    from catalog.models import Access, AccessDecision, Collection, Event, Item, SearchEntry
    from catalog.search import reindex_item

    engine = sa.create_engine(db_url)

    _migrate(engine, "0007")
    with Session(engine) as s:
        coll = Collection(code="M8", name="test")
        s.add(coll)
        s.flush()
        imported = Item(collection_id=coll.id, reference_code="J001-WS·2020·Y-001", title="导入即开放",
                        kind="scan", access=Access.open)  # fmt: skip
        reviewed = Item(collection_id=coll.id, reference_code="J001-WS·2020·Y-002", title="审核后开放",
                        kind="scan", access=Access.open)  # fmt: skip
        s.add_all([imported, reviewed])
        s.flush()
        s.add(AccessDecision(item_id=reviewed.id, reviewer="ed", access="开放", reason="ok", effective=True))
        for i in (imported, reviewed):
            reindex_item(s, i)
        s.commit()
        ids = (imported.id, reviewed.id)
    _migrate(engine, "head")
    with Session(engine) as s:
        first, second = (s.get(Item, i) for i in ids)
        assert first is not None and second is not None
        assert first.access == Access.unreviewed and first.extra["proposed_access"] == "开放"
        assert second.access == Access.open
        public = s.exec(select(SearchEntry.item_id).where(SearchEntry.audience == "public")).all()
        assert set(public) == {ids[1]}
        assert s.exec(select(Event).where(Event.item_id == ids[0], Event.agent == "migration 0008")).one()
    engine.dispose()


def test_processing_counters_start_from_the_recorded_runs(db_url: str) -> None:
    """Migration 0010 fills the /metrics histogram counters from the events recorded before
    it; runs recorded afterwards add to them."""
    import sqlalchemy as sa
    from sqlmodel import Session

    from catalog.crud import add_event
    from catalog.models import ProcessingStat
    from catalog.operations import processing_histogram

    engine = sa.create_engine(db_url)
    _migrate(engine, "0009")
    with engine.begin() as conn:
        insert = "INSERT INTO event (type, agent, outcome, detail, at) VALUES (:t, 'x', 'success', :d, :at)"
        for seconds in (3.0, 100.0, 4000.0):
            detail = f'{{"engine": "tesseract", "seconds": {seconds}}}'
            conn.execute(
                sa.text(insert),
                {"t": "optical character recognition", "d": detail, "at": "2026-11-30 00:00:00"},
            )
    _migrate(engine, "head")
    with Session(engine) as s:
        assert s.get(ProcessingStat, "tesseract").count == 3  # type: ignore[union-attr]
        add_event(s, type="optical character recognition", engine="tesseract", seconds=10.0, pages=2)
        add_event(s, type="transcription", engine="faster-whisper", seconds=0.5, duration=60.0)
        s.commit()
        hist = processing_histogram(s)
    counts, n, total = hist["tesseract"]
    assert (
        n == 4 and total == 4113.0 and counts == [0, 1, 2, 2, 3, 3, 3]
    )  # ≤1, ≤5, ≤15, ≤60, ≤300, ≤900, ≤3600
    assert hist["faster-whisper"] == ([1, 1, 1, 1, 1, 1, 1], 1, 0.5)
    engine.dispose()
