"""Public access (no login): search and view open (开放) items only, through their redacted
text and derivatives. Nothing here reads an item that is not open, and search uses the
public index entries, whose text is already masked."""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from sqlmodel import Session, col, select

from catalog.crud import add_event
from catalog.models import (
    CopyRequest,
    EventType,
    ForwardedRequest,
    HarvestSource,
    Item,
    Page,
    Segment,
    UnionRecord,
)
from catalog.parts import recording_parts, segments_of
from catalog.publish import partners, union
from catalog.review.access import PUBLIC, may_see, public_description
from catalog.review.access import public_text as masked
from catalog.review.editing import NotFound
from catalog.review.redaction import mask_lines, mask_text, masks_for, public_media_asset, public_page_asset
from catalog.search import MAX_QUERY, Filters, search_items
from configs.digest import equal_secrets
from configs.errors import BadInputError
from web.deps import AnyViewer, DbSession, Int, render, secure_cookies, settings_of, store_of
from web.routes.search import PER_PAGE
from web.security import CSRF_COOKIE, new_csrf_token

router = APIRouter(prefix="/public")
PUBLIC_FACETS = ("kind", "year", "language")  # no collection or status counts: nothing internal


def open_item(db: Session, item_id: Int) -> Item:
    item = db.get(Item, item_id)
    if item is None or not may_see(PUBLIC, item):
        raise NotFound("no such open record")  # the same answer whether it exists or not
    return item


def _with_csrf(request: Request, viewer: Any, response: Response) -> Response:
    if not request.cookies.get(CSRF_COOKIE):
        response.set_cookie(
            CSRF_COOKIE, viewer.csrf, httponly=True, samesite="strict", secure=secure_cookies(request)
        )
    return response


def _ensure_token(viewer: Any) -> None:
    if not viewer.csrf:
        viewer.csrf = new_csrf_token()


@router.get("/", response_class=HTMLResponse)
@router.get("/search", response_class=HTMLResponse)
def public_search(
    request: Request,
    db: DbSession,
    viewer: AnyViewer,
    q: str = Query("", max_length=MAX_QUERY),
    kind: str = Query("", pattern=r"^(scan|recording)?$"),
    year: str = Query("", pattern=r"^([0-9]{4})?$"),
    scope: str = Query("", pattern=r"^(union)?$"),
    fuzzy: bool = False,
    page: int = Query(1, ge=1, le=500),
) -> Response:
    if scope == "union":  # 其他档案馆: records harvested from other archives
        others: list[dict[str, Any]] = []
        error = ""
        if q.strip():
            try:
                others = [h.as_json() for h in union.search(db, q, limit=50)]
            except BadInputError as e:
                error = str(e)
        return render(request, "public_search.html", q=q, items=[], total=0, others=others, facets={},
                      fuzzy=fuzzy, facets_capped=False, error=error, kind="", year="", scope=scope,
                      paging={"number": 1, "prev": False, "next": False})  # fmt: skip
    y = int(year) if year else None
    filters = Filters(kind=kind or None, year_from=y, year_to=y, audience="public")
    items: list[dict[str, Any]] = []
    counts: dict[str, dict[str, int]] = {}
    capped = False
    error = ""
    total = 0
    if q.strip():
        try:
            found = search_items(
                db, q, filters=filters, limit=PER_PAGE, offset=(page - 1) * PER_PAGE, fuzzy=fuzzy
            )
            items = [r.as_json() for r in found.items]
            counts = {k: v for k, v in found.facets.items() if k in PUBLIC_FACETS}
            capped, total = found.capped, found.total
        except BadInputError as e:
            error = str(e)
    parts: dict[int, dict[int, int]] = {}  # item → transcript id → part number
    for r in items:
        for h in r["hits"]:
            loc = h["location"]
            anchor = f"#page-{loc['page']}" if "page" in loc else ""
            if h.get("segment_id"):  # the part of the recording that holds the hit
                if r["item_id"] not in parts:
                    parts[r["item_id"]] = {
                        p.transcript.id or 0: p.number for p in recording_parts(db, r["item_id"])
                    }
                seg = db.get(Segment, h["segment_id"])
                anchor = f"#part-{parts[r['item_id']].get(seg.transcript_id, 1) if seg else 1}"
            h["link"] = f"/public/items/{r['item_id']}{anchor}"
        r["link"] = r["hits"][0]["link"] if r["hits"] else f"/public/items/{r['item_id']}"
    here = {"q": q, "kind": kind, "year": year} | ({"fuzzy": "true"} if fuzzy else {})
    return render(
        request,
        "public_search.html",
        q=q,
        items=items,
        total=total,
        paging={"number": page, "prev": page > 1, "next": page * PER_PAGE < total},
        page_link=lambda n: "/public/search?" + urlencode({k: v for k, v in here.items() if v} | {"page": n}),
        facets=counts,
        facets_capped=capped,
        error=error,
        kind=kind,
        year=year,
        scope="",
        others=[],
        fuzzy=fuzzy,
    )


