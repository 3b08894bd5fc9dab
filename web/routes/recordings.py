"""The recording view (player + transcript) and the JSON API editors' changes go through."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from catalog.models import Asset, AssetRole, Flag, Segment, Transcript
from catalog.parts import part_of, recording_parts, segments_of
from catalog.projects import projects
from catalog.review.editing import NotFound, edit_segment, merge_with_next, rename_speaker, split_segment
from web.deps import DbSession, EditorUser, Int, Staff, render, settings_of, store_of
from web.routes.review import visible_item

router = APIRouter()


def word_timings(seg: Segment, low: float) -> list[list[Any]] | None:
    """The words as ``[[word, start, low?], …]`` for the page to turn into clickable spans
    as they scroll into view; None when the words no longer spell the text (after an edit)."""
    words = [(str(w.get("word", "")), w.get("start")) for w in seg.words]
    if not words or "".join(w for w, _ in words).strip() != seg.text.strip():
        return None
    return [
        [w, s, 1] if float(x.get("probability", 1.0)) < low else [w, s]
        for (w, s), x in zip(words, seg.words, strict=True)
    ]


def segment_json(seg: Segment, low: float) -> dict[str, Any]:
    return {
        "id": seg.id,
        "seq": seg.seq,
        "start": seg.start,
        "end": seg.end,
        "text": seg.text,
        "speaker": seg.speaker,
        "confidence": seg.confidence,
        "version": seg.version,
        "words": [
            {
                "start": w.get("start"),
                "end": w.get("end"),
                "word": w.get("word", ""),
                "low": float(w.get("probability", 1.0)) < low,
            }
            for w in seg.words
        ],
    }


@router.get("/items/{item_id}/recording", response_class=HTMLResponse)
def recording(
    request: Request,
    db: DbSession,
    viewer: Staff,
    item_id: Int,
    t: float = 0.0,
    part: Int | None = None,
    segment: Int | None = None,
) -> Response:
    """One part of a recording (``part``, or the part holding ``segment``; the first
    otherwise) with its player and transcript, and links to the item's other parts."""
    item = visible_item(db, item_id, viewer)
    parts = recording_parts(db, item_id)
    seg = db.get(Segment, segment) if segment is not None else None
    current = part_of(parts, number=part, segment=seg)
    if current is None:
        raise NotFound(
            f"item {item.reference_code} has no transcript yet" if not parts else f"no part {part}"
        )
    tr = current.transcript
    settings = settings_of(request)
    access = db.exec(
        select(Asset).where(Asset.source_asset_id == tr.asset_id, Asset.role == AssetRole.access)
    ).first()
    store = store_of(request)
    media_url = store.presigned_get(access.key, expires_seconds=6 * 3600) if access else ""
    peaks = db.exec(
        select(Asset).where(Asset.source_asset_id == tr.asset_id, Asset.role == AssetRole.peaks)
    ).first()
    segments = segments_of(db, current)
    ids = [s.id for s in segments]
    flags = db.exec(select(Flag).where(Flag.item_id == item_id, col(Flag.segment_id).in_(ids))).all()
    flagged: dict[int, list[str]] = {}
    for f in flags:
        flagged.setdefault(f.segment_id or 0, []).append(f"{f.kind}: {f.category}")
    low = settings.asr.low_confidence
    if seg is not None and seg.transcript_id == tr.id and not t:
        t = seg.start
    return render(
        request,
        "recording.html",
        item=item,
        transcript=tr,
        part=current,
        parts=parts,
        segments=[
            {
                "id": s.id,
                "start": s.start,
                "end": s.end,
                "text": s.text,
                "speaker": s.speaker,
                "confidence": s.confidence,
                "version": s.version,
                "flags": flagged.get(s.id or 0, []),
            }
            for s in segments
        ],
        words=json.dumps(
            {s.id: w for s in segments if (w := word_timings(s, low))},
            ensure_ascii=False,
            separators=(",", ":"),
        ),
        speakers=sorted({s.speaker for s in segments if s.speaker}),
        media_url=media_url,
        peaks_url=store.presigned_get(peaks.key, expires_seconds=6 * 3600) if peaks else "",
        is_video=bool(access and access.media_type.startswith("video")),
        start_at=max(0.0, t),
        locked=item.status == "approved",
        projects=[(p.id, p.title) for p, _ in projects(db)],
    )


class SegmentEdit(BaseModel):
    version: Int
    text: str | None = Field(default=None, max_length=20_000)
    start: float | None = None
    end: float | None = None
    speaker: str | None = Field(default=None, max_length=64)


class Split(BaseModel):
    version: Int
    at: Int


class Merge(BaseModel):
    version: Int
    next_version: Int


class SpeakerRename(BaseModel):
    old: str = Field(max_length=64)
    new: str = Field(max_length=64)


def _low(request: Request) -> float:
    return settings_of(request).asr.low_confidence


def _check(db: Session, viewer: Any, segment_id: Int) -> None:
    seg = db.get(Segment, segment_id)
    tr = db.get(Transcript, seg.transcript_id) if seg else None
    if tr is None:
        raise NotFound(f"no segment {segment_id}")
    visible_item(db, tr.item_id, viewer)


@router.put("/api/segments/{segment_id}")
def api_edit_segment(
    request: Request, db: DbSession, viewer: EditorUser, segment_id: Int, body: SegmentEdit
) -> dict[str, Any]:
    _check(db, viewer, segment_id)
    seg = edit_segment(db, segment_id=segment_id, editor=viewer.editor, **body.model_dump())
    return segment_json(seg, _low(request))


@router.post("/api/segments/{segment_id}/split")
def api_split(
    request: Request, db: DbSession, viewer: EditorUser, segment_id: Int, body: Split
) -> dict[str, Any]:
    _check(db, viewer, segment_id)
    new = split_segment(db, segment_id=segment_id, version=body.version, at=body.at, editor=viewer.editor)
    first = db.get(Segment, segment_id)
    assert first is not None
    return {"first": segment_json(first, _low(request)), "second": segment_json(new, _low(request))}


@router.post("/api/segments/{segment_id}/merge")
def api_merge(
    request: Request, db: DbSession, viewer: EditorUser, segment_id: Int, body: Merge
) -> dict[str, Any]:
    _check(db, viewer, segment_id)
    seg = merge_with_next(
        db, segment_id=segment_id, version=body.version, next_version=body.next_version, editor=viewer.editor
    )
    return segment_json(seg, _low(request))


@router.post("/api/transcripts/{transcript_id}/speakers")
def api_rename_speaker(
    db: DbSession, viewer: EditorUser, transcript_id: Int, body: SpeakerRename
) -> dict[str, int]:
    tr = db.get(Transcript, transcript_id)
    if tr is None:
        raise NotFound(f"no transcript {transcript_id}")
    visible_item(db, tr.item_id, viewer)
    return {
        "changed": rename_speaker(
            db, transcript_id=transcript_id, old=body.old, new=body.new, editor=viewer.editor
        )
    }


@router.get("/api/items/{item_id}/segments")
def api_segments(
    request: Request, db: DbSession, viewer: Staff, item_id: Int, part: Int | None = None
) -> list[dict[str, Any]]:
    """The segments of every part (or of one ``part``), each with its part number; times
    are within the part's own file."""
    visible_item(db, item_id, viewer)
    parts = recording_parts(db, item_id)
    if part is not None:
        parts = [p for p in parts if p.number == part]
        if not parts:
            raise NotFound(f"no part {part}")
    return [segment_json(s, _low(request)) | {"part": p.number} for p in parts for s in segments_of(db, p)]
