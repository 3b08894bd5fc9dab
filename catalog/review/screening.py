"""Screening of everything that is text in a record (开放审核's machine pass): OCR lines,
transcript segments and their speaker names, the title and every description field, and
the names of the stored files (every field ``catalog.fields`` holds). Each hit is a Flag with
its place (page + word boxes, segment + seconds, or a description field) and a masked
preview. The whole item is screened every time, an edit included: its pages as one running
text, each transcript as one, so a value across a page break or across segments is seen
whole (a three-hour transcript screens in well under a second, docs/benchmarks.md).
Decisions already taken on a hit survive a re-run; a hit an edit removed stays as a
``removed`` flag until a reviewer decides it.

This is the one place where the catalog calls a pure function of ``tasks`` directly
(``tasks.screen``: text in, hits out), a deliberate departure from the layout: an editor's
change must be screened in the same transaction that saves it (and would publish it), so
screening cannot wait for a flow run.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from catalog import crud, fields
from catalog.models import (
    SCREENING_KINDS,
    UNDECIDED,
    Access,
    Asset,
    AssetRole,
    Collection,
    EventType,
    Flag,
    FlagStatus,
    Item,
    Page,
    Segment,
    Transcript,
    utcnow,
)
from catalog.review.redaction import enclosing, line_boxes, locate_words
from configs import Settings
from tasks import screen

# every text field of an item's description (catalog.fields), and the file names
SCREENED_FIELDS = fields.SCREENED


def _mtimes(folder: Path) -> tuple[tuple[str, float], ...]:
    try:
        return tuple(sorted((e.name, e.stat().st_mtime) for e in os.scandir(folder) if e.is_file()))
    except OSError:
        return ()


@lru_cache(maxsize=32)
def _lists(
    folder: str, names: tuple[str, ...], _stamp: tuple[tuple[str, float], ...]
) -> list[screen.TermList]:
    return screen.load_term_lists(Path(folder), list(names) or None)


def term_lists(settings: Settings, coll: Collection | None) -> list[screen.TermList]:
    """The term lists a collection uses (all shipped or configured ones unless its
    ``term_lists`` names some); cached until a list file changes."""
    names = tuple(n.strip() for n in (coll.term_lists if coll else "").split(",") if n.strip())
    folder = settings.screening.terms_path
    return _lists(str(folder), names, _mtimes(folder))


SEGMENT_BREAKS = 3


def _running(texts: list[str]) -> tuple[str, list[int]]:
    """Texts joined by line ends, and where each starts."""
    starts, pos = [], 0
    for t in texts:
        starts.append(pos)
        pos += len(t) + 1
    return "\n".join(texts), starts


def _page_hits(pages: list[Page], lists: list[screen.TermList]) -> list[Flag]:
    """Hits in the item's pages read as one running text (each page's lines in reading
    order, the pages in order), so a number that a line end or a page break cut is found
    whole; each hit is a flag on every page it touches, with that page's piece as the value
    and the boxes of the words that carry it."""
    lines = [(page, line) for page in pages for line in page.lines]
    texts = [str(line.get("text", "")) for _, line in lines]
    joined, starts = _running(texts)
    flags = []
    for hit in screen.screen_text(joined, lists):
        per_page: dict[int, tuple[Page, list[str], list[list[int]]]] = {}
        for (page, line), t, base in zip(lines, texts, starts, strict=True):
            s, e = max(hit.start, base) - base, min(hit.end, base + len(t)) - base
            if s >= e or not t[s:e].strip():
                continue
            _, pieces, boxes = per_page.setdefault(page.page_no, (page, [], []))
            pieces.append(t[s:e])
            boxes += line_boxes(line, s, e)
        for page, pieces, boxes in per_page.values():
            flags.append(
                Flag(
                    item_id=page.item_id,
                    kind=hit.kind,
                    category=hit.category,
                    page_no=page.page_no,
                    page_id=page.id,
                    bbox=enclosing(boxes),
                    preview=hit.preview,
                    detail={"value": "\n".join(pieces), "boxes": boxes, **hit.detail}
                    | ({"spans_pages": True} if len(per_page) > 1 else {}),
                )
            )
    return flags


def _unread_hits(pages: list[Page]) -> list[Flag]:
    """One flag per page where the OCR detector found text that recognition did not read
    (a stamp, a number printed sideways in a margin, handwriting): what nobody read may
    still be personal data printed on the image. While undecided or confirmed, its regions
    are blacked out on the public image; a reviewer who finds nothing there dismisses it."""
    flags = []
    for page in pages:
        regions = [r for r in page.unread or [] if r.get("bbox")]
        if not regions:
            continue
        boxes = [[int(v) for v in r["bbox"]] for r in regions]
        flags.append(
            Flag(
                item_id=page.item_id,
                kind="unread",
                category="unread_text",
                page_no=page.page_no,
                page_id=page.id,
                bbox=enclosing(boxes),
                preview=f"第 {page.page_no} 页有 {len(boxes)} 处文字未能识别 ({len(boxes)} unread regions)",
                detail={"value": "", "boxes": boxes, "regions": len(boxes)},
            )
        )
    return flags


def _named_hits(
    item_id: int, texts: list[tuple[str, str]], lists: list[screen.TermList], segment_id: int | None = None
) -> list[Flag]:
    """Flags for hits in texts known by a name rather than a place on a page or in time: a
    description field, a file name, a segment's speaker."""
    return [
        Flag(
            item_id=item_id,
            kind=hit.kind,
            category=hit.category,
            segment_id=segment_id,
            preview=hit.preview,
            detail={"value": hit.value, "field": name, **hit.detail},
        )
        for name, text in texts
        if text
        for hit in screen.screen_text(text, lists)
    ]


