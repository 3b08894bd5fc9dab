"""Data access in keyword-only functions that take the session."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from sqlmodel import Session, col, func, select

from catalog.models import (
    SCREENING_KINDS,
    UNDECIDED,
    Asset,
    AssetRole,
    Collection,
    Event,
    EventType,
    Flag,
    Item,
    ItemStatus,
    Page,
    Segment,
    Transcript,
    utcnow,
)

AGENT = "lantai"


def get_or_create_collection(
    session: Session,
    *,
    code: str,
    name: str = "",
    fonds: str = "J001",
    ocr_languages: str = "chi_sim+eng",
    retention: str = "Y",
    script: str = "zh-Hans",
) -> Collection:
    found = session.exec(select(Collection).where(Collection.code == code)).first()
    if found:
        return found
    coll = Collection(
        code=code,
        name=name or code,
        fonds=fonds,
        ocr_languages=ocr_languages,
        retention=retention,
        script=script,
    )
    session.add(coll)
    session.flush()
    return coll


def add_event(
    session: Session,
    *,
    type: EventType,
    item_id: int | None = None,
    asset_id: int | None = None,
    agent: str = AGENT,
    outcome: str = "success",
    **detail: Any,
) -> Event:
    """Record a PREMIS-style event."""
    event = Event(type=type, item_id=item_id, asset_id=asset_id, agent=agent, outcome=outcome, detail=detail)
    session.add(event)
    if type in (EventType.ocr, EventType.transcription) and "seconds" in detail:
        from catalog.ops.operations import count_processing

        count_processing(session, engine=str(detail.get("engine") or type), seconds=float(detail["seconds"]))
    return event


def master_by_sha(session: Session, *, sha256: str) -> Asset | None:
    return session.exec(select(Asset).where(Asset.sha256 == sha256, Asset.role == AssetRole.master)).first()


def item_by_refcode(session: Session, *, reference_code: str) -> Item | None:
    return session.exec(select(Item).where(Item.reference_code == reference_code)).first()


def masters(session: Session, *, item_id: int) -> list[Asset]:
    return list(
        session.exec(
            select(Asset)
            .where(Asset.item_id == item_id, Asset.role == AssetRole.master)
            .order_by(col(Asset.sequence))
        ).all()
    )


def derivative(session: Session, *, source_asset_id: int, role: str) -> Asset | None:
    return session.exec(
        select(Asset).where(Asset.source_asset_id == source_asset_id, Asset.role == role)
    ).first()


def items_to_enrich(
    session: Session,
    *,
    collection: str | None = None,
    item_id: int | None = None,
    include_done: bool = False,
) -> list[int]:
    """Ids of items with work left (pending, or left processing by a killed run)."""
    query = select(Item.id).join(Collection)
    if item_id is not None:
        query = query.where(Item.id == item_id)
    if collection:
        query = query.where(Collection.code == collection)
    if not include_done:
        query = query.where(col(Item.status).in_([ItemStatus.pending, ItemStatus.processing]))
    else:
        query = query.where(Item.status != ItemStatus.quarantined)
    return [i for i in session.exec(query.order_by(col(Item.id))).all() if i is not None]


def claim_item(session: Session, *, item_id: int, worker: str, lease_hours: float) -> Item | None:
    """Atomically mark an item as being processed by ``worker``. Returns None when another
    worker holds a live claim on it (one claimed less than ``lease_hours`` ago): two workers
    never process one item at the same time. A worker may always take back its own claim
    (it was restarted after a kill)."""
    from datetime import timedelta

    from sqlalchemy import and_, or_, update

    now = utcnow()
    free = or_(
        col(Item.status) != ItemStatus.processing,
        col(Item.claimed_by) == worker,
        col(Item.claimed_by) == "",
        col(Item.claimed_at).is_(None),
        and_(col(Item.claimed_at).is_not(None), col(Item.claimed_at) < now - timedelta(hours=lease_hours)),
    )
    result = session.execute(
        update(Item)
        .where(col(Item.id) == item_id, free)
        .values(status=ItemStatus.processing, status_reason="", claimed_by=worker, claimed_at=now)
        .execution_options(synchronize_session=False)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        return None
    item = session.get(Item, item_id)
    if item is not None:
        session.refresh(item)
    return item


def renew_claim(session: Session, *, item_id: int, worker: str) -> bool:
    """Push the lease of ``worker``'s claim on an item forward (the enrichment heartbeat);
    False when the claim is no longer this worker's."""
    from sqlalchemy import update

    result = session.execute(
        update(Item)
        .where(
            col(Item.id) == item_id,
            col(Item.claimed_by) == worker,
            col(Item.status) == ItemStatus.processing,
        )
        .values(claimed_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def status_report(session: Session) -> dict[str, Any]:
    """Counts per collection and stage, and every failed or quarantined item with its reason."""
    stages = [s.value for s in ItemStatus]
    counts: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(stages, 0))
    rows = session.exec(
        select(Collection.code, Item.status, func.count())
        .join(Item, col(Item.collection_id) == Collection.id)
        .group_by(Collection.code, Item.status)
    ).all()
    for code, status, n in rows:
        counts[code][status] = n
    for code in session.exec(select(Collection.code)).all():
        counts[code]
    problems = session.exec(
        select(Item, Collection.code)
        .join(Collection)
        .where(col(Item.status).in_([ItemStatus.failed, ItemStatus.quarantined]))
        .order_by(col(Item.id))
    ).all()
    failures = [
        {
            "item_id": item.id,
            "collection": code,
            "reference_code": item.reference_code,
            "source_name": item.source_name,
            "status": item.status,
            "reason": item.status_reason,
            "retry": f"lantai enrich --item {item.id}" if item.status == ItemStatus.failed else None,
        }
        for item, code in problems
    ]
    totals = Counter[str]()
    for per in counts.values():
        totals.update(per)
    return {
        "collections": dict(counts),
        "totals": {s: totals.get(s, 0) for s in stages},
        "failures": failures,
    }


def list_items(
    session: Session, *, collection: str | None = None, status: str | None = None
) -> list[dict[str, Any]]:
    open_flags = dict(
        session.exec(
            select(Flag.item_id, func.count())
            .where(col(Flag.status).in_(UNDECIDED))
            .group_by(col(Flag.item_id))
        ).all()
    )
    query = select(Item, Collection.code).join(Collection)
    if collection:
        query = query.where(Collection.code == collection)
    if status:
        query = query.where(Item.status == status)
    return [
        {
            "item_id": item.id,
            "reference_code": item.reference_code,
            "title": item.title,
            "kind": item.kind,
            "source_name": item.source_name,
            "status": item.status,
            "access": item.access,
            "flags": open_flags.get(item.id or 0, 0),
            "collection": code,
        }
        for item, code in session.exec(query.order_by(col(Item.id))).all()
    ]


def item_text(session: Session, *, item_id: int) -> dict[str, Any]:
    """Pages and transcript segments of an item, for exports and summaries."""
    pages = session.exec(select(Page).where(Page.item_id == item_id).order_by(col(Page.page_no))).all()
    transcripts = session.exec(
        select(Transcript).where(Transcript.item_id == item_id).order_by(col(Transcript.id))
    ).all()
    segments = {
        t.id: list(
            session.exec(
                select(Segment).where(Segment.transcript_id == t.id).order_by(col(Segment.seq))
            ).all()
        )
        for t in transcripts
    }
    return {"pages": list(pages), "transcripts": list(transcripts), "segments": segments}


def review_queue(
    session: Session, *, collection: str | None = None, status: str | None = None, limit: int = 200
) -> list[dict[str, Any]]:
    """Items for editors, the neediest first: most open flags, then lowest machine
    confidence (transcript segment confidence, else OCR mean confidence, 0..1). Counted,
    sorted and cut in one SQL query: a catalog of any size returns ``limit`` rows."""
    flags = (
        select(col(Flag.item_id).label("item_id"), func.count().label("n"))
        .where(col(Flag.status).in_(UNDECIDED))
        .group_by(col(Flag.item_id))
        .subquery()
    )
    pages = (
        select(col(Page.item_id).label("item_id"), (func.avg(Page.mean_conf) / 100.0).label("c"))
        .where(col(Page.mean_conf).is_not(None))
        .group_by(col(Page.item_id))
        .subquery()
    )
    segments = (
        select(col(Transcript.item_id).label("item_id"), func.avg(Segment.confidence).label("c"))
        .join(Segment, col(Segment.transcript_id) == Transcript.id)
        .group_by(col(Transcript.item_id))
        .subquery()
    )
    open_flags = func.coalesce(flags.c.n, 0)
    confidence = func.coalesce(segments.c.c, pages.c.c)
    statuses = [status] if status else [ItemStatus.enriched, ItemStatus.in_review]
    query = (
        select(Item, Collection.code, open_flags, confidence)
        .join(Collection)
        .outerjoin(flags, flags.c.item_id == Item.id)
        .outerjoin(pages, pages.c.item_id == Item.id)
        .outerjoin(segments, segments.c.item_id == Item.id)
        .where(col(Item.status).in_(statuses))
    )
    if collection:
        query = query.where(Collection.code == collection)
    query = query.order_by(open_flags.desc(), func.coalesce(confidence, 2.0), col(Item.id)).limit(limit)
    return [
        {
            "item": item,
            "collection": code,
            "flags": int(n or 0),
            "confidence": None if conf is None else round(float(conf), 3),
        }
        for item, code, n, conf in session.exec(query).all()
    ]


def collection_codes(session: Session) -> list[str]:
    return list(session.exec(select(Collection.code).order_by(col(Collection.code))).all())


def item_screening(session: Session, *, item_id: int) -> dict[str, int]:
    """Open screening flags of an item, counted by category."""
    rows = session.exec(
        select(Flag.category, func.count())
        .where(Flag.item_id == item_id, col(Flag.status).in_(UNDECIDED), col(Flag.kind).in_(SCREENING_KINDS))
        .group_by(col(Flag.category))
    ).all()
    return {category: int(n) for category, n in rows}
