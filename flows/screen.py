"""Screening of items (开放审核's machine first pass) as a flow: every enriched item (of a
collection, or one) is screened by ``catalog.review.screening`` — OCR lines, transcript segments
and speakers, the description fields and file names — its search entries rebuilt, and an
open item's redacted public copies remade. Decisions already taken on a hit survive."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from catalog.db import session_scope
from catalog.models import Access, Collection, Item
from catalog.review import screening
from catalog.search import reindex_item
from configs import get_settings
from flows import runner
from flows.redact import redact_item
from tasks import screen


def screen_item(session: Session, item: Item, lists: list[screen.TermList]) -> dict[str, Any]:
    """Screen the whole item and bring its search entries (staff and public) up to date."""
    summary = screening.screen_item(session, item, lists)
    reindex_item(session, item)
    return summary


@runner.flow(name="screen", log_prints=False)
def screen_flow(collection: str | None = None, item_id: int | None = None) -> list[dict[str, Any]]:
    """Screen every enriched item (of a collection, or one item)."""
    logger = runner.logger()
    settings = get_settings()
    results = []
    with session_scope(settings) as session:
        query = (
            select(Item)
            .join(Collection)
            .where(col(Item.status).not_in(["pending", "processing", "quarantined"]))
        )
        if collection:
            query = query.where(Collection.code == collection)
        if item_id is not None:
            query = query.where(Item.id == item_id)
        items = session.exec(query.order_by(col(Item.id))).all()
        for item in items:
            lists = screening.term_lists(settings, session.get(Collection, item.collection_id))
            summary = screen_item(session, item, lists)
            results.append({"item_id": item.id, "reference_code": item.reference_code, **summary})
            session.commit()
            if item.access == Access.open and summary["hits"]:
                redact_item(item.id or 0)  # open items serve only redacted copies
    logger.info("screened %d items", len(results))
    return results