def _transcript_hits(item_id: int, segs: list[Segment], lists: list[screen.TermList]) -> list[Flag]:
    """Hits in a transcript read as one running text (a number an editor's splits left in
    several segments is still found), each kept as a flag on every segment it touches with
    the piece in that segment as the value to mask; and hits in each speaker name."""
    texts = [seg.text for seg in segs]
    joined, starts = _running(texts)
    flags = []
    # a segment end is a cut made by the recogniser's pauses or an editor's split, anywhere
    # in a spoken number (not a row of a table): a number may run over four segments
    for hit in screen.screen_text(joined, lists, breaks=SEGMENT_BREAKS):
        for seg, t, base in zip(segs, texts, starts, strict=True):
            s, e = max(hit.start, base) - base, min(hit.end, base + len(t)) - base
            if s >= e or not t[s:e].strip():
                continue
            ranges = locate_words(t, [str(w.get("word", "")) for w in seg.words])
            times = [
                (float(w["start"]), float(w["end"]))
                for w, (ws, we) in zip(seg.words, ranges, strict=True)
                if ws >= 0 and ws < e and s < we
            ]
            start = min(x[0] for x in times) if times else seg.start
            end = max(x[1] for x in times) if times else seg.end
            whole = (s, e) == (hit.start - base, hit.end - base)
            flags.append(
                Flag(
                    item_id=item_id,
                    kind=hit.kind,
                    category=hit.category,
                    segment_id=seg.id,
                    start=round(start, 2),
                    end=round(end, 2),
                    preview=hit.preview,
                    detail={"value": t[s:e].strip(), **hit.detail}
                    | ({} if whole else {"spans_segments": True}),
                )
            )
    for seg in segs:
        flags += _named_hits(item_id, [("speaker", seg.speaker)], lists, segment_id=seg.id)
    return flags


def _key(f: Flag) -> tuple[Any, ...]:
    return (
        f.kind,
        f.category,
        f.page_no,
        f.segment_id,
        f.detail.get("field"),
        str(f.detail.get("value", "")),
    )


