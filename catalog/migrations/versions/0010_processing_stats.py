"""processing stats: the /metrics histogram kept as counters; an index for time windows

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 01:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

BUCKETS = (1, 5, 15, 60, 300, 900, 3600)
TYPES = ("optical character recognition", "transcription")


def upgrade() -> None:
    stat = op.create_table(
        "processing_stat",
        sa.Column("engine", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("total_seconds", sa.Float(), nullable=False),
        *[sa.Column(f"le_{b}", sa.Integer(), nullable=False) for b in BUCKETS],
        sa.PrimaryKeyConstraint("engine"),
    )
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.create_index("ix_event_type_at", ["type", "at"], unique=False)
    # the counters of the runs recorded so far: one pass over their events, streamed
    event = sa.table(
        "event", sa.column("id", sa.Integer), sa.column("type", sa.String), sa.column("detail", sa.JSON)
    )
    totals: dict[str, dict[str, float]] = {}
    conn, last = op.get_bind(), 0
    while True:  # in pages by id: bounded memory on millions of events
        page = conn.execute(
            sa.select(event.c.id, event.c.type, event.c.detail)
            .where(event.c.type.in_(TYPES), event.c.id > last)
            .order_by(event.c.id)
            .limit(10_000)
        ).all()
        if not page:
            break
        last = page[-1][0]
        for _id, etype, detail in page:
            detail = detail or {}
            if "seconds" not in detail:
                continue
            seconds = float(detail["seconds"])
            row = totals.setdefault(
                str(detail.get("engine") or etype)[:64], {"count": 0, "total_seconds": 0.0}
            )
            row["count"] += 1
            row["total_seconds"] += seconds
            for b in BUCKETS:
                row[f"le_{b}"] = row.get(f"le_{b}", 0) + (1 if seconds <= b else 0)
    if totals:
        op.bulk_insert(
            stat,
            [{"engine": e, **{f"le_{b}": 0 for b in BUCKETS}, **v} for e, v in totals.items()],
        )


def downgrade() -> None:
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.drop_index("ix_event_type_at")
    op.drop_table("processing_stat")
