"""Record exports that need only the catalog: plain text, WebVTT, SRT and JSON."""

from __future__ import annotations

import json
from typing import Any

from sqlmodel import Session

from catalog import crud
from catalog.models import Item


def _clock(seconds: float, sep: str) -> str:
    ms = round(seconds * 1000)
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def _segments(session: Session, item: Item) -> list[Any]:
    text = crud.item_text(session, item_id=item.id or 0)
    return [seg for t in text["transcripts"] for seg in text["segments"][t.id]]


def to_txt(session: Session, item: Item) -> str:
    """Page text (with page headings) or the transcript with timestamps."""
    text = crud.item_text(session, item_id=item.id or 0)
    out = [f"{item.reference_code}  {item.title}", ""]
    for page in text["pages"]:
        out += [f"--- 第 {page.page_no} 页 / page {page.page_no} ---", page.text, ""]
    for seg in _segments(session, item):
        speaker = f"{seg.speaker}: " if seg.speaker else ""
        out.append(f"[{_clock(seg.start, '.')[:-4]}] {speaker}{seg.text}")
    return "\n".join(out).rstrip() + "\n"


def to_vtt(session: Session, item: Item) -> str:
    out = ["WEBVTT", ""]
    for n, seg in enumerate(_segments(session, item), 1):
        voice = f"<v {seg.speaker}>" if seg.speaker else ""
        out += [
            str(n),
            f"{_clock(seg.start, '.')} --> {_clock(seg.end, '.')}",
            voice + seg.text.replace("-->", "->"),
            "",
        ]
    return "\n".join(out)


def to_srt(session: Session, item: Item) -> str:
    out = []
    for n, seg in enumerate(_segments(session, item), 1):
        out += [str(n), f"{_clock(seg.start, ',')} --> {_clock(seg.end, ',')}", seg.text, ""]
    return "\n".join(out)


def to_json(session: Session, item: Item) -> str:
    """The full record: description, assets, pages with lines, transcripts with segments, events."""
    from sqlmodel import select

    from catalog.models import Asset, Collection, Event

    text = crud.item_text(session, item_id=item.id or 0)
    coll = session.get(Collection, item.collection_id)
    record = {
        "item": item.model_dump(mode="json"),
        "collection": coll.code if coll else None,
        "assets": [
            a.model_dump(mode="json")
            for a in session.exec(select(Asset).where(Asset.item_id == item.id)).all()
        ],
        "pages": [p.model_dump(mode="json") for p in text["pages"]],
        "transcripts": [
            {
                **t.model_dump(mode="json"),
                "segments": [s.model_dump(mode="json") for s in text["segments"][t.id]],
            }
            for t in text["transcripts"]
        ],
        "events": [
            e.model_dump(mode="json")
            for e in session.exec(select(Event).where(Event.item_id == item.id)).all()
        ],
    }
    return json.dumps(record, ensure_ascii=False, indent=2)
