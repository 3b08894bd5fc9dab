"""Screening of items (开放审核's machine first pass): run the detectors of ``tasks.screen``
over every OCR page and transcript segment, store each hit as a Flag with its location
(page + word boxes, or segment + seconds) and a masked preview, and summarise per item.
Decisions already taken on a hit (confirmed, dismissed) survive a re-run."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from sqlmodel import Session, col, select

from catalog import crud
from catalog.db import session_scope
from catalog.models import Access, Collection, Flag, Item, Page, Segment, Transcript, utcnow
from catalog.redaction import SCREENING_KINDS
from catalog.search import reindex_item
from configs import Settings, get_settings
from flows.redact import redact_item
from tasks import screen


def term_lists(settings: Settings, coll: Collection | None) -> list[screen.TermList]:
    names = [n.strip() for n in (coll.term_lists if coll else "").split(",") if n.strip()]
    return screen.load_term_lists(settings.screening.terms_path, names or None)


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
                bbox=union,
                preview=hit.preview,
                detail={"value": hit.value, "boxes": boxes, **hit.detail},
            )
        )
    return flags


def _segment_hits(item_id: int, seg: Segment, lists: list[screen.TermList]) -> list[Flag]:
    flags = []
    for hit in screen.screen_text(seg.text, lists):
        ranges = _locate(seg.text, [str(w.get("word", "")) for w in seg.words])
        times = [
            (float(w["start"]), float(w["end"]))
            for w, (ws, we) in zip(seg.words, ranges, strict=True)
            if ws >= 0 and ws < hit.end and hit.start < we
        ]
        start = min(t[0] for t in times) if times else seg.start
        end = max(t[1] for t in times) if times else seg.end
        flags.append(
            Flag(
                item_id=item_id,
                kind=hit.kind,
                category=hit.category,
                segment_id=seg.id,
                start=round(start, 2),
                end=round(end, 2),
                preview=hit.preview,
                detail={"value": hit.value, **hit.detail},
            )
        )
    return flags


def _key(f: Flag) -> tuple[Any, ...]:
    return (f.kind, f.category, f.page_no, f.segment_id, str(f.detail.get("value", "")))


def screen_item(session: Session, item: Item, lists: list[screen.TermList]) -> dict[str, Any]:
    """Screen one item; returns its summary (also kept in ``item.extra["screening"]``)."""
    assert item.id is not None
    found: list[Flag] = []
    for page in session.exec(select(Page).where(Page.item_id == item.id).order_by(col(Page.page_no))).all():
        found += _page_hits(page, lists)
    segments = session.exec(
        select(Segment).join(Transcript).where(Transcript.item_id == item.id).order_by(col(Segment.seq))
    ).all()
    for seg in segments:
        found += _segment_hits(item.id, seg, lists)
    old = {
        _key(f): f
        for f in session.exec(
            select(Flag).where(Flag.item_id == item.id, col(Flag.kind).in_(SCREENING_KINDS))
        ).all()
    }
    kept: set[tuple[Any, ...]] = set()
    for f in found:
        k = _key(f)
        if k in old:  # the same hit as before: keep the reviewer's decision
            kept.add(k)
            continue
        session.add(f)
    for k, f in old.items():
        if k not in kept and f.status == "open":  # gone from the text (corrected): no longer a hit
            session.delete(f)
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
    crud.add_event(
        session, type="screening", item_id=item.id, outcome="warning" if flags else "success", **summary
    )
    reindex_item(session, item)
    return summary


@flow(name="screen", log_prints=False)
def screen_flow(collection: str | None = None, item_id: int | None = None) -> list[dict[str, Any]]:
    """Screen every enriched item (of a collection, or one item)."""
    logger = get_run_logger()
    settings = get_settings()
    results = []
    with session_scope(settings) as session:
        query = (
            select(Item)
            .join(Collection)
            .where(col(Item.status).not_in(["pending", "processing", "quarantined"]))
        )
        if collection:
            query = query.where(Collection.code == collection)
        if item_id is not None:
            query = query.where(Item.id == item_id)
        items = session.exec(query.order_by(col(Item.id))).all()
        for item in items:
            lists = term_lists(settings, session.get(Collection, item.collection_id))
            summary = screen_item(session, item, lists)
            results.append({"item_id": item.id, "reference_code": item.reference_code, **summary})
            session.commit()
            if item.access == Access.open and summary["hits"]:
                redact_item(item.id or 0)  # open items serve only redacted copies
    logger.info("screened %d items", len(results))
    return results
