"""Compilation projects (编研): ordered excerpts of transcripts and pages, each with the
editor's heading and notes and a citation of its source. An excerpt quotes its source as it
was when added (or last accepted); when editors correct the source later, the project
shows the current text and marks the excerpt as updated."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, func, select

from catalog.crud import add_event
from catalog.models import EventType, Excerpt, Item, Page, Project, Segment, Transcript, utcnow
from catalog.review.editing import NotFound
from configs.errors import BadInputError


@dataclass
class Citation:
    reference_code: str
    title: str
    who: str  # 口述者 for recordings, 责任者 otherwise
    date: str
    where: str  # "00:01:02–00:03:04" or "第 2 页" / "第 2–3 页"
    kind: str

    def text(self) -> str:
        parts = [
            self.reference_code,
            f"《{self.title}》" if self.title else "",
            self.who,
            display_date(self.date),
            self.where,
        ]
        return "，".join(p for p in parts if p)


@dataclass
class ExcerptView:
    excerpt: Excerpt
    item: Item
    text: str  # the source's current text
    updated: bool  # the source changed since the excerpt was added or last accepted
    citation: Citation
    link: str  # back to the source in the web UI
    hidden: bool = False  # the viewer may not see the source item: nothing of it is shown


def display_date(value: str) -> str:
    """20240501 → 2024年5月1日 (ranges and partial dates too)."""

    def one(v: str) -> str:
        if len(v) >= 4 and v[:4].isdigit():
            out = f"{v[:4]}年"
            if len(v) >= 6:
                out += f"{int(v[4:6])}月"
            if len(v) >= 8:
                out += f"{int(v[6:8])}日"
            return out
        return v

    return "—".join(one(p) for p in value.split("-")) if value else ""


def clock(seconds: float) -> str:
    s = round(seconds)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


# ---------------------------------------------------------------- projects


def create_project(session: Session, *, title: str, description: str = "", editor: str) -> Project:
    title = title.strip()
    if not title:
        raise BadInputError("a project needs a title")
    project = Project(title=title[:256], description=description.strip(), editors=editor, created_by=editor)
    session.add(project)
    session.flush()
    add_event(
        session, type=EventType.compilation, agent=editor, project=project.id, action="create", title=title
    )
    return project


def projects(session: Session) -> list[tuple[Project, int]]:
    counts = dict(
        session.exec(select(Excerpt.project_id, func.count()).group_by(col(Excerpt.project_id))).all()
    )
    rows = session.exec(select(Project).order_by(col(Project.updated_at).desc())).all()
    return [(p, int(counts.get(p.id or 0, 0))) for p in rows]


def get_project(session: Session, project_id: int) -> Project:
    project = session.get(Project, project_id)
    if project is None:
        raise NotFound(f"no project {project_id}")
    return project


def _join_editor(project: Project, editor: str) -> None:
    names = [n for n in project.editors.split(",") if n]
    if editor not in names:
        project.editors = ",".join([*names, editor])


# ---------------------------------------------------------------- excerpt text


def _segments(session: Session, ex: Excerpt) -> list[Segment]:
    first = session.get(Segment, ex.segment_from) if ex.segment_from else None
    last = session.get(Segment, ex.segment_to) if ex.segment_to else first
    if first is None or last is None:
        return []
    return list(
        session.exec(
            select(Segment)
            .where(
                Segment.transcript_id == first.transcript_id,
                Segment.seq >= first.seq,
                Segment.seq <= last.seq,
            )
            .order_by(col(Segment.seq))
        ).all()
    )


def page_span(session: Session, ex: Excerpt) -> tuple[int, int]:
    """The excerpt's first and last page numbers, found through the pages' ids (a page keeps
    its row); the numbers stored with them for excerpts made before the ids were kept."""
    span = []
    for page_id, number in ((ex.page_from_id, ex.page_from), (ex.page_to_id, ex.page_to)):
        page = session.get(Page, page_id) if page_id is not None else None
        span.append(page.page_no if page is not None and page.item_id == ex.item_id else number or 0)
    return span[0], span[1]


def _pages(session: Session, ex: Excerpt) -> list[Page]:
    lo, hi = page_span(session, ex)
    return list(
        session.exec(
            select(Page)
            .where(Page.item_id == ex.item_id, Page.page_no >= lo, Page.page_no <= hi)
            .order_by(col(Page.page_no))
        ).all()
    )


def source_text(session: Session, ex: Excerpt) -> str:
    """The excerpt's source as it reads now."""
    if ex.segment_from is not None:
        out = []
        for seg in _segments(session, ex):
            out.append(f"{seg.speaker}：{seg.text}" if seg.speaker else seg.text)
        return "\n".join(out)
    lines: list[str] = []
    first, last = page_span(session, ex)
    for page in _pages(session, ex):
        texts = [str(x.get("text", "")) for x in page.lines]
        lo = ex.line_from if page.page_no == first and ex.line_from is not None else 0
        hi = ex.line_to if page.page_no == last and ex.line_to is not None else len(texts) - 1
        lines += texts[lo : hi + 1]
    return "\n".join(lines)