@router.get("/items/{item_id}", response_class=HTMLResponse)
def public_item(request: Request, db: DbSession, viewer: AnyViewer, item_id: Int, sent: Int = 0) -> Response:
    item = open_item(db, item_id)
    store = store_of(request)
    masks = masks_for(db, item_id)
    pages = []
    for page in db.exec(select(Page).where(Page.item_id == item_id).order_by(col(Page.page_no))).all():
        key, ready = public_page_asset(db, page, masks)
        pages.append(
            {
                "page_no": page.page_no,
                "lines": mask_lines(page.lines, masks.values),
                "image": store.presigned_get(key, expires_seconds=3600) if ready and key else "",
                "preparing": not ready and bool(page.image_key),
            }
        )
    recordings = []
    for part in recording_parts(db, item_id):  # every part of a multi-part recording
        media, media_ready = public_media_asset(db, part.transcript, masks)
        recordings.append(
            {
                "number": part.number,
                "media_url": store.presigned_get(media.key, expires_seconds=3600)
                if media and media_ready
                else "",
                "is_video": bool(media and media.media_type.startswith("video")),
                "preparing": not media_ready,
                "segments": [
                    {
                        "start": seg.start,
                        "end": seg.end,
                        "speaker": masked(seg.speaker, masks),
                        "text": mask_text(seg.text, masks.values),
                    }
                    for seg in segments_of(db, part)
                ],
            }
        )
    _ensure_token(viewer)
    response = render(
        request,
        "public_item.html",
        item=item,
        description=public_description(item, masks),
        pages=pages,
        recordings=recordings,
        sent=bool(sent),
    )
    return _with_csrf(request, viewer, response)


@router.get("/items/{item_id}/text.txt")
def public_text(db: DbSession, item_id: Int) -> Response:
    """The redacted text of an open item, as plain text."""
    item = open_item(db, item_id)
    masks = masks_for(db, item_id)
    shown = public_description(item, masks)
    out = [f"{shown['reference_code']}  {shown['title']}", ""]
    for page in db.exec(select(Page).where(Page.item_id == item_id).order_by(col(Page.page_no))).all():
        out += [f"— {page.page_no} —", *mask_lines(page.lines, masks.values), ""]
    parts = recording_parts(db, item_id)
    for part in parts:
        if len(parts) > 1:
            out.append(f"— 第 {part.number} 部分 / part {part.number} —")
        for seg in segments_of(db, part):
            out.append(f"[{seg.start:.1f}] {mask_text(seg.text, masks.values)}")
    return PlainTextResponse("\n".join(out) + "\n")


@router.post("/items/{item_id}/request")
def request_copy(
    db: DbSession,
    item_id: Int,
    name: Annotated[str, Form(min_length=1, max_length=128)],
    contact: Annotated[str, Form(min_length=3, max_length=256)],
    purpose: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    open_item(db, item_id)
    row = CopyRequest(item_id=item_id, name=name.strip(), contact=contact.strip(), purpose=purpose.strip())
    db.add(row)
    db.flush()
    add_event(db, type=EventType.copy_request, item_id=item_id, agent="public", request=row.id)
    return RedirectResponse(f"/public/items/{item_id}?sent=1", status_code=303)


def _relay(request: Request) -> partners.Relay:
    relay: partners.Relay = request.app.state.relay
    return relay


def _forward_token(request: Request, forwarded_id: Int) -> str:
    key = settings_of(request).secret.encode()
    return hmac.new(key, f"forwarded:{forwarded_id}".encode(), hashlib.sha256).hexdigest()[:32]


@router.get("/union/{record_id}", response_class=HTMLResponse)
def union_record(request: Request, db: DbSession, viewer: AnyViewer, record_id: Int) -> Response:
    """Another archive's record as harvested, with a form to ask that archive for a copy."""
    record, source = partners.holder_of(db, record_id)
    _ensure_token(viewer)
    holder = source.repository_name or source.name
    response = render(request, "public_union.html", record=record, holder=holder, forwarding=bool(source.key))
    return _with_csrf(request, viewer, response)


@router.post("/union/{record_id}/request")
def forward_copy_request(
    request: Request,
    db: DbSession,
    record_id: Int,
    name: Annotated[str, Form(min_length=1, max_length=128)],
    contact: Annotated[str, Form(min_length=3, max_length=256)],
    purpose: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """跨馆出证: the request is kept here and the relay forwards it to the holding archive
    in the background (catalog.publish.partners.Relay): the visitor never waits on another
    archive's server."""
    partners.holder_of(db, record_id)
    row = ForwardedRequest(
        record_id=record_id, name=name.strip(), contact=contact.strip(), purpose=purpose.strip()
    )
    db.add(row)
    db.commit()
    _relay(request).wake()
    token = _forward_token(request, row.id or 0)
    return RedirectResponse(f"/public/union/requests/{row.id}?t={token}", status_code=303)


@router.get("/union/requests/{forwarded_id}", response_class=HTMLResponse)
def forwarded_status(
    request: Request, db: DbSession, forwarded_id: Int, t: str = Query("", max_length=64)
) -> Response:
    """The status of a forwarded request as the relay last read it from the holding archive
    (the link the visitor was given is the only way in). Reading the page never calls the
    other archive; an old status only wakes the relay."""
    row = db.get(ForwardedRequest, forwarded_id)
    if row is None or not equal_secrets(_forward_token(request, forwarded_id), t):
        raise NotFound("no such request")
    record = db.get(UnionRecord, row.record_id)
    source = db.get(HarvestSource, record.source_id) if record else None
    if row.status in ("forwarding", "sending", "new"):
        _relay(request).wake()
    return render(request, "public_forwarded.html", row=row, record=record,
                  holder=(source.repository_name or source.name) if source else "")  # fmt: skip
