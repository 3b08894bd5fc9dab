"""OAI-PMH and the union catalog: withdrawn records, harvest sources, union records,
partner archives and forwarded copy requests

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 10:00:00

The OAI-PMH provider reports an item that was open and is no longer as a deleted record
(withdrawn_record; items closed before this revision are found by their effective 开放
decision instead). The harvester keeps other archives' feeds (harvest_source) and their
records (union_record); copy requests travel between partner archives (partner,
partner_request, forwarded_request).
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def _s(length: int | None = None) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.create_table(
        "withdrawn_record",
        sa.Column("item_id", sa.Integer(), sa.ForeignKey("item.id"), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "harvest_source",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", _s(64), nullable=False),
        sa.Column("url", _s(2048), nullable=False),
        sa.Column("set_spec", _s(128), nullable=False),
        sa.Column("prefix", _s(32), nullable=False),
        sa.Column("repository_name", _s(), nullable=False),
        sa.Column("key", _s(256), nullable=False),
        sa.Column("since", _s(32), nullable=False),
        sa.Column("token", sa.Text(), nullable=False),
        sa.Column("status", _s(12), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("last_added", sa.Integer(), nullable=False),
        sa.Column("last_deleted", sa.Integer(), nullable=False),
        sa.Column("last_rejected", sa.Integer(), nullable=False),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_harvest_source_name", "harvest_source", ["name"], unique=True)
    op.create_table(
        "union_record",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("source_id", sa.Integer(), sa.ForeignKey("harvest_source.id"), nullable=False),
        sa.Column("identifier", _s(512), nullable=False),
        sa.Column("datestamp", _s(32), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("creator", sa.Text(), nullable=False),
        sa.Column("date", _s(64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("kind", _s(32), nullable=False),
        sa.Column("reference_code", _s(256), nullable=False),
        sa.Column("link", _s(2048), nullable=False),
        sa.Column("folded", sa.Text(), nullable=False),
        sa.UniqueConstraint("source_id", "identifier"),
    )
    op.create_index("ix_union_record_source_id", "union_record", ["source_id"])
    op.create_table(
        "partner",
        sa.Column("name", _s(64), primary_key=True),
        sa.Column("key", _s(256), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "partner_request",
        sa.Column("copy_request_id", sa.Integer(), sa.ForeignKey("copy_request.id"), primary_key=True),
        sa.Column("partner", _s(64), nullable=False),
    )
    op.create_index("ix_partner_request_partner", "partner_request", ["partner"])
    op.create_table(
        "forwarded_request",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("record_id", sa.Integer(), sa.ForeignKey("union_record.id"), nullable=False),
        sa.Column("name", _s(128), nullable=False),
        sa.Column("contact", _s(256), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("remote_id", sa.Integer(), nullable=True),
        sa.Column("status", _s(12), nullable=False),
        sa.Column("error", _s(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_forwarded_request_record_id", "forwarded_request", ["record_id"])


def downgrade() -> None:
    for table in ("forwarded_request", "partner_request", "partner", "union_record", "harvest_source"):
        op.drop_table(table)
    op.drop_table("withdrawn_record")