def citation(session: Session, ex: Excerpt, item: Item) -> Citation:
    if ex.segment_from is not None:
        segs = _segments(session, ex)
        where = f"{clock(segs[0].start)}–{clock(segs[-1].end)}" if segs else ""
        who = item.narrator or item.creator
    else:
        first, last = page_span(session, ex)
        where = f"第 {first} 页" if first == last else f"第 {first}–{last} 页"
        who = item.creator or item.narrator
    return Citation(item.reference_code, item.title, who, item.date or item.collected_at, where, item.kind)


def _link(session: Session, ex: Excerpt) -> str:
    if ex.segment_from is not None:
        seg = session.get(Segment, ex.segment_from)
        return f"/items/{ex.item_id}/recording?segment={ex.segment_from}&t={seg.start if seg else 0}"
    return f"/items/{ex.item_id}/pages/{page_span(session, ex)[0]}"


def excerpts(session: Session, project_id: int, *, role: str | None) -> list[ExcerptView]:
    """The project's excerpts as a viewer with ``role`` may see them: an excerpt of an
    item they may not see (``catalog.review.access``) keeps its place but shows nothing of it —
    not its text, heading, notes, citation or link."""
    from catalog.review.access import may_see

    rows = session.exec(
        select(Excerpt, Item)
        .join(Item, col(Item.id) == Excerpt.item_id)
        .where(Excerpt.project_id == project_id)
        .order_by(col(Excerpt.position), col(Excerpt.id))
    ).all()
    out = []
    for ex, item in rows:
        if not may_see(role, item):
            blank = Excerpt(id=ex.id, project_id=ex.project_id, item_id=0, position=ex.position)
            nothing = Citation("", "", "", "", "", "")
            hidden = Item(reference_code="", collection_id=0)
            out.append(ExcerptView(blank, hidden, "", False, nothing, "", hidden=True))
            continue
        text = source_text(session, ex)
        out.append(
            ExcerptView(ex, item, text, text != ex.quoted, citation(session, ex, item), _link(session, ex))
        )
    return out


# ---------------------------------------------------------------- changes


def add_segment_excerpt(
    session: Session,
    *,
    project_id: int,
    editor: str,
    segment_from: int,
    segment_to: int | None = None,
    heading: str = "",
    notes: str = "",
) -> Excerpt:
    """Add a span of a transcript (segment ids, inclusive) at the end of the project."""
    project = get_project(session, project_id)
    first = session.get(Segment, segment_from)
    last = session.get(Segment, segment_to if segment_to is not None else segment_from)
    if first is None or last is None or first.transcript_id != last.transcript_id:
        raise BadInputError("the segments must exist and belong to one transcript")
    if last.seq < first.seq:
        first, last = last, first
    tr = session.get(Transcript, first.transcript_id)
    assert tr is not None
    ex = Excerpt(
        project_id=project_id,
        item_id=tr.item_id,
        segment_from=first.id,
        segment_to=last.id,
        heading=heading.strip()[:256],
        notes=notes.strip(),
    )
    return _append(session, project, ex, editor)


