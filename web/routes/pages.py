"""The page view: page image with OCR lines beside it, and line corrections."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field
from sqlmodel import col, func, select

from catalog.models import Asset, Page
from catalog.projects import projects
from catalog.review.editing import NotFound, edit_page_line
from web.deps import MAX_INT, DbSession, EditorUser, Int, Staff, render, store_of
from web.routes.review import visible_item

router = APIRouter()
LOW_OCR = 60  # Tesseract word confidence (0..100) below which a word is marked


def _box(value: str) -> list[int] | None:
    """``x0,y0,x1,y1`` in page pixels, or None for anything else (inf, nan, huge, negative)."""
    try:
        box = [int(float(v)) for v in value.split(",", 4)]
    except (ValueError, OverflowError):
        return None
    return box if len(box) == 4 and all(0 <= v <= MAX_INT for v in box) else None


MAX_BOXES = 8  # boxes one deep link highlights (a match across lines has one per line)


def _boxes(value: str) -> list[list[int]]:
    """The boxes of ``box=x0,y0,x1,y1;x0,y0,x1,y1…`` that are boxes (others are left out)."""
    return [b for part in value.split(";", MAX_BOXES)[:MAX_BOXES] if (b := _box(part)) is not None]


def page_json(page: Page) -> dict[str, Any]:
    return {
        "id": page.id,
        "page_no": page.page_no,
        "version": page.version,
        "width": page.width,
        "height": page.height,
        "lines": [
            {
                "text": line.get("text", ""),
                "bbox": line.get("bbox"),
                "edited": bool(line.get("edited")),
                "words": [
                    {
                        "text": w.get("text", ""),
                        "bbox": w.get("bbox"),
                        "low": float(w.get("conf", 100)) < LOW_OCR,
                    }
                    for w in line.get("words", [])
                ],
            }
            for line in page.lines
        ],
    }


@router.get("/items/{item_id}/pages/{page_no}", response_class=HTMLResponse)
def page_view(
    request: Request,
    db: DbSession,
    viewer: Staff,
    item_id: Int,
    page_no: Int,
    box: str = Query("", max_length=2000),
) -> Response:
    item = visible_item(db, item_id, viewer)
    page = db.exec(select(Page).where(Page.item_id == item_id, Page.page_no == page_no)).first()
    if page is None:
        raise NotFound(f"item {item.reference_code} has no page {page_no}")
    count = len(db.exec(select(Page.id).where(Page.item_id == item_id)).all())
    image_url = store_of(request).presigned_get(page.image_key) if page.image_key else ""
    # the files of a multi-file item, each with its first page: the page view names them
    firsts = db.exec(
        select(Asset.id, Asset.original_name, func.min(Page.page_no))
        .join(Page, col(Page.asset_id) == Asset.id)
        .where(Page.item_id == item_id)
        .group_by(col(Asset.id), col(Asset.original_name))
        .order_by(func.min(Page.page_no))
    ).all()
    return render(
        request,
        "page.html",
        files=[{"name": n, "first": first, "current": aid == page.asset_id} for aid, n, first in firsts],
        source_page=page.source_page,
        item=item,
        page=page_json(page),
        page_count=count,
        image_url=image_url,
        highlights=_boxes(box) if box else [],
        locked=item.status == "approved",
        projects=[(p.id, p.title) for p, _ in projects(db)],
        pages=db.exec(select(Page.page_no).where(Page.item_id == item_id).order_by(col(Page.page_no))).all(),
    )


class LineEdit(BaseModel):
    version: Int
    base: str = Field(max_length=20_000)
    text: str = Field(max_length=20_000)


@router.put("/api/pages/{page_id}/lines/{line}")
def api_edit_line(
    db: DbSession, viewer: EditorUser, page_id: Int, line: Int, body: LineEdit
) -> dict[str, Any]:
    page = db.get(Page, page_id)
    if page is None:
        raise NotFound(f"no page {page_id}")
    visible_item(db, page.item_id, viewer)
    page = edit_page_line(
        db,
        page_id=page_id,
        line=line,
        base=body.base,
        version=body.version,
        text=body.text,
        editor=viewer.editor,
    )
    return page_json(page)
