"""Open review (开放审核): reviewers confirm or dismiss screening flags and decide each
item's 开放标识 with a reason, in one or two rounds. Every step is an event."""

from __future__ import annotations

from sqlalchemy import and_, case, false, or_
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, func, select

from catalog.crud import add_event
from catalog.models import (
    UNDECIDED,
    Access,
    AccessDecision,
    Collection,
    EventType,
    Flag,
    Item,
    WithdrawnRecord,
    utcnow,
)
from catalog.review.editing import NotFound
from catalog.review.redaction import SCREENING_KINDS
from catalog.search import reindex_item
from configs.errors import BadInputError, LantaiError

ACCESS_VALUES = tuple(a.value for a in Access)


class ReviewRefused(LantaiError):
    """A review or opening step is refused now: the same reviewer twice, screening flags
    left undecided, an item not yet reviewed (`lantai open` exits 8 when any item is refused)."""

    exit_code = 8
    http_status = 409


def decide_flag(session: Session, *, flag_id: int, decision: str, reason: str, reviewer: str) -> Flag:
    """Confirm (the hit must stay hidden) or dismiss (a false alarm) one screening flag."""
    flag = session.get(Flag, flag_id)
    if flag is None or flag.kind not in SCREENING_KINDS:
        raise NotFound(f"no screening flag {flag_id}")
    status = {"confirm": "confirmed", "dismiss": "dismissed"}.get(decision)
    if status is None:
        raise BadInputError("decision is confirm or dismiss")
    if decision == "dismiss" and not reason.strip():
        raise BadInputError("say why the flag is dismissed (a reason is required)")
    before = flag.status
    flag.status = status
    flag.detail = {
        **flag.detail,
        "decision": {"by": reviewer, "reason": reason.strip(), "at": utcnow().isoformat()},
    }
    session.add(flag)
    add_event(
        session,
        type=EventType.screening_review,
        item_id=flag.item_id,
        agent=reviewer,
        flag=flag_id,
        category=flag.category,
        before=before,
        after=status,
        reason=reason.strip(),
    )
    item = session.get(Item, flag.item_id)
    if item is not None:
        item.updated_at = utcnow()  # its public text changed: harvesters see the record as new
        session.add(item)
        reindex_item(session, item)  # public entries mask what is not dismissed
    return flag


def decisions(session: Session, *, item_id: int) -> list[AccessDecision]:
    return list(
        session.exec(
            select(AccessDecision).where(AccessDecision.item_id == item_id).order_by(col(AccessDecision.id))
        ).all()
    )


def pending_proposal(session: Session, item_id: int) -> AccessDecision | None:
    """A first-round decision still waiting for the second reviewer."""
    last = session.exec(
        select(AccessDecision)
        .where(AccessDecision.item_id == item_id)
        .order_by(col(AccessDecision.id).desc())
    ).first()
    return last if last is not None and last.round == 1 and not last.effective else None


def decide_access(
    session: Session, *, item_id: int, access: str, reason: str, reviewer: str, rounds: int = 2
) -> AccessDecision:
    """Record a reviewer's 开放标识 decision. With two rounds, the first reviewer proposes and
    a second, different reviewer decides (both are kept); with one, it takes effect at once.
    Opening an item needs every screening flag decided first."""
    item = session.get(Item, item_id)
    if item is None:
        raise NotFound(f"no item {item_id}")
    if access not in ACCESS_VALUES:
        raise BadInputError(f"开放标识 {access!r} is not one of {', '.join(ACCESS_VALUES)}")
    if not reason.strip():
        raise BadInputError("a reason is required for every 开放标识 decision")
    proposal = pending_proposal(session, item_id)
    if proposal is not None and proposal.reviewer == reviewer:
        raise ReviewRefused(
            f"you made the first-round decision on {item.reference_code}",
            hint="the second round must be made by another reviewer",
        )
    round_no = 2 if proposal is not None else 1
    effective = rounds == 1 or round_no == 2
    if effective and access == Access.open:
        # whatever changed since the last screening is screened now, before it can open
        from catalog.review.screening import screen_item, term_lists
        from configs import get_settings

        coll = session.get(Collection, item.collection_id)
        screen_item(session, item, term_lists(get_settings(), coll), agent=reviewer)
        undecided = session.exec(
            select(Flag.id).where(
                Flag.item_id == item_id, col(Flag.kind).in_(SCREENING_KINDS), col(Flag.status).in_(UNDECIDED)
            )
        ).all()
        if undecided:
            raise ReviewRefused(
                f"{len(undecided)} screening flags of {item.reference_code} are undecided",
                hint="confirm or dismiss each flag before opening the item",
            )
    decision = AccessDecision(
        item_id=item_id,
        round=round_no,
        reviewer=reviewer,
        access=access,
        reason=reason.strip(),
        effective=effective,
    )
    session.add(decision)
    before = item.access
    if effective:
        item.access = access
        item.version += 1
        session.add(item)
        withdrawn = session.get(WithdrawnRecord, item_id)
        if before == Access.open and access != Access.open and withdrawn is None:
            session.add(WithdrawnRecord(item_id=item_id))  # harvesters must drop it
        elif access == Access.open and withdrawn is not None:
            session.delete(withdrawn)
        session.flush()
        reindex_item(session, item)
    add_event(
        session,
        type=EventType.access_decision,
        item_id=item_id,
        agent=reviewer,
        round=round_no,
        access=access,
        before=before,
        effective=effective,
        reason=reason.strip(),
        proposal=proposal.access if proposal else None,
    )
    return decision