def add_page_excerpt(
    session: Session,
    *,
    project_id: int,
    editor: str,
    item_id: int,
    page_from: int,
    page_to: int | None = None,
    line_from: int | None = None,
    line_to: int | None = None,
    heading: str = "",
    notes: str = "",
) -> Excerpt:
    """Add pages ``page_from``..``page_to`` of an item (optionally from one line to another,
    0-based) at the end of the project."""
    project = get_project(session, project_id)
    page_to = page_to if page_to is not None else page_from
    if page_to < page_from:
        page_from, page_to = page_to, page_from
    pages = {p.page_no: p for p in session.exec(select(Page).where(Page.item_id == item_id)).all()}
    if page_from not in pages or page_to not in pages:
        raise BadInputError(f"item {item_id} has no page {page_from if page_from not in pages else page_to}")
    for no, line in ((page_from, line_from), (page_to, line_to)):
        if line is not None and not 0 <= line < len(pages[no].lines):
            raise BadInputError(f"page {no} has no line {line + 1}")
    ex = Excerpt(
        project_id=project_id,
        item_id=item_id,
        page_from=page_from,
        page_to=page_to,
        page_from_id=pages[page_from].id,
        page_to_id=pages[page_to].id,
        line_from=line_from,
        line_to=line_to,
        heading=heading.strip()[:256],
        notes=notes.strip(),
    )
    return _append(session, project, ex, editor)


def _append(session: Session, project: Project, ex: Excerpt, editor: str) -> Excerpt:
    last = session.exec(select(func.max(Excerpt.position)).where(Excerpt.project_id == project.id)).one()
    ex.position = (last if last is not None else -1) + 1
    ex.quoted = source_text(session, ex)
    if not ex.quoted.strip():
        raise BadInputError("the excerpt has no text")
    session.add(ex)
    _join_editor(project, editor)
    project.updated_at = utcnow()
    session.add(project)
    session.flush()
    add_event(
        session,
        type=EventType.compilation,
        item_id=ex.item_id,
        agent=editor,
        project=project.id,
        excerpt=ex.id,
        action="add",
    )
    return ex


def _excerpt(session: Session, excerpt_id: int) -> Excerpt:
    ex = session.get(Excerpt, excerpt_id)
    if ex is None:
        raise NotFound(f"no excerpt {excerpt_id}")
    return ex


def edit_excerpt(session: Session, *, excerpt_id: int, heading: str, notes: str, editor: str) -> Excerpt:
    ex = _excerpt(session, excerpt_id)
    ex.heading, ex.notes = heading.strip()[:256], notes.strip()
    session.add(ex)
    _touch_project(session, ex.project_id, editor)
    return ex


def accept_update(session: Session, *, excerpt_id: int, editor: str) -> Excerpt:
    """The editor has seen the source's correction: quote the current text."""
    ex = _excerpt(session, excerpt_id)
    ex.quoted = source_text(session, ex)
    session.add(ex)
    _touch_project(session, ex.project_id, editor)
    return ex


def move_excerpt(session: Session, *, excerpt_id: int, to: int, editor: str) -> None:
    """Put an excerpt at position ``to`` (0-based) and renumber the rest."""
    ex = _excerpt(session, excerpt_id)
    rows = list(
        session.exec(
            select(Excerpt)
            .where(Excerpt.project_id == ex.project_id)
            .order_by(col(Excerpt.position), col(Excerpt.id))
        ).all()
    )
    rows.remove(ex)
    rows.insert(max(0, min(to, len(rows))), ex)
    for i, row in enumerate(rows):
        row.position = i
        session.add(row)
    _touch_project(session, ex.project_id, editor)


def remove_excerpt(session: Session, *, excerpt_id: int, editor: str) -> None:
    ex = _excerpt(session, excerpt_id)
    project_id = ex.project_id
    session.delete(ex)
    session.flush()
    add_event(
        session,
        type=EventType.compilation,
        item_id=ex.item_id,
        agent=editor,
        project=project_id,
        excerpt=excerpt_id,
        action="remove",
    )
    _touch_project(session, project_id, editor)


def _touch_project(session: Session, project_id: int, editor: str) -> None:
    project = get_project(session, project_id)
    _join_editor(project, editor)
    project.updated_at = utcnow()
    session.add(project)
    session.flush()
