"""Screening of everything that is text in a record (开放审核's machine pass): OCR lines,
transcript segments and their speaker names, the title and every description field, and
the names of the stored files. Each hit is a Flag with its place (page + word boxes,
segment + seconds, or a description field) and a masked preview. Decisions already taken
on a hit survive a re-run.

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

from catalog import crud
from catalog.models import Access, Asset, Collection, Flag, Item, Page, Segment, Transcript, utcnow
from catalog.redaction import SCREENING_KINDS
from catalog.search import ALL, Part
from configs import Settings
from tasks import screen

# the text fields of an item that are screened (DA/T 18, DA/T 59), with the file names
SCREENED_FIELDS = (
    "title",
    "creator",
    "place",
    "people",
    "subject",
    "abstract",
    "extent",
    "notes",
    "narrator",
    "interviewer",
    "collected_place",
    "consent",
    "source_name",
)


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


def _locate(text: str, pieces: list[str]) -> list[tuple[int, int]]:
    """Character range of each piece (a word) in ``text``, found in order."""
    out, cursor = [], 0
    for piece in pieces:
        p = piece.strip()
        pos = text.find(p, cursor) if p else -1
        if pos < 0:
            out.append((-1, -1))
            continue
        out.append((pos, pos + len(p)))
        cursor = pos + len(p)
    return out


def _page_hits(page: Page, lists: list[screen.TermList]) -> list[Flag]:
    texts = [str(line.get("text", "")) for line in page.lines]
    joined = "\n".join(texts)
    starts, pos = [], 0
    for t in texts:
        starts.append(pos)
        pos += len(t) + 1
    flags = []
    for hit in screen.screen_text(joined, lists):
        boxes: list[list[int]] = []
        for i, (line, t) in enumerate(zip(page.lines, texts, strict=True)):
            s, e = max(hit.start, starts[i]) - starts[i], min(hit.end, starts[i] + len(t)) - starts[i]
            if s >= e:
                continue
            words = line.get("words", [])
            ranges = _locate(t, [str(w.get("text", "")) for w in words])
            covered = [
                w["bbox"] for w, (ws, we) in zip(words, ranges, strict=True) if ws < e and s < we and ws >= 0
            ]
            boxes += covered or ([line["bbox"]] if line.get("bbox") else [])
        union = (
            [
                min(b[0] for b in boxes),
                min(b[1] for b in boxes),
                max(b[2] for b in boxes),
                max(b[3] for b in boxes),
            ]
            if boxes
            else None
        )
        flags.append(
            Flag(
                item_id=page.item_id,
                kind=hit.kind,
                category=hit.category,
                page_no=page.page_no,
                page_id=page.id,
                bbox=union,
                preview=hit.preview,
                detail={"value": hit.value, "boxes": boxes, **hit.detail},
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
    """Hits in consecutive segments screened as one text (a number an editor's split left
    in two segments is still found), each kept as a flag on every segment it touches with
    the piece in that segment as the value to mask; and hits in each speaker name."""
    texts = [seg.text for seg in segs]
    starts, pos = [], 0
    for t in texts:
        starts.append(pos)
        pos += len(t) + 1
    flags = []
    for hit in screen.screen_text("\n".join(texts), lists):
        for seg, t, base in zip(segs, texts, starts, strict=True):
            s, e = max(hit.start, base) - base, min(hit.end, base + len(t)) - base
            if s >= e or not t[s:e].strip():
                continue
            ranges = _locate(t, [str(w.get("word", "")) for w in seg.words])
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


def _screen_segments(
    session: Session, item_id: int, part: Part, lists: list[screen.TermList]
) -> tuple[Part, list[Flag]]:
    """Screen the item's transcripts (or the edited segments with a neighbour on each side,
    so a value across a segment boundary is found); returns the part actually screened."""
    found: list[Flag] = []
    screened: set[int] = set()
    if part.segment_ids is not None:
        # the edited segments' transcripts and positions, then those with one neighbour each side
        spans: dict[int, tuple[int, int]] = {}
        for tr_id, seq in session.exec(
            select(Segment.transcript_id, Segment.seq).where(col(Segment.id).in_(part.segment_ids))
        ).all():
            lo, hi = spans.get(tr_id, (seq, seq))
            spans[tr_id] = (min(lo, seq), max(hi, seq))
        windows = [
            select(Segment)
            .where(Segment.transcript_id == tr_id, col(Segment.seq) >= lo - 1, col(Segment.seq) <= hi + 1)
            .order_by(col(Segment.seq))
            for tr_id, (lo, hi) in sorted(spans.items())
        ]
    else:
        windows = [
            select(Segment).where(Segment.transcript_id == tr_id).order_by(col(Segment.seq))
            for tr_id in session.exec(
                select(Transcript.id).where(Transcript.item_id == item_id).order_by(col(Transcript.id))
            ).all()
        ]
    for window in windows:
        segs = list(session.exec(window).all())
        screened |= {seg.id or 0 for seg in segs}
        found += _transcript_hits(item_id, segs, lists)
    if part.segment_ids is not None:
        part = Part(meta=part.meta, pages=part.pages, page_no=part.page_no, segments=True,
                    segment_ids=frozenset(screened))  # fmt: skip
    return part, found


def _key(f: Flag) -> tuple[Any, ...]:
    return (
        f.kind,
        f.category,
        f.page_no,
        f.segment_id,
        f.detail.get("field"),
        str(f.detail.get("value", "")),
    )


def _in_part(f: Flag, part: Part) -> bool:
    if part == ALL:
        return True
    if f.page_no is not None:
        return part.pages and (part.page_no is None or f.page_no == part.page_no)
    if f.segment_id is not None:
        return part.segments and (part.segment_ids is None or f.segment_id in part.segment_ids)
    return part.meta


def screen_item(
    session: Session, item: Item, lists: list[screen.TermList], part: Part = ALL, *, agent: str = "lantai"
) -> dict[str, Any]:
    """Screen the item (or one ``part`` of it: the description, a page, some segments) in
    the caller's transaction. New hits become open flags; open flags whose value is gone
    from the screened part are removed; decided flags stay. Returns the item's summary
    (also kept in ``item.extra["screening"]``) with ``new``: the hits this pass added."""
    assert item.id is not None
    found: list[Flag] = []
    if part.meta:
        file_names = [
            a.original_name
            for a in session.exec(select(Asset).where(Asset.item_id == item.id, Asset.role == "master")).all()
        ]
        fields = [(name, str(getattr(item, name) or "")) for name in SCREENED_FIELDS]
        others = [("file_name", name) for name in sorted(set(file_names) - {item.source_name})]
        found += _named_hits(item.id, fields + others, lists)
    if part.pages:
        pages = select(Page).where(Page.item_id == item.id)
        if part.page_no is not None:
            pages = pages.where(Page.page_no == part.page_no)
        for page in session.exec(pages.order_by(col(Page.page_no))).all():
            found += _page_hits(page, lists)
    if part.segments:
        part, segment_hits = _screen_segments(session, item.id, part, lists)
        found += segment_hits
    existing = session.exec(
        select(Flag).where(Flag.item_id == item.id, col(Flag.kind).in_(SCREENING_KINDS))
    ).all()
    old = {_key(f): f for f in existing if _in_part(f, part)}
    known = {_key(f) for f in existing}
    kept: set[tuple[Any, ...]] = set()
    new = 0
    for f in found:
        k = _key(f)
        kept.add(k)
        if k in known:  # the same hit as before: keep the reviewer's decision
            continue
        known.add(k)
        session.add(f)
        new += 1
    removed = 0
    for k, f in old.items():
        if k not in kept and f.status == "open":  # gone from the text (corrected): no longer a hit
            session.delete(f)
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
        "open": sum(1 for f in flags if f.status == "open"),
        "categories": categories,
        "lists": [tl.name for tl in lists],
    }
    item.extra = {**item.extra, "screening": summary}
    session.add(item)
    if part == ALL or new or removed:
        crud.add_event(
            session,
            type="screening",
            item_id=item.id,
            agent=agent,
            outcome="warning" if new or (part == ALL and flags) else "success",
            **summary,
            new=new,
            scope="item" if part == ALL else "edit",
        )
    return summary | {"new": new, "removed": removed}


def screen_edit(session: Session, item: Item, part: Part, *, agent: str) -> int:
    """Screen what an editor just changed, in the edit's transaction. Returns how many flags
    were added or removed (then the whole index is rebuilt); for an open item each new hit
    is withheld from the public (masked) and the item goes back to the open-review queue,
    with an event."""
    from configs import get_settings

    lists = term_lists(get_settings(), session.get(Collection, item.collection_id))
    summary = screen_item(session, item, lists, part, agent=agent)
    if summary["new"] and item.access == Access.open:
        crud.add_event(
            session,
            type="withheld",
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
