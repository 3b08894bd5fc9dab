"""The review queue, the item page (description, status, exports) and revision history."""

from __future__ import annotations

import difflib
import io
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session, col, select

from catalog.crud import collection_codes, review_queue
from catalog.models import Collection, Flag, Item, ItemPublic, ItemUpdate, Page, Revision, Transcript
from catalog.review.access import may_see
from catalog.review.editing import (
    EDITABLE_FIELDS,
    EditConflict,
    NotFound,
    restore_revision,
    revisions,
    set_status,
    update_description,
)
from configs.errors import BadInputError
from flows.export import COLLECTION_FORMATS, FORMATS, export_item
from web.deps import DbSession, EditorUser, Forbidden, Int, Staff, Viewer, render

router = APIRouter()


def visible_item(db: Session, item_id: Int, viewer: Viewer) -> Item:
    """The item, if it exists and this viewer may see it (not-open items need staff rights)."""
    item = db.get(Item, item_id)
    if item is None:
        raise NotFound(f"no item {item_id}")
    if not may_see(viewer.role, item):
        raise Forbidden(f"item {item.reference_code} is not open ({item.access}); your role cannot see it")
    return item


@router.get("/", response_class=HTMLResponse)
def home(viewer: Staff) -> Response:
    return RedirectResponse("/review", status_code=303)


@router.get("/review", response_class=HTMLResponse)
def queue(request: Request, db: DbSession, viewer: Staff, collection: str = "", status: str = "") -> Response:
    rows = review_queue(db, collection=collection or None, status=status or None)
    rows = [r for r in rows if may_see(viewer.role, r["item"])]
    return render(
        request,
        "queue.html",
        rows=rows,
        collections=collection_codes(db),
        collection=collection,
        status=status,
        statuses=["enriched", "in_review", "approved", "failed"],
    )


@router.get("/items/{item_id}", response_class=HTMLResponse)
def item_page(request: Request, db: DbSession, viewer: Staff, item_id: Int, error: str = "") -> Response:
    item = visible_item(db, item_id, viewer)
    return _item_response(request, db, item, error=error)


def _item_response(
    request: Request,
    db: Session,
    item: Item,
    *,
    error: str = "",
    status_code: int = 200,
    values: dict[str, str] | None = None,
) -> Response:
    coll = db.get(Collection, item.collection_id)
    pages = db.exec(select(Page).where(Page.item_id == item.id).order_by(col(Page.page_no))).all()
    transcripts = db.exec(select(Transcript).where(Transcript.item_id == item.id)).all()
    flags = db.exec(select(Flag).where(Flag.item_id == item.id).order_by(col(Flag.id))).all()
    return render(
        request,
        "item.html",
        status_code=status_code,
        item=item,
        collection=coll,
        pages=pages,
        transcripts=transcripts,
        flags=flags,
        fields=EDITABLE_FIELDS,
        values={f: getattr(item, f) for f in EDITABLE_FIELDS} | (values or {}),
        formats=list(FORMATS),
        error=error,
    )


@router.post("/items/{item_id}/describe", response_class=HTMLResponse)
async def describe(request: Request, db: DbSession, viewer: EditorUser, item_id: Int) -> Response:
    item = visible_item(db, item_id, viewer)
    form = await request.form()
    fields = {f: str(form[f]) for f in EDITABLE_FIELDS if f in form}
    try:
        version = int(str(form.get("version", "-1")))
        update_description(db, item_id=item_id, version=version, fields=fields, editor=viewer.editor)
    except BadInputError as e:
        db.rollback()
        return _item_response(request, db, item, error=str(e), status_code=422, values=fields)
    except EditConflict as e:
        db.rollback()
        db.refresh(item)
        theirs = ", ".join(f"{k}: {v}" for k, v in e.current.items() if k != "version")
        return _item_response(request, db, item, error=f"{e} — {theirs}", status_code=409, values=fields)
    return RedirectResponse(f"/items/{item_id}", status_code=303)


