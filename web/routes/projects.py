"""Compilation projects (编研) in the web UI: list, create, add excerpts from the recording
and page views, reorder, edit headings and notes, accept source updates, export."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlmodel import Session

from catalog.models import Excerpt
from catalog.projects import (
    accept_update,
    add_page_excerpt,
    add_segment_excerpt,
    create_project,
    edit_excerpt,
    excerpts,
    get_project,
    move_excerpt,
    projects,
    remove_excerpt,
)
from catalog.projects import exports as project_exports
from catalog.review.editing import NotFound
from catalog.review.screening import project_hits
from web.deps import DbSession, EditorUser, Int, Staff, render
from web.routes.review import visible_item

router = APIRouter()


@router.get("/projects", response_class=HTMLResponse)
def project_list(request: Request, db: DbSession, viewer: Staff) -> Response:
    return render(request, "projects.html", rows=projects(db))


@router.post("/projects")
def new_project(
    db: DbSession,
    viewer: EditorUser,
    title: Annotated[str, Form(max_length=256)],
    description: Annotated[str, Form(max_length=10_000)] = "",
) -> Response:
    project = create_project(db, title=title, description=description, editor=viewer.name)
    return RedirectResponse(f"/projects/{project.id}", status_code=303)


@router.get("/projects/{project_id}", response_class=HTMLResponse)
def project_page(request: Request, db: DbSession, viewer: Staff, project_id: Int) -> Response:
    project = get_project(db, project_id)
    warnings = project_hits(db, project_id) if viewer.can_edit else []
    return render(
        request,
        "project.html",
        project=project,
        views=excerpts(db, project_id, role=viewer.role),
        warnings=warnings,
    )


def _excerpt_of(db: Session, project_id: Int, excerpt_id: Int) -> Excerpt:
    ex = db.get(Excerpt, excerpt_id)
    if ex is None or ex.project_id != project_id:
        raise NotFound(f"project {project_id} has no excerpt {excerpt_id}")
    return ex


@router.post("/projects/{project_id}/excerpts/{excerpt_id}")
def change_excerpt(
    db: DbSession,
    viewer: EditorUser,
    project_id: Int,
    excerpt_id: Int,
    action: Annotated[str, Form(max_length=16)],
    heading: Annotated[str, Form(max_length=256)] = "",
    notes: Annotated[str, Form(max_length=10_000)] = "",
) -> Response:
    ex = _excerpt_of(db, project_id, excerpt_id)
    if action == "save":
        edit_excerpt(db, excerpt_id=excerpt_id, heading=heading, notes=notes, editor=viewer.name)
    elif action in ("up", "down"):
        move_excerpt(
            db, excerpt_id=excerpt_id, to=ex.position + (-1 if action == "up" else 1), editor=viewer.name
        )
    elif action == "accept":
        accept_update(db, excerpt_id=excerpt_id, editor=viewer.name)
    elif action == "remove":
        remove_excerpt(db, excerpt_id=excerpt_id, editor=viewer.name)
    return RedirectResponse(f"/projects/{project_id}#excerpt-{excerpt_id}", status_code=303)


@router.get("/projects/{project_id}/export/{fmt}")
def export_project(db: DbSession, viewer: Staff, project_id: Int, fmt: str) -> Response:
    project = get_project(db, project_id)
    name = quote(f"{project.title}.{fmt}")
    disposition = {"Content-Disposition": f"attachment; filename*=UTF-8''{name}"}
    if fmt == "docx":
        media = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        return Response(
            project_exports.to_docx(db, project_id, role=viewer.role), media_type=media, headers=disposition
        )
    if fmt == "md":
        text = project_exports.to_markdown(db, project_id, role=viewer.role)
        return Response(text, media_type="text/markdown; charset=utf-8", headers=disposition)
    raise NotFound(f"no export format {fmt!r} for projects (docx, md)")


class NewExcerpt(BaseModel):
    project_id: Int
    segment_from: Int | None = None
    segment_to: Int | None = None
    item_id: Int | None = None
    page_from: Int | None = None
    page_to: Int | None = None
    line_from: Int | None = None
    line_to: Int | None = None
    heading: str = Field(default="", max_length=256)


@router.post("/api/excerpts")
def api_add_excerpt(db: DbSession, viewer: EditorUser, body: NewExcerpt) -> dict[str, Any]:
    """Add a span selected in the recording view (segments) or the page view (lines)."""
    if body.segment_from is not None:
        ex = add_segment_excerpt(
            db,
            project_id=body.project_id,
            editor=viewer.name,
            segment_from=body.segment_from,
            segment_to=body.segment_to,
            heading=body.heading,
        )
    else:
        if body.item_id is None or body.page_from is None:
            raise NotFound("name segments, or an item and a page")
        ex = add_page_excerpt(
            db,
            project_id=body.project_id,
            editor=viewer.name,
            item_id=body.item_id,
            page_from=body.page_from,
            page_to=body.page_to,
            line_from=body.line_from,
            line_to=body.line_to,
            heading=body.heading,
        )
    visible_item(db, ex.item_id, viewer)
    return {
        "id": ex.id,
        "project_id": ex.project_id,
        "position": ex.position,
        "link": f"/projects/{ex.project_id}",
    }
