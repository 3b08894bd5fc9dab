"""Alembic migrations and the SQLModel tables must describe the same schema."""

from __future__ import annotations

from typing import Any

import pytest
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


def _collection(session: Any, code: str) -> Any:
    from catalog.models import Collection

    coll = Collection(code=code, name="test")
    session.add(coll)
    session.flush()
    return coll


def test_migrations_match_models(db_url: str) -> None:
    engine = get_engine(db_url)  # upgrades to head
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"include_object": include_object, "compare_type": True})
        diff = compare_metadata(ctx, SQLModel.metadata)
    assert diff == []


def test_migrate_is_explicit_and_idempotent(db_url: str) -> None:
    """A new database gets its schema on first use; an existing one that is behind (schema
    or search index) is refused with the command to run, and converted only by
    ``lantai migrate`` (catalog.db.migrate), which a second time finds nothing to do."""
    import sqlalchemy as sa
    from sqlalchemy import text

    from catalog.db import NEW, migrate, pending
    from catalog.search.terms import INDEX_VERSION
    from configs.errors import ConfigError

    raw = sa.create_engine(db_url)
    assert pending(raw) == NEW
    _migrate(raw, "0007")
    get_engine.cache_clear()
    with pytest.raises(ConfigError) as behind:
        get_engine(db_url)
    assert "schema revision 0007" in str(behind.value) and "lantai migrate" in str(behind.value)
    first = migrate(db_url)
    assert first["from"] == "0007" and first["to"] != "0007" and first["was"].startswith("has schema")
    assert pending(raw) is None
    get_engine(db_url)  # current now: opens
    again = migrate(db_url)
    assert again == {**first, "from": first["to"], "was": "current", "items_reindexed": 0}
    with raw.begin() as conn:  # an index built by an older text normalization is behind too
        conn.execute(text("UPDATE index_state SET version = 1 WHERE name = 'normalization'"))
    get_engine.cache_clear()
    with pytest.raises(ConfigError, match="text normalization 1;"):
        get_engine(db_url)
    assert migrate(db_url)["was"].endswith(f"uses {INDEX_VERSION}")
    assert pending(raw) is None
    raw.dispose()
    get_engine.cache_clear()


