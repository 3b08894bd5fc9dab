"""Publishing: the one place where an item's text is screened, its search entries rebuilt
and its public copies made — in that order, for every path that changes what the public
may see (enrichment, `lantai screen`, `lantai open`, the jobs the web app queues).

1. ``screen_and_index`` — in the caller's transaction: the machine's screening of every
   text the public could see (OCR lines, transcript segments and speakers, the description
   fields, file names; ``catalog.review.screening``), then the item's staff and public
   search entries (``catalog.search``), so a hit is masked in the index the moment it is
   found. Decisions already taken on a hit survive.
2. ``public_copies`` — with no transaction open: the redacted page images and access
   copies of an open item (``flows.redact``), each remade only when its masks changed.

Editing is the one exception, by design: a saved edit is screened and reindexed in the
edit's own transaction (``catalog.review.screening.screen_edit``), because a value typed
into an open item must never be public between the save and a later run."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from catalog.db import session_scope
from catalog.models import Access, Collection, Item
from catalog.review import screening
from catalog.search import reindex_item
from configs import Settings, get_settings
from flows import runner
from flows.redact import redact_item
from tasks import screen


def screen_and_index(
    session: Session,
    item: Item,
    lists: list[screen.TermList] | None = None,
    *,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """Screen the whole item and bring its search entries (staff and public) up to date, in
    the caller's transaction. ``lists``: the collection's term lists (read when not given)."""
    if lists is None:
        lists = screening.term_lists(settings or get_settings(), session.get(Collection, item.collection_id))
    summary = screening.screen_item(session, item, lists)
    reindex_item(session, item)
    return summary


def public_copies(item_id: int) -> dict[str, int]:
    """The redacted public page images and access copies of an open item (nothing for
    another); call it with no transaction open."""
    return redact_item(item_id)


def open_and_publish(
    *,
    reason: str,
    who: str,
    collection: str | None = None,
    item_id: int | None = None,
    proposed_only: bool = False,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """Open already-reviewed items on the archive's word (``catalog.review.openreview``:
    each screened first, refused with undecided flags or a recorded 控制/延期), committed,
    then the public copies of each opened item made. Returns ``{"opened", "refused"}``."""
    from catalog.review.openreview import open_items

    with session_scope(settings or get_settings()) as session:
        result = open_items(
            session,
            reason=reason,
            who=who,
            collection=collection,
            item_id=item_id,
            proposed_only=proposed_only,
        )
    for entry in result["opened"]:
        public_copies(int(str(entry["item_id"])))  # the public copies of pages and recordings
    return result


@runner.flow(name="screen", log_prints=False)
def screen_flow(collection: str | None = None, item_id: int | None = None) -> list[dict[str, Any]]:
    """Screen every enriched item (of a collection, or one item): screened, reindexed, and
    an open item's public copies remade where a hit was found."""
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
            summary = screen_and_index(session, item, lists)
            results.append({"item_id": item.id, "reference_code": item.reference_code, **summary})
            session.commit()
            if item.access == Access.open and summary["hits"]:
                public_copies(item.id or 0)  # open items serve only redacted copies
    logger.info("screened %d items", len(results))
    return results
