"""the OCR engine per collection and per item

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 09:30:00

PP-OCR joined Tesseract: a collection may fix its engine (created under
LANTAI_OCR__ENGINE) and a manifest row may choose one for its item (ocr引擎). Empty means
the next level decides (item → collection → setting).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("collection", "item"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("ocr_engine", sa.String(), nullable=False, server_default=""))


def downgrade() -> None:
    for table in ("item", "collection"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("ocr_engine")
