"""Running text in the search index: where each stretch of an entry's text came from

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 06:00:00

search_entry.pieces maps an entry's text back to its lines (page, line) or segments, so a
page is indexed as one running text (a phrase is found across a line end or page break)
and a hit still names its boxes and start time (catalog.search.running). The entries
themselves are rebuilt by ``lantai migrate`` (search index version 5), in place and
resumably.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("search_entry", sa.Column("pieces", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("search_entry", "pieces")
