"""opening is a decision: items opened by a manifest alone go back to open review

Before this revision a manifest's 开放标识=开放 opened an item at ingest, without review.
Items that are open without an effective 开放 decision are set back to 未审核 with the
manifest's value kept as the proposal (``extra.proposed_access``), their public search
entries are removed, and an event records it. Re-open them with open review or with
``lantai open --collection CODE --proposed --reason …``.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 01:00:00
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

OPEN, UNREVIEWED = "开放", "未审核"


def upgrade() -> None:
    conn = op.get_bind()
    item = sa.table("item", sa.column("id", sa.Integer), sa.column("access", sa.String),
                    sa.column("extra", sa.JSON))  # fmt: skip
    decision = sa.table("access_decision", sa.column("item_id", sa.Integer), sa.column("access", sa.String),
                        sa.column("effective", sa.Boolean))  # fmt: skip
    entry = sa.table("search_entry", sa.column("item_id", sa.Integer), sa.column("audience", sa.String))
    event = sa.table("event", sa.column("item_id", sa.Integer), sa.column("type", sa.String),
                     sa.column("agent", sa.String), sa.column("outcome", sa.String),
                     sa.column("detail", sa.JSON), sa.column("at", sa.DateTime(timezone=True)))  # fmt: skip
    decided = sa.select(decision.c.item_id).where(decision.c.effective.is_(True), decision.c.access == OPEN)
    rows = conn.execute(
        sa.select(item.c.id, item.c.extra).where(item.c.access == OPEN, item.c.id.not_in(decided))
    ).all()
    now = datetime.now(UTC)
    for item_id, extra in rows:
        conn.execute(
            item.update()
            .where(item.c.id == item_id)
            .values(access=UNREVIEWED, extra={**(extra or {}), "proposed_access": OPEN})
        )
        conn.execute(entry.delete().where(entry.c.item_id == item_id, entry.c.audience == "public"))
        conn.execute(
            event.insert().values(
                item_id=item_id,
                type="access decision",
                agent="migration 0008",
                outcome="warning",
                at=now,
                detail={
                    "before": OPEN,
                    "after": UNREVIEWED,
                    "effective": True,
                    "reason": "opened by a manifest without open review: back to review",
                },
            )
        )


def downgrade() -> None:
    """Nothing to undo: which items a manifest had opened is kept in extra.proposed_access."""
