"""Engine, sessions and schema upgrades (Alembic) for SQLite and PostgreSQL.

Start-up is explicit: a new, empty catalog is created on first use (nothing to convert),
but an existing catalog is upgraded only by ``lantai migrate`` (which ``lantai serve``,
``lantai worker``, the demo and setup run first). Any other process that finds the schema
or the search index behind this version of Lantai stops with a ``ConfigError`` naming the
command, instead of converting — or reindexing — a whole catalog as a side effect of its
first query.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlmodel import Session, create_engine

from configs import Settings
from configs.errors import ConfigError

MIGRATIONS = Path(__file__).with_name("migrations")


# Full-text objects are created by hand in migrations; autogenerate must leave them alone.
FULLTEXT_TABLES = frozenset(
    {
        "search_fts",
        "search_fts_data",
        "search_fts_idx",
        "search_fts_docsize",
        "search_fts_config",
        "search_fts_content",
    }
)


# On PostgreSQL search_entry is hash-partitioned (migration 0006): its partitions, its
# stored tsvector and its copies of item fields (item_*) are made by hand too.
_PARTITION = re.compile(r"search_entry_p\d+")
ITEM_COPIES = ("collection_id", "kind", "date", "language", "status", "access")
SEARCH_COPIES = frozenset({"tsv", *(f"item_{name}" for name in ITEM_COPIES)})


def include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """Alembic filter: everything but the hand-made full-text objects."""
    if type_ == "table" and (name in FULLTEXT_TABLES or _PARTITION.fullmatch(name or "")):
        return False
    table = getattr(getattr(obj, "table", None), "name", "")
    if type_ == "column" and table == "search_entry" and name in SEARCH_COPIES:
        return False
    return not (type_ == "index" and name == "ix_search_tsv")


def _sqlite_pragmas(dbapi_conn: Any, _record: object) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")  # readers do not block the writer
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    # a search reads thousands of scattered rows: 64 MB of page cache per connection (filled
    # only as used) instead of SQLite's 2 MB default (docs/benchmarks.md)
    cur.execute("PRAGMA cache_size=-65536")
    cur.close()


@lru_cache(maxsize=8)
def get_engine(url: str) -> Engine:
    """One engine per database URL per process. A new database gets the schema; one whose
    schema or index is behind raises ``ConfigError`` (run ``lantai migrate``)."""
    engine = _engine(url)
    try:
        behind = pending(engine)
        if behind == NEW:
            upgrade(engine)
        elif behind:
            raise ConfigError(
                f"the catalog database {engine.url.render_as_string(hide_password=True)} {behind}",
                hint="run: lantai migrate (back the database up first; `lantai serve` and "
                "`lantai worker` run it at start)",
            )
    except OperationalError as e:
        raise ConfigError(
            f"cannot open the catalog database: {e.orig}",
            hint="check LANTAI_DATABASE_URL (or that LANTAI_HOME is writable)",
        ) from e
    return engine


NEW = "is new"


def pending(engine: Engine) -> str | None:
    """What ``lantai migrate`` would do: ``NEW`` for an empty database, a sentence for a
    schema or search index behind this version, None when current."""
    from alembic.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from catalog.search.terms import INDEX_VERSION

    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
        if current is None:
            return NEW
        if current != head:
            return f"has schema revision {current}; this version of Lantai needs {head}"
        row = conn.execute(text("SELECT version FROM index_state WHERE name = 'normalization'")).first()
    built = row[0] if row else 1
    if built < INDEX_VERSION:
        return f"has a search index of text normalization {built}; this version uses {INDEX_VERSION}"
    return None


def migrate(url: str, progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """``lantai migrate``: bring the schema to the newest revision and the search index
    to the current normalization (resumable; ``progress(done, total)`` items). Idempotent;
    returns what it found and did."""
    from alembic.migration import MigrationContext

    engine = _engine(url)
    try:
        with engine.connect() as conn:
            before = MigrationContext.configure(conn).get_current_revision()
        reason = pending(engine)
        reindexed = upgrade(engine, progress)
        with engine.connect() as conn:
            after = MigrationContext.configure(conn).get_current_revision()
    except OperationalError as e:
        raise ConfigError(
            f"cannot open the catalog database: {e.orig}",
            hint="check LANTAI_DATABASE_URL (or that LANTAI_HOME is writable)",
        ) from e
    get_engine.cache_clear()  # the next session checks again, and finds it current
    return {
        "database": engine.url.render_as_string(hide_password=True),
        "from": before,
        "to": after,
        "was": reason or "current",
        "items_reindexed": reindexed,
    }


@lru_cache(maxsize=8)
def _engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        try:
            engine = create_engine(url, pool_pre_ping=True)
        except (ArgumentError, ImportError) as e:  # not a URL, or a driver Lantai does not ship
            raise ConfigError(
                f"LANTAI_DATABASE_URL cannot be used: {e}",
                hint="PostgreSQL: postgresql+psycopg://USER:PASSWORD@HOST:5432/DB (empty: SQLite)",
            ) from e
    return engine


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, progress: Callable[[int, int], None] | None = None) -> int:
    """Bring the schema to the newest migration (a no-op when it is current), then the
    search index to the current text normalization; returns the items reindexed."""
    with engine.begin() as conn:
        cfg = alembic_config(engine)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    return refresh_index(engine, progress)


REINDEX_BATCH = 200  # items rebuilt per transaction by ``refresh_index``


def refresh_index(engine: Engine, progress: Callable[[int, int], None] | None = None) -> int:
    """Rebuild the search entries of the items whose text the current index version reads
    differently from the one the index was built with (one scan of the index; nothing when
    it is current). In place and resumable: items are rebuilt in order of id, a batch per
    transaction, the last finished id kept in ``index_state``, so a run that is stopped
    goes on where it stopped. ``progress(done, total)`` after each batch. Returns the
    number of items rebuilt by this run."""
    from catalog.models import IndexState, Item
    from catalog.search import reindex_item
    from catalog.search.terms import INDEX_VERSION, JOINS_CJK, RUNNING_TEXT, VARIANTS, joinable
    from tasks.text import FORMAT_CHARACTERS

    with Session(engine) as session:
        state = session.get(IndexState, "normalization") or IndexState(name="normalization", version=1)
        if state.version >= INDEX_VERSION:
            return 0
        # version 2 folded VARIANTS (found in the normalized tokens an older index holds);
        # version 3 drops format characters (found in the entry's text)
        changed = [("tokens", chr(c)) for c in sorted(VARIANTS)]
        changed += [("text", ch) for ch in FORMAT_CHARACTERS] if state.version < 3 else []
        clauses = " OR ".join(f"{column} LIKE :c{i}" for i, (column, _) in enumerate(changed))
        params = {f"c{i}": f"%{ch}%" for i, (_, ch) in enumerate(changed)}
        ids = {
            i
            for (i,) in session.execute(
                text(f"SELECT DISTINCT item_id FROM search_entry WHERE {clauses}"), params
            )
        }
        if state.version < RUNNING_TEXT:  # every page and transcript becomes running text
            ids |= {
                i
                for (i,) in session.execute(
                    text("SELECT DISTINCT item_id FROM search_entry WHERE field IN ('page', 'segment')")
                )
            }
        if state.version < JOINS_CJK:
            # version 4 reads through a whitespace between CJK characters, and counts the
            # supplementary ideographs (extensions B to H) as CJK: one streamed pass
            rows = session.execute(
                text("SELECT item_id, text FROM search_entry"), execution_options={"yield_per": 10_000}
            )
            ids |= {i for i, body in rows if i not in ids and (joinable(body) or _supplementary(body))}
        cursor = session.get(IndexState, f"reindexed_to_{INDEX_VERSION}")  # the last item done
        done_up_to = cursor.version if cursor is not None else 0
        todo = [i for i in sorted(ids) if i > done_up_to]
        cursor = cursor or IndexState(name=f"reindexed_to_{INDEX_VERSION}", version=0)
        count = 0
        for start in range(0, len(todo), REINDEX_BATCH):
            batch = todo[start : start + REINDEX_BATCH]
            for item_id in batch:
                item = session.get(Item, item_id)
                if item is not None:
                    reindex_item(session, item)
                    count += 1
            cursor.version = batch[-1]
            session.add(cursor)
            session.commit()
            if progress is not None:
                progress(start + len(batch), len(todo))
        state.version = INDEX_VERSION
        session.add(state)
        if session.get(IndexState, cursor.name) is not None:
            session.delete(cursor)
        session.commit()
        return count


def _supplementary(body: str) -> bool:
    """Whether ``body`` holds a character outside the Basic Multilingual Plane."""
    return any(ord(ch) > 0xFFFF for ch in body)


@contextmanager
def session_scope(settings: Settings) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    with Session(get_engine(settings.db_url), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
