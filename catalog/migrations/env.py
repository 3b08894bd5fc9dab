"""Alembic environment: runs on the connection Lantai hands over (see catalog.db.upgrade)."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import catalog.models  # noqa: F401  (registers the tables)

config = context.config
target_metadata = SQLModel.metadata

# Full-text objects are created by hand in migrations; autogenerate must not drop them.
MANUAL_TABLES = {"search_fts", "search_fts_data", "search_fts_idx", "search_fts_docsize",
                 "search_fts_config", "search_fts_content"}


def include_object(obj, name, type_, reflected, compare_to):  # type: ignore[no-untyped-def]
    if type_ == "table" and name in MANUAL_TABLES:
        return False
    return not (type_ == "index" and name and name.startswith("ix_search_tsv"))


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        engine = config.attributes["engine"]
        with engine.begin() as connection:
            _run(connection)
    else:
        _run(connection)


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_object=include_object,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run()