def screen_item(
    session: Session, item: Item, lists: list[screen.TermList], *, agent: str = "lantai"
) -> dict[str, Any]:
    """Screen the whole item in the caller's transaction: every description field and file
    name, the pages as one running text, each transcript as one running text, the speaker
    names. New hits become open flags; decided flags stay decided; a flag whose value is
    gone from the text (an edit removed it) is kept as ``removed`` — its boxes and audio
    spans stay redacted until a reviewer decides it. Returns the item's summary (also kept
    in ``item.extra["screening"]``) with ``new`` and ``removed``: what this pass changed."""
    assert item.id is not None
    file_names = [
        a.original_name
        for a in session.exec(
            select(Asset).where(Asset.item_id == item.id, Asset.role == AssetRole.master)
        ).all()
    ]
    values = [(name, str(getattr(item, name) or "")) for name in SCREENED_FIELDS]
    others = [("file_name", name) for name in sorted(set(file_names) - {item.source_name})]
    found = _named_hits(item.id, values + others, lists)
    pages = list(session.exec(select(Page).where(Page.item_id == item.id).order_by(col(Page.page_no))).all())
    found += _page_hits(pages, lists)
    found += _unread_hits(pages)
    for tr_id in session.exec(
        select(Transcript.id).where(Transcript.item_id == item.id).order_by(col(Transcript.id))
    ).all():
        segs = list(
            session.exec(
                select(Segment).where(Segment.transcript_id == tr_id).order_by(col(Segment.seq))
            ).all()
        )
        found += _transcript_hits(item.id, segs, lists)
    existing = session.exec(
        select(Flag).where(Flag.item_id == item.id, col(Flag.kind).in_(SCREENING_KINDS))
    ).all()
    known = {_key(f): f for f in existing}
    kept: set[tuple[Any, ...]] = set()
    new = 0
    for f in found:
        k = _key(f)
        kept.add(k)
        if k in known:  # the same hit as before: keep the reviewer's decision
            same = known[k]
            if same.kind == "unread" and same.detail.get("boxes") != f.detail.get("boxes"):
                # a new reading with other regions: nobody has looked at these yet
                same.bbox, same.detail = f.bbox, {**same.detail, **f.detail}
                if same.status == FlagStatus.dismissed:
                    same.status = FlagStatus.open
                session.add(same)
            if same.status == FlagStatus.removed:  # the value is back: undecided as before
                same.status = FlagStatus.open
                session.add(same)
            continue
        known[k] = f
        session.add(f)
        new += 1
    removed = 0
    for k, f in known.items():
        if k not in kept and f.status == FlagStatus.open:
            # gone from the text: an edit removed it, or corrected a misreading. Its boxes
            # and spans stay redacted until a reviewer confirms or dismisses it.
            f.status = FlagStatus.removed
            f.detail = {**f.detail, "removed": {"by": agent, "at": utcnow().isoformat(timespec="seconds")}}
            session.add(f)
            removed += 1
    session.flush()
    flags = session.exec(
        select(Flag).where(Flag.item_id == item.id, col(Flag.kind).in_(SCREENING_KINDS))
    ).all()
    categories: dict[str, int] = {}
    for f in flags:
        categories[f.category] = categories.get(f.category, 0) + 1
    summary: dict[str, Any] = {
        "at": utcnow().isoformat(timespec="seconds"),
        "hits": len(flags),
        "open": sum(1 for f in flags if f.status in UNDECIDED),
        "categories": categories,
        "lists": [tl.name for tl in lists],
    }
    item.extra = {**item.extra, "screening": summary}
    session.add(item)
    crud.add_event(
        session,
        type=EventType.screening,
        item_id=item.id,
        agent=agent,
        outcome="warning" if summary["open"] else "success",
        **summary,
        new=new,
        removed=removed,
    )
    return summary | {"new": new, "removed": removed}


def screen_edit(session: Session, item: Item, *, agent: str) -> int:
    """Screen the whole item after an edit, in the edit's transaction (whatever the edit
    touched: a value can span a page break or segments further apart than the edit).
    Returns how many flags were added or removed (then the whole index is rebuilt); for an
    open item each new hit is withheld from the public (masked) and the item goes back to
    the open-review queue, with an event."""
    from configs import get_settings

    lists = term_lists(get_settings(), session.get(Collection, item.collection_id))
    summary = screen_item(session, item, lists, agent=agent)
    if summary["new"] and item.access == Access.open:
        crud.add_event(
            session,
            type=EventType.withheld,
            item_id=item.id,
            agent=agent,
            outcome="warning",
            reason="an edit brought new screening hits: masked on the public site until reviewed",
            new=summary["new"],
        )
    return int(summary["new"]) + int(summary["removed"])


def project_hits(session: Session, project_id: int) -> list[dict[str, str]]:
    """Screening of a compilation project's own text — title, description, excerpt headings
    and notes — for the editors (a project is staff work, never public; this warns before a
    draft with a personal number in a note is exported or shared)."""
    from catalog.models import Excerpt, Project

    project = session.get(Project, project_id)
    if project is None:
        return []
    from configs import get_settings

    lists = term_lists(get_settings(), None)
    texts = [("title", project.title), ("description", project.description)]
    for ex in session.exec(
        select(Excerpt).where(Excerpt.project_id == project_id).order_by(col(Excerpt.position))
    ):
        texts += [(f"excerpt {ex.id} heading", ex.heading), (f"excerpt {ex.id} notes", ex.notes)]
    return [
        {"where": where, "category": hit.category, "preview": hit.preview}
        for where, text in texts
        if text
        for hit in screen.screen_text(text, lists)
    ]
