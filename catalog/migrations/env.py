"""Alembic environment: runs on the connection Lantai hands over (see catalog.db.upgrade)."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import catalog.models  # noqa: F401  (registers the tables)
from catalog.db import include_object

config = context.config
target_metadata = SQLModel.metadata


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
