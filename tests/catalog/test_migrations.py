"""Alembic migrations and the SQLModel tables must describe the same schema."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from catalog.db import get_engine, include_object


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
