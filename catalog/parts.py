"""The parts of a multi-part recording: an interview recorded as several files under one
档号 is one item with one transcript per master file. Parts are numbered from 1 in file
order (the masters' sequence); each part's times start at 0 within its own file, and
``offset`` is where the part starts in the item as a whole (the durations before it), for
exports that run the parts on one time line."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from catalog.models import Asset, Segment, Transcript


@dataclass(frozen=True)
class Part:
    number: int  # 1-based, in file order
    transcript: Transcript
    asset_id: int
    name: str  # the master's file name
    offset: float  # seconds of the parts before this one


def recording_parts(session: Session, item_id: int) -> list[Part]:
    """Every part of an item, in file order (the newest transcript of each master)."""
    rows = session.exec(
        select(Transcript, Asset)
        .join(Asset, col(Asset.id) == Transcript.asset_id)
        .where(Transcript.item_id == item_id)
        .order_by(col(Asset.sequence), col(Asset.id), col(Transcript.id).desc())
    ).all()
    parts: list[Part] = []
    offset = 0.0
    seen: set[int] = set()
    for tr, asset in rows:
        if tr.asset_id in seen:  # an older run of the same master
            continue
        seen.add(tr.asset_id)
        parts.append(Part(len(parts) + 1, tr, asset.id or 0, asset.original_name or asset.key, offset))
        offset += tr.duration or 0.0
    return parts


def part_of(parts: list[Part], *, number: int | None = None, segment: Segment | None = None) -> Part | None:
    """The part with this number, or holding this segment; the first part otherwise."""
    if segment is not None:
        found = next((p for p in parts if p.transcript.id == segment.transcript_id), None)
        if found is not None:
            return found
    if number is not None:
        return next((p for p in parts if p.number == number), None)
    return parts[0] if parts else None


def segments_of(session: Session, part: Part) -> list[Segment]:
    return list(
        session.exec(
            select(Segment).where(Segment.transcript_id == part.transcript.id).order_by(col(Segment.seq))
        ).all()
    )
