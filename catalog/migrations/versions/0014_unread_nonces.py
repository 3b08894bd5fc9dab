"""Unread text regions on pages, and partner request nonces

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 14:00:00

page.unread keeps the text regions the OCR detector found but recognition left empty or
read below its score, so screening can ask a reviewer about them (开放审核: text nobody read
is still printed on the image). partner_nonce remembers the nonces of signed partner
requests so a captured request cannot be replayed within its freshness window.
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("page") as batch:
        batch.add_column(sa.Column("unread", sa.JSON(), nullable=False, server_default="[]"))
    op.create_table(
        "partner_nonce",
        sa.Column("partner", sqlmodel.sql.sqltypes.AutoString(length=64), primary_key=True),
        sa.Column("nonce", sqlmodel.sql.sqltypes.AutoString(length=64), primary_key=True),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_partner_nonce_seen_at", "partner_nonce", ["seen_at"])


def downgrade() -> None:
    op.drop_index("ix_partner_nonce_seen_at", table_name="partner_nonce")
    op.drop_table("partner_nonce")
    with op.batch_alter_table("page") as batch:
        batch.drop_column("unread")
