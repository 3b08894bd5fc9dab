"""page ids beside page numbers on flags and excerpts

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 07:00:00

Flags and compilation excerpts named their pages by number only; they now also keep the
page row's id (a page keeps its row across re-runs), filled here for existing rows.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("flag", schema=None) as batch_op:
        batch_op.add_column(sa.Column("page_id", sa.Integer(), nullable=True))
    with op.batch_alter_table("excerpt", schema=None) as batch_op:
        batch_op.add_column(sa.Column("page_from_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("page_to_id", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE flag SET page_id = (SELECT page.id FROM page"
        " WHERE page.item_id = flag.item_id AND page.page_no = flag.page_no)"
        " WHERE page_no IS NOT NULL"
    )
    for end in ("from", "to"):
        op.execute(
            f"UPDATE excerpt SET page_{end}_id = (SELECT page.id FROM page"
            f" WHERE page.item_id = excerpt.item_id AND page.page_no = excerpt.page_{end})"
            f" WHERE page_{end} IS NOT NULL"
        )


def downgrade() -> None:
    with op.batch_alter_table("excerpt", schema=None) as batch_op:
        batch_op.drop_column("page_to_id")
        batch_op.drop_column("page_from_id")
    with op.batch_alter_table("flag", schema=None) as batch_op:
        batch_op.drop_column("page_id")
