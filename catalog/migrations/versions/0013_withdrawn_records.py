"""withdrawn records: items that were open and are no longer (OAI-PMH deleted records)

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 10:00:00

The OAI-PMH provider reports an item that was open and is no longer as a deleted record.
Items closed before this revision are found by their effective 开放 decision instead.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "withdrawn_record",
        sa.Column("item_id", sa.Integer(), sa.ForeignKey("item.id"), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("withdrawn_record")