def _old_entries(session, item_id: int, texts: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    """Search entries of ``item_id`` as the early revisions held them (no ``pieces``), for
    staff and for the public."""
    import sqlalchemy as sa

    from catalog.search.terms import index_terms

    for audience in ("staff", "public"):
        for field, body in texts.items():
            terms = index_terms(body)
            session.execute(
                sa.text(
                    "INSERT INTO search_entry (item_id, field, text, tokens, bigrams, audience) "
                    "VALUES (:i, :f, :t, :tok, :big, :a)"
                ),
                {
                    "i": item_id,
                    "f": field,
                    "t": body,
                    "tok": terms.tokens,
                    "big": terms.bigrams,
                    "a": audience,
                },
            )


def test_postgresql_search_partitions_keep_entries(pg_url: str) -> None:
    """Migration 0006 moves PostgreSQL's search entries into hash partitions with a stored
    tsvector; the entries of an existing catalog stay searchable, and the way back keeps
    them too."""
    import sqlalchemy as sa
    from sqlmodel import Session

    from catalog.models import Access, AccessDecision, Item
    from catalog.search import Filters, reindex_item, search

    engine = sa.create_engine(pg_url)

    def migrate(revision: str, *, down: bool = False) -> None:
        _migrate(engine, revision, down=down)

    def count(sql: str) -> int:
        with engine.connect() as conn:
            return int(conn.execute(sa.text(sql)).scalar_one())

    migrate("0005")
    with Session(engine) as s:
        coll = _collection(s, "C1")
        item = Item(collection_id=coll.id, reference_code="J001-WS·2020·Y-001", title="水庫工程档案",
                    kind="scan", access=Access.open, subject="水利")  # fmt: skip
        s.add(item)
        s.flush()
        # the entries as that revision held them (written directly: today's indexer writes
        # columns of later revisions): title and description, for staff and for the public
        _old_entries(s, item.id or 0, {"title": "水庫工程档案", "meta": "水庫工程档案  水利"})
        # opened by a decision (migration 0008 sends items opened without one back to review)
        s.add(AccessDecision(item_id=item.id, reviewer="ed", access="开放", reason="ok", effective=True))
        s.commit()
    before = count("SELECT count(*) FROM search_entry")
    assert before == 4

    migrate("0006")
    assert count("SELECT count(*) FROM pg_inherits WHERE inhparent = 'search_entry'::regclass") == 32
    assert count("SELECT count(*) FROM search_entry") == before
    migrate("head")  # today's search reads today's columns
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
    migrate("head")  # 0006's copies are filled again from the items
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

    from catalog.models import Access, AccessDecision, Event, Item, SearchEntry

    engine = sa.create_engine(db_url)

    _migrate(engine, "0007")
    with Session(engine) as s:
        coll = _collection(s, "M8")
        imported = Item(collection_id=coll.id, reference_code="J001-WS·2020·Y-001", title="导入即开放",
                        kind="scan", access=Access.open)  # fmt: skip
        reviewed = Item(collection_id=coll.id, reference_code="J001-WS·2020·Y-002", title="审核后开放",
                        kind="scan", access=Access.open)  # fmt: skip
        s.add_all([imported, reviewed])
        s.flush()
        s.add(AccessDecision(item_id=reviewed.id, reviewer="ed", access="开放", reason="ok", effective=True))
        for i in (imported, reviewed):  # the entries an open item had then (staff and public);
            # written directly: today's indexer reads tables of later revisions
            _old_entries(s, i.id or 0, {"title": i.title})
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
    from catalog.ops.operations import processing_histogram

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


def test_flags_and_excerpts_get_their_pages_ids(db_url: str) -> None:
    """Migration 0012: flags and excerpts made before page ids were kept get the ids of the
    pages their numbers name (down to 0011 and up again over rows made at head)."""
    import sqlalchemy as sa
    from sqlmodel import Session

    from catalog.models import Asset, Excerpt, Flag, Item, Page, Project

    engine = sa.create_engine(db_url)
    _migrate(engine, "head")
    with Session(engine) as s:
        coll = _collection(s, "M12")
        item = Item(collection_id=coll.id, reference_code="J001-WS·2020·Y-012", title="两页", kind="scan")
        s.add(item)
        s.flush()
        asset = Asset(item_id=item.id or 0, role="master", key="masters/x", sha256="0" * 64, size=1)
        s.add(asset)
        s.flush()
        pages = [Page(item_id=item.id or 0, asset_id=asset.id or 0, page_no=n, source_page=n) for n in (1, 2)]
        s.add_all(pages)
        project = Project(title="编研")
        s.add(project)
        s.flush()
        s.add(Flag(item_id=item.id or 0, kind="pii", page_no=2))
        s.add(Excerpt(project_id=project.id or 0, item_id=item.id or 0, page_from=1, page_to=2))
        s.commit()
        page_ids = [p.id for p in pages]
    _migrate(engine, "0011", down=True)
    _migrate(engine, "head")
    with engine.connect() as c:
        assert c.execute(sa.text("SELECT page_id FROM flag")).scalar_one() == page_ids[1]
        ids = c.execute(sa.text("SELECT page_from_id, page_to_id FROM excerpt")).one()
        assert tuple(ids) == tuple(page_ids)
    engine.dispose()


@pytest.mark.parametrize("url", ["postgresql://someone@127.0.0.1:1/x", "not a database url"])
def test_an_unusable_database_url_is_a_configuration_error(url: str) -> None:
    """A URL naming a driver Lantai does not ship (psycopg2), or no URL at all: exit 3 with
    the form to use, not a traceback."""
    from catalog.db import migrate
    from configs.errors import ConfigError

    with pytest.raises(ConfigError, match="postgresql\\+psycopg://"):
        migrate(url)


def test_the_index_is_rebuilt_in_place_resumably_with_progress(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``lantai migrate`` rebuilds an index of an older version a batch at a time: stopped
    after the first batch, the next run rebuilds only the rest, and no entry is doubled."""
    import sqlalchemy as sa
    from sqlmodel import Session, func, select

    from catalog import db as catalog_db
    from catalog.models import Access, Collection, IndexState, Item, SearchEntry
    from catalog.search import reindex_item
    from catalog.search.terms import INDEX_VERSION

    engine = get_engine(db_url)
    with Session(engine) as s:
        coll = Collection(code="RS", name="resume")
        s.add(coll)
        s.flush()
        for n in range(5):  # a space between CJK characters in each title: all five are affected
            item = Item(collection_id=coll.id or 0, reference_code=f"J001-WS·2020·Y-{n:03d}",
                        title=f"第{n}章 水土", kind="scan", access=Access.open)  # fmt: skip
            s.add(item)
            s.flush()
            reindex_item(s, item)
        s.commit()
        before = s.exec(select(func.count()).select_from(SearchEntry)).one()
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE index_state SET version = 3 WHERE name = 'normalization'"))
    monkeypatch.setattr(catalog_db, "REINDEX_BATCH", 2)
    seen: list[tuple[int, int]] = []

    def stop_after_the_first_batch(done: int, total: int) -> None:
        seen.append((done, total))
        raise KeyboardInterrupt  # the operator pressed Ctrl-C

    with pytest.raises(KeyboardInterrupt):
        catalog_db.refresh_index(engine, stop_after_the_first_batch)
    assert seen == [(2, 5)]
    seen.clear()
    assert catalog_db.refresh_index(engine, lambda done, total: seen.append((done, total))) == 3
    assert seen == [(2, 3), (3, 3)]  # only the rest, with progress
    with Session(engine) as s:
        assert s.exec(select(func.count()).select_from(SearchEntry)).one() == before  # nothing doubled
        assert s.get(IndexState, "normalization").version == INDEX_VERSION  # type: ignore[union-attr]
        assert s.get(IndexState, f"reindexed_to_{INDEX_VERSION}") is None  # the cursor is gone
    assert catalog_db.refresh_index(engine) == 0
