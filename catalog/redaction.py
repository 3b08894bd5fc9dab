"""What the public may see of an item: its text with every screening hit that was not
dismissed masked. Masking goes by the flagged value (found again across spaces and line
breaks), so a later correction elsewhere in the text does not shift a mask off its target."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from catalog.models import Asset, Flag, Page, Segment, Transcript

MASK = "█"
PUBLIC_PAGE = "public_page"  # asset roles of the redacted derivatives (made by flows.redact)
PUBLIC_ACCESS = "public_access"
SCREENING_KINDS = ("pii", "term")


@dataclass(frozen=True)
class Masks:
    """The values to hide, per page number and per segment id (and for the whole item)."""

    by_page: dict[int, list[str]]
    by_segment: dict[int, list[str]]
    boxes: dict[int, list[list[int]]]  # page number → boxes to black out on the page image
    spans: dict[int, list[tuple[float, float]]]  # segment id → seconds to silence
    count: int
    values: tuple[str, ...] = ()  # every value to hide, wherever it is: for fields, speakers, titles

    def segment_times(self, segment_ids: Iterable[int] | None = None) -> list[tuple[float, float]]:
        """Seconds to silence (of the given segments: one part's, whose times are within
        its own file)."""
        wanted = None if segment_ids is None else set(segment_ids)
        return sorted(
            t for sid, spans in self.spans.items() if wanted is None or sid in wanted for t in spans
        )


def masks_for(session: Session, item_id: int) -> Masks:
    """Screening flags of the item that are confirmed or still open (not dismissed)."""
    columns = (Flag.page_no, Flag.bbox, Flag.segment_id, Flag.start, Flag.end, Flag.detail)
    query = select(*[col(c) for c in columns]).where(
        Flag.item_id == item_id, col(Flag.kind).in_(SCREENING_KINDS), Flag.status != "dismissed"
    )
    flags: list[Any] = list(session.exec(query).all())  # only the columns masking reads
    by_page: dict[int, list[str]] = {}
    by_segment: dict[int, list[str]] = {}
    boxes: dict[int, list[list[int]]] = {}
    spans: dict[int, list[tuple[float, float]]] = {}
    for f in flags:
        value = str(f.detail.get("value", ""))
        if f.page_no is not None:
            if value:
                by_page.setdefault(f.page_no, []).append(value)
            for box in f.detail.get("boxes", []) or ([f.bbox] if f.bbox else []):
                boxes.setdefault(f.page_no, []).append([int(v) for v in box])
        if f.segment_id is not None:
            if value:
                by_segment.setdefault(f.segment_id, []).append(value)
            if f.start is not None and f.end is not None and f.detail.get("field") != "speaker":
                spans.setdefault(f.segment_id, []).append((float(f.start), float(f.end)))
    values = tuple(sorted({str(f.detail.get("value", "")) for f in flags} - {""}, key=len, reverse=True))
    return Masks(by_page, by_segment, boxes, spans, len(flags), values)


def mask_text(text: str, values: Iterable[str]) -> str:
    """``text`` with each occurrence of each value replaced by █ (whitespace inside a match
    is kept, so line structure survives)."""
    chars = list(text)
    kept = [(i, ch) for i, ch in enumerate(text) if not ch.isspace()]
    flat = "".join(ch for _, ch in kept)
    for value in values:
        needle = "".join(value.split())
        if not needle:
            continue
        start = 0
        while (pos := flat.find(needle, start)) >= 0:
            for i, _ in kept[pos : pos + len(needle)]:
                chars[i] = MASK
            start = pos + len(needle)
    return "".join(chars)


def mask_lines(lines: list[dict[str, object]], values: list[str]) -> list[str]:
    """Masked text of each OCR line; a value split across lines is found across the break."""
    texts = [str(line.get("text", "")) for line in lines]
    joined = mask_text("\n".join(texts), values)
    return joined.split("\n") if texts else []


def fingerprint(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]


def public_page_asset(session: Session, page: Page, masks: Masks) -> tuple[str, bool]:
    """(object key the public may see for this page image, whether it is ready)."""
    boxes = masks.boxes.get(page.page_no)
    if not boxes:
        return page.image_key, bool(page.image_key)
    asset = session.exec(
        select(Asset).where(
            Asset.item_id == page.item_id,
            Asset.role == PUBLIC_PAGE,
            Asset.original_name == f"page-{page.page_no}",
        )
    ).first()
    return (asset.key, True) if asset and asset.tech.get("masks") == fingerprint(boxes) else ("", False)


def part_spans(session: Session, transcript: Transcript, masks: Masks) -> list[tuple[float, float]]:
    """The seconds to silence in one part (times within its own file)."""
    ids = session.exec(select(Segment.id).where(Segment.transcript_id == transcript.id)).all()
    return masks.segment_times(i for i in ids if i is not None)


def public_media_asset(session: Session, transcript: Transcript, masks: Masks) -> tuple[Asset | None, bool]:
    """(the access copy of this part the public may hear, whether it is ready)."""
    spans = part_spans(session, transcript, masks)
    role = PUBLIC_ACCESS if spans else "access"
    asset = session.exec(
        select(Asset).where(Asset.source_asset_id == transcript.asset_id, Asset.role == role)
    ).first()
    if asset is None or (spans and asset.tech.get("masks") != fingerprint(spans)):
        return None, False
    return asset, True
