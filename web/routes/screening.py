"""Open review (开放审核) for staff: the screening queue, flag decisions, 开放标识 decisions
in one or two rounds, and the public's copy requests."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import col, select

from catalog.crud import collection_codes
from catalog.models import Access, Collection, CopyRequest, Flag, Item
from catalog.ops import jobs
from catalog.review.access import may_read_copy_requests
from catalog.review.openreview import decide_access, decide_flag, decisions, pending_proposal, screening_queue
from catalog.review.redaction import SCREENING_KINDS
from web.deps import DbSession, EditorUser, Forbidden, Int, Staff, render, settings_of
from web.routes.review import visible_item

router = APIRouter()


@router.get("/screening", response_class=HTMLResponse)
def queue(request: Request, db: DbSession, viewer: EditorUser, collection: str = "") -> Response:
    coll = db.exec(select(Collection).where(Collection.code == collection)).first() if collection else None
    rows = screening_queue(db, collection_id=coll.id if coll else None)
    return render(
        request, "screening_queue.html", rows=rows, collections=collection_codes(db), collection=collection
    )


@router.get("/items/{item_id}/screening", response_class=HTMLResponse)
def item_screening(
    request: Request, db: DbSession, viewer: EditorUser, item_id: Int, error: str = ""
) -> Response:
    item = visible_item(db, item_id, viewer)
    flags = db.exec(
        select(Flag)
        .where(Flag.item_id == item_id, col(Flag.kind).in_(SCREENING_KINDS))
        .order_by(col(Flag.id))
    ).all()
    return render(
        request,
        "screening_item.html",
        item=item,
        flags=flags,
        decisions=decisions(db, item_id=item_id),
        proposal=pending_proposal(db, item_id),
        rounds=settings_of(request).screening.rounds,
        access_values=[a.value for a in Access],
        error=error,
        summary=item.extra.get("screening", {}),
    )


@router.post("/flags/{flag_id}")
def flag_decision(
    db: DbSession,
    viewer: EditorUser,
    flag_id: Int,
    decision: Annotated[str, Form(max_length=16)],
    reason: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    flag = db.get(Flag, flag_id)
    if flag is not None:
        visible_item(db, flag.item_id, viewer)
    flag = decide_flag(db, flag_id=flag_id, decision=decision, reason=reason, reviewer=viewer.name)
    item = db.get(Item, flag.item_id)
    if item is not None and item.access == Access.open:  # its masks changed: new public copies
        jobs.queue(db, kind="redact", item_id=flag.item_id, by=viewer.name)
    return RedirectResponse(f"/items/{flag.item_id}/screening#flag-{flag_id}", status_code=303)


@router.post("/items/{item_id}/access")
def access_decision(
    request: Request,
    db: DbSession,
    viewer: EditorUser,
    item_id: Int,
    access: Annotated[str, Form(max_length=8)],
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    visible_item(db, item_id, viewer)
    decision = decide_access(
        db,
        item_id=item_id,
        access=access,
        reason=reason,
        reviewer=viewer.name,
        rounds=settings_of(request).screening.rounds,
    )
    if decision.effective and access == Access.open:  # its redacted copies, made by a worker
        jobs.queue(db, kind="redact", item_id=item_id, by=viewer.name)
    return RedirectResponse(f"/items/{item_id}/screening", status_code=303)


@router.get("/requests", response_class=HTMLResponse)
def copy_requests(request: Request, db: DbSession, viewer: Staff) -> Response:
    if not may_read_copy_requests(viewer.role):
        raise Forbidden("copy requests hold visitors' names and contacts: editors and admins handle them")
    rows = db.exec(
        select(CopyRequest, Item)
        .join(Item, col(Item.id) == CopyRequest.item_id)
        .order_by(col(CopyRequest.id).desc())
    ).all()
    return render(request, "requests.html", rows=rows)


@router.post("/requests/{request_id}")
def handle_request(
    db: DbSession, viewer: EditorUser, request_id: Int, status: Annotated[str, Form(max_length=12)]
) -> Response:
    row = db.get(CopyRequest, request_id)
    if row is not None and status in ("new", "done", "refused"):
        row.status, row.handled_by = status, viewer.name
        db.add(row)
    return RedirectResponse("/requests", status_code=303)
