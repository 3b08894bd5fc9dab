"""The query planner's statistics, kept current by the product itself.

Search reads the full-text index first only when the planner knows how large the tables
are; on a catalog nobody ran ``ANALYZE`` on, SQLite and PostgreSQL start from the wrong
index and a search grows with the catalog (measured for issue 31: 50 ms at 1,000 entries,
346 ms at 11,000; 0.1 ms with statistics). So after every ingest and enrichment run, and
after ``lantai reindex``, the statistics are refreshed when the search index has grown or
shrunk by a fifth since the last time (or were never gathered): SQLite's ``ANALYZE`` with
``PRAGMA analysis_limit`` (sampled: a fraction of a second on millions of rows),
PostgreSQL's ``ANALYZE`` (sampled; autovacuum does not analyse a partitioned table's parent,
which is what the planner reads for ``search_entry``), after merging the GIN indexes'
pending lists (``gin_clean_pending_list``: until a vacuum does it, the planner prices the
index by its unmerged new entries and reads every partition sequentially). The count of entries at the last
refresh is kept in ``index_state``: as the highest entry id (the entries ever written, one
index lookup), not ``count(*)``, which reads the whole table on every run — on millions
of entries that alone would cost each run seconds. Reindexing writes new ids, so a
rebuilt index counts as changed too."""

from __future__ import annotations

from sqlalchemy import Engine, text
from sqlmodel import Session

from catalog.models import IndexState

KEY = "analyzed_entries"
GROWTH = 0.2  # refresh when the index changed by more than this fraction
ANALYSIS_LIMIT = 2000  # SQLite: rows sampled per index
# PostgreSQL: the GIN indexes of the search index (one per partition)
PENDING_LISTS = """SELECT i.indexrelid::regclass::text FROM pg_index i
                   JOIN pg_class t ON t.oid = i.indrelid JOIN pg_class x ON x.oid = i.indexrelid
                   JOIN pg_am a ON a.oid = x.relam
                   WHERE a.amname = 'gin' AND t.relname LIKE 'search\\_entry%' AND t.relkind = 'r'"""


def entries(engine: Engine) -> int:
    """How many search entries were ever written: the highest id (0 for none)."""
    with engine.connect() as c:
        return int(c.execute(text("SELECT coalesce(max(id), 0) FROM search_entry")).scalar_one())


def stale(engine: Engine) -> bool:
    """Whether the statistics no longer describe the search index."""
    with Session(engine) as s:
        state = s.get(IndexState, KEY)
        last = state.version if state is not None else -1
    if last < 0:
        return True
    return abs(entries(engine) - last) > GROWTH * max(last, 50)


def refresh(engine: Engine, *, force: bool = False) -> bool:
    """Gather the planner's statistics when they are stale (or ``force``); True when it did.
    Runs in its own connection, never inside a caller's transaction."""
    if not force and not stale(engine):
        return False
    count = entries(engine)
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            # new entries wait in each GIN index's pending list until a vacuum; the planner
            # counts those pages against the index and reads every partition sequentially
            # instead (measured: 173 against 24 per partition of 1,000 entries) — so the
            # lists are merged into the indexes here, as a vacuum would
            for (index,) in c.execute(text(PENDING_LISTS)):
                c.execute(text("SELECT gin_clean_pending_list(CAST(:i AS regclass))"), {"i": index})
            c.execute(text("ANALYZE"))
    else:
        with engine.connect() as c:
            c.execute(text(f"PRAGMA analysis_limit={ANALYSIS_LIMIT}"))
            c.execute(text("ANALYZE"))
            c.commit()
    with Session(engine) as s:
        state = s.get(IndexState, KEY) or IndexState(name=KEY)
        state.version = count
        s.add(state)
        s.commit()
    return True
