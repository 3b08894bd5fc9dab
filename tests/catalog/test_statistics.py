"""Planner statistics are the product's job: the catalog refreshes them itself when the
search index has changed by a fifth, and with them a search reads the full-text index
first (on a catalog nobody ran ANALYZE on, SQLite started from the wrong index)."""

from __future__ import annotations

from sqlalchemy import event, text
from sqlmodel import Session

from catalog.db import get_engine
from catalog.models import Access, Asset, Collection, Item, Page
from catalog.ops import statistics
from catalog.search import Filters, reindex_item, search_items


def _items(s: Session, coll: Collection, start: int, count: int) -> None:
    for n in range(start, start + count):
        title = f"第{n}号 水库档案"
        item = Item(
            collection_id=coll.id or 0, reference_code=f"S-{n}", title=title, kind="scan", access=Access.open
        )
        s.add(item)
        s.flush()
        asset = Asset(item_id=item.id or 0, role="master", key=f"m/{n}", sha256=f"{n:064d}")
        s.add(asset)
        s.flush()
        lines = [{"text": f"河道治理 会议 {n} 第{k}行", "bbox": [0, 0, 9, 9], "words": []} for k in range(5)]
        s.add(Page(item_id=item.id or 0, asset_id=asset.id, page_no=1, lines=lines, text=""))
        s.flush()
        reindex_item(s, item)
    s.commit()


def test_statistics_follow_the_index(db_url: str) -> None:
    engine = get_engine(db_url)
    with Session(engine) as s:
        coll = Collection(code="S", name="stats")
        s.add(coll)
        s.flush()
        _items(s, coll, 0, 40)
        assert statistics.stale(engine)
        assert statistics.refresh(engine)  # never gathered: gathered now
        assert not statistics.refresh(engine)  # nothing changed
        _items(s, coll, 40, 4)  # a tenth more: still current
        assert not statistics.refresh(engine)
        _items(s, coll, 44, 20)  # half as much again: refreshed
        assert statistics.refresh(engine)
    with engine.connect() as c:
        if engine.dialect.name == "sqlite":
            rows = c.execute(
                text("SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'search_entry'")
            ).scalar_one()
        else:
            rows = c.execute(
                text("SELECT count(*) FROM pg_stats WHERE tablename LIKE 'search_entry%'")
            ).scalar_one()
    assert rows > 0


def test_the_search_reads_the_full_text_index_first_once_statistics_exist(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """EXPLAIN of the statements a search runs, on SQLite, after the product's refresh."""
    engine = get_engine(f"sqlite:///{tmp_path / 'catalog.db'}")
    with Session(engine) as s:
        coll = Collection(code="S", name="stats")
        s.add(coll)
        s.flush()
        _items(s, coll, 0, 300)
    statistics.refresh(engine)
    seen: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if "search_fts" in statement and statement.lstrip().upper().startswith(("SELECT", "WITH")):
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        with Session(engine) as s:
            # two words: each is one statement, and the second is also asked within the items
            # the first holds when it is capped (the statements are captured either way)
            hits = search_items(s, "河道", filters=Filters(), limit=20, with_facets=True).items
            hits += search_items(s, "河道 -没有", filters=Filters(), limit=20).items
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert hits and seen
    with engine.connect() as c:
        for statement, parameters in seen:
            plan = [row[-1] for row in c.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)]
            first_scan = next(step for step in plan if step.startswith(("SCAN", "SEARCH")))
            assert "search_fts" in first_scan and "VIRTUAL TABLE" in first_scan, plan


def test_postgresql_reads_the_full_text_index_first_once_statistics_exist(pg_url: str) -> None:
    """EXPLAIN of the statements a search runs on PostgreSQL, after the product's refresh
    (no ANALYZE of the test's own): every partition of the search index is read through its
    GIN index on the tsvector, none sequentially, and no other index leads. (Without the
    refresh merging the GIN pending lists, every partition was read sequentially.)"""
    engine = get_engine(pg_url)
    with Session(engine) as s:  # 60 items of 250 pages: about 1,000 entries in each of the 32 partitions
        coll = Collection(code="S", name="stats")
        s.add(coll)
        s.flush()
        for n in range(60):
            item = Item(collection_id=coll.id or 0, reference_code=f"S-{n}", title=f"第{n}号 水库档案",
                        kind="scan", access=Access.open)  # fmt: skip
            s.add(item)
            s.flush()
            asset = Asset(item_id=item.id or 0, role="master", key=f"m/{n}", sha256=f"{n:064d}")
            s.add(asset)
            s.flush()
            for k in range(1, 251):
                line = {"text": f"河道治理会议 卷{n}页{k}", "bbox": [0, 0, 9, 9], "words": []}
                s.add(Page(item_id=item.id or 0, asset_id=asset.id, page_no=k, lines=[line], text=""))
            s.flush()
            reindex_item(s, item)
            s.commit()
            statistics.refresh(engine)  # as ingest and enrich do after their runs
    seen: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if "to_tsquery" in statement and statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        with Session(engine) as s:
            hits = search_items(s, "卷17页123", filters=Filters(), limit=20, with_facets=True).items
            hits += search_items(s, "卷17页123 -没有", filters=Filters(), limit=20).items
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert hits and seen
    with engine.connect() as c:
        for statement, parameters in seen:
            plan = "\n".join(row[0] for row in c.exec_driver_sql(f"EXPLAIN {statement}", parameters))
            scans = [line.strip() for line in plan.splitlines() if " on search_entry" in line]
            assert scans, plan
            assert not [x for x in scans if "Seq Scan" in x], plan
            if "item_id IN" not in statement:  # (a word asked within a few items' entries may lead with them)
                assert all("tsv" in x for x in scans if "Index" in x), plan