def screening_queue(session: Session, *, collection_id: int | None = None) -> list[tuple[Item, int, int]]:
    """Items waiting for open review: open screening flags, or unreviewed access, or a
    first-round decision to confirm. (item, open flags, all screening flags), most open
    flags first — counted and sorted in one SQL query."""
    flags = (
        select(
            col(Flag.item_id).label("item_id"),
            func.count().label("all_flags"),
            func.sum(case((col(Flag.status).in_(UNDECIDED), 1), else_=0)).label("open_flags"),
        )
        .where(col(Flag.kind).in_(SCREENING_KINDS))
        .group_by(col(Flag.item_id))
        .subquery()
    )
    latest = (
        select(col(AccessDecision.item_id).label("item_id"), func.max(AccessDecision.id).label("id"))
        .group_by(col(AccessDecision.item_id))
        .subquery()
    )
    last = aliased(AccessDecision)
    open_flags = func.coalesce(flags.c.open_flags, 0)
    query = (
        select(Item, open_flags, func.coalesce(flags.c.all_flags, 0))
        .outerjoin(flags, flags.c.item_id == Item.id)
        .outerjoin(latest, latest.c.item_id == Item.id)
        .outerjoin(last, col(last.id) == latest.c.id)
        .where(col(Item.status).not_in(["pending", "processing", "quarantined", "failed"]))
        .where(
            or_(
                open_flags > 0,
                col(Item.access) == Access.unreviewed,
                and_(col(last.round) == 1, col(last.effective) == false()),
            )
        )
    )
    if collection_id is not None:
        query = query.where(Item.collection_id == collection_id)
    rows = session.exec(query.order_by(open_flags.desc(), col(Item.id))).all()
    return [(item, int(n), int(total)) for item, n, total in rows]


def open_items(
    session: Session,
    *,
    reason: str,
    who: str,
    collection: str | None = None,
    item_id: int | None = None,
    proposed_only: bool = False,
) -> dict[str, list[dict[str, object]]]:
    """Open already-reviewed holdings on an archive's explicit word (`lantai open`): each
    item not yet open (of a collection, or one) is screened, refused while any screening
    flag is undecided, and otherwise opened with a one-round decision recording who and
    why. ``proposed_only``: only items whose manifest proposed 开放."""
    if not reason.strip():
        raise BadInputError("say why these items may open (--reason)")
    if item_id is not None and session.get(Item, item_id) is None:
        raise NotFound(f"no item {item_id}")
    if (
        collection
        and session.exec(select(Collection.id).where(Collection.code == collection)).first() is None
    ):
        raise NotFound(f"no collection {collection}")
    query = select(Item).where(
        col(Item.status).not_in(["pending", "processing", "quarantined", "failed"]),
        Item.access != Access.open,
    )
    if collection:
        query = query.join(Collection, col(Collection.id) == Item.collection_id).where(
            Collection.code == collection
        )
    if item_id is not None:
        query = query.where(Item.id == item_id)
    opened: list[dict[str, object]] = []
    refused: list[dict[str, object]] = []
    for item in session.exec(query.order_by(col(Item.id))).all():
        if proposed_only and item.extra.get("proposed_access") != Access.open:
            continue
        entry: dict[str, object] = {"item_id": item.id, "reference_code": item.reference_code}
        last = session.exec(
            select(AccessDecision)
            .where(AccessDecision.item_id == item.id, col(AccessDecision.effective).is_(True))
            .order_by(col(AccessDecision.id).desc())
        ).first()
        if last is not None and last.access in (Access.controlled, Access.deferred):
            # a reviewer's 控制/延期 is never overridden by a bulk open
            refused.append(entry | {"reason": f"decided {last.access} by {last.reviewer}: {last.reason}"})
            continue
        try:
            decide_access(
                session, item_id=item.id or 0, access=Access.open, reason=reason, reviewer=who, rounds=1
            )
        except ReviewRefused as e:
            refused.append(entry | {"reason": e.message})
            continue
        opened.append(entry)
    return {"opened": opened, "refused": refused}