@router.post("/items/{item_id}/status")
def change_status(
    db: DbSession,
    viewer: EditorUser,
    item_id: Int,
    action: Annotated[str, Form(max_length=16)],
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    visible_item(db, item_id, viewer)
    set_status(db, item_id=item_id, action=action, editor=viewer.editor, reason=reason)
    return RedirectResponse(f"/items/{item_id}", status_code=303)


def _diff(before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
    """Per changed key, the before/after values with a character diff as (op, text) runs."""
    out = []
    for key in sorted(set(before) | set(after)):
        a, b = before.get(key, ""), after.get(key, "")
        if a == b or key in ("lines",):
            continue
        a, b = str(a if a is not None else ""), str(b if b is not None else "")
        runs = []
        for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
            if op == "equal":
                runs.append(("same", a[i1:i2]))
            else:
                if i2 > i1:
                    runs.append(("del", a[i1:i2]))
                if j2 > j1:
                    runs.append(("ins", b[j1:j2]))
        out.append({"key": key, "runs": runs})
    return out


@router.get("/items/{item_id}/history", response_class=HTMLResponse)
def history(request: Request, db: DbSession, viewer: Staff, item_id: Int) -> Response:
    item = visible_item(db, item_id, viewer)
    revs = revisions(db, item_id=item_id)
    pages = {p.id: p.page_no for p in db.exec(select(Page).where(Page.item_id == item_id)).all()}
    rows = [
        {
            "rev": r,
            "diff": _diff(r.before, r.after),
            "page_no": pages.get(r.target_id) if r.target == "page" else None,
        }
        for r in revs
    ]
    return render(request, "history.html", item=item, rows=rows)


@router.post("/revisions/{revision_id}/restore")
def restore(db: DbSession, viewer: EditorUser, revision_id: Int) -> Response:
    rev = db.get(Revision, revision_id)
    if rev is None:
        raise NotFound(f"no revision {revision_id}")
    visible_item(db, rev.item_id, viewer)
    restore_revision(db, revision_id=revision_id, editor=viewer.editor)
    return RedirectResponse(f"/items/{rev.item_id}/history", status_code=303)


@router.get("/api/items/{item_id}")
def api_item(db: DbSession, viewer: Staff, item_id: Int) -> ItemPublic:
    """An item's description and state (``ItemPublic``)."""
    return ItemPublic.model_validate(visible_item(db, item_id, viewer), from_attributes=True)


@router.patch("/api/items/{item_id}")
def api_update_item(db: DbSession, viewer: EditorUser, item_id: Int, body: ItemUpdate) -> ItemPublic:
    """Change description fields (``ItemUpdate``, with the ``version`` they were made on):
    validated per DA/T 18; 409 with both values on a stale version, 423 when approved."""
    visible_item(db, item_id, viewer)
    fields = body.model_dump(exclude_unset=True, exclude={"version"})
    item = update_description(db, item_id=item_id, version=body.version, fields=fields, editor=viewer.editor)
    return ItemPublic.model_validate(item, from_attributes=True)


@router.get("/items/{item_id}/export/{fmt}")
def export(db: DbSession, viewer: Staff, item_id: Int, fmt: str) -> Response:
    item = visible_item(db, item_id, viewer)
    if fmt not in FORMATS:
        raise BadInputError(f"unknown export format {fmt!r}")
    buf = io.BytesIO()
    export_item(db, str(item_id), fmt, buf, agent=viewer.name)
    media = FORMATS[fmt]
    name = f"{item.reference_code}.{fmt}".replace("·", "_")
    return Response(
        buf.getvalue(),
        media_type=media,
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{_quote(name)}"},
    )


@router.get("/collections/{code}/export/{fmt}")
def export_collection(db: DbSession, viewer: EditorUser, code: str, fmt: str) -> Response:
    """The collection's DA/T 22 catalogue (csv, xlsx) or all its records (jsonl)."""
    if fmt not in COLLECTION_FORMATS:
        raise BadInputError(f"unknown collection export format {fmt!r}")
    buf = io.BytesIO()
    export_item(db, code, fmt, buf, agent=viewer.name)
    media = {
        "csv": "text/csv; charset=utf-8",
        "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "jsonl": "application/x-ndjson",
    }[fmt]
    return Response(
        buf.getvalue(),
        media_type=media,
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{_quote(f'{code}.{fmt}')}"},
    )


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name)
