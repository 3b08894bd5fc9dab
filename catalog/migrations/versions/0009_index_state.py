"""index state: the normalization the search index was built with

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 01:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "index_state",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    # the entries so far were built without variant folding: catalog.db rebuilds what it changes
    op.bulk_insert(table, [{"name": "normalization", "version": 1}])


def downgrade() -> None:
    op.drop_table("index_state")
