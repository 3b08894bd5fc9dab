"""The partner archives' API (跨馆出证): a copy request for one of this archive's open
records, forwarded by another archive on behalf of its visitor, and its status. Every
request is signed with the key shared with that partner (catalog.publish.partners); the record
must be one the public may see, answered as absent otherwise."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlmodel import select

from catalog.crud import add_event
from catalog.models import CopyRequest, EventType, Item, PartnerRequest
from catalog.publish.partners import verify
from catalog.review.access import PUBLIC, may_see
from configs.errors import BadInputError
from web.deps import DbSession, Int, settings_of

router = APIRouter(prefix="/partner")
MAX_BODY = 16 * 1024


def _refused(message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


@router.post("/requests")
async def receive_request(request: Request, db: DbSession) -> JSONResponse:
    body = await request.body()
    if len(body) > MAX_BODY:
        return _refused("request too large", 413)
    try:
        partner = verify(db, request.headers, "POST", request.url.path, body)
    except BadInputError as e:
        return _refused(e.message, 403)
    try:
        data: dict[str, Any] = json.loads(body)
        identifier, name, contact = (
            str(data["identifier"]),
            str(data["name"]).strip(),
            str(data["contact"]).strip(),
        )
        purpose = str(data.get("purpose", "")).strip()
    except (ValueError, KeyError, TypeError):
        return _refused("identifier, name and contact are required", 400)
    if not (1 <= len(name) <= 128 and 3 <= len(contact) <= 256 and len(purpose) <= 2000):
        return _refused("name (1-128), contact (3-256) and purpose (up to 2000 characters)", 400)
    prefix = f"oai:{settings_of(request).oai.repository_identifier}:"
    rest = identifier[len(prefix) :] if identifier.startswith(prefix) else ""
    item = db.get(Item, int(rest)) if rest.isascii() and rest.isdigit() and len(rest) <= 15 else None
    if item is None or not may_see(PUBLIC, item):
        return _refused("no such open record", 404)
    row = CopyRequest(item_id=item.id or 0, name=name, contact=contact, purpose=f"[{partner} 转来] {purpose}")
    db.add(row)
    db.flush()
    db.add(PartnerRequest(copy_request_id=row.id or 0, partner=partner))
    add_event(db, type=EventType.copy_request, item_id=item.id, agent=f"partner:{partner}", request=row.id)
    return JSONResponse({"id": row.id, "status": row.status})


@router.get("/requests/{request_id}")
def request_status(request: Request, db: DbSession, request_id: Int) -> JSONResponse:
    try:
        partner = verify(db, request.headers, "GET", request.url.path, b"")
    except BadInputError as e:
        return _refused(e.message, 403)
    link = db.exec(
        select(PartnerRequest).where(
            PartnerRequest.copy_request_id == request_id, PartnerRequest.partner == partner
        )
    ).first()
    row = db.get(CopyRequest, request_id) if link else None
    if row is None:
        return _refused("no such request of yours", 404)
    return JSONResponse({"id": row.id, "status": row.status})
