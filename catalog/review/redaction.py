"""What the public may see of an item: its text with every screening hit that was not
dismissed masked, everywhere in the item. Masking goes by the flagged value, found again in
the folded form screening reads (across spaces, line breaks, format characters, full-width
forms, Chinese numerals and either script), so a later correction elsewhere in the text
does not shift a mask off its target; page boxes and audio spans that flags name stay
hidden even after an edit removed the value."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from catalog.models import SCREENING_KINDS, Asset, AssetRole, Flag, Page, Segment, Transcript
from tasks.text import fold_with_offsets

__all__ = ["MASK", "SCREENING_KINDS", "Masks", "mask_text", "masks_for"]

MASK = "█"
PUBLIC_PAGE = AssetRole.public_page  # asset roles of the redacted derivatives (made by flows.redact)
PUBLIC_ACCESS = AssetRole.public_access


@dataclass(frozen=True)
class Masks:
    """What to hide of one item: every value a flag holds that was not dismissed (hidden
    wherever it occurs in the item: every field, page, segment, speaker name), and the
    places flags name — page boxes and audio seconds — that stay hidden even where the
    text no longer holds the value (an edit never un-redacts)."""

    boxes: dict[int, list[list[int]]]  # page number → boxes to black out on the page image
    spans: dict[int, list[tuple[float, float]]]  # segment id → seconds to silence
    count: int
    values: tuple[str, ...] = ()  # every value to hide, wherever it is

    def segment_times(self, segment_ids: Iterable[int] | None = None) -> list[tuple[float, float]]:
        """Seconds to silence that flags name (of the given segments: one part's, whose
        times are within its own file)."""
        wanted = None if segment_ids is None else set(segment_ids)
        return sorted(
            t for sid, spans in self.spans.items() if wanted is None or sid in wanted for t in spans
        )


def masks_for(session: Session, item_id: int) -> Masks:
    """Screening flags of the item that are not dismissed (confirmed, undecided, or removed
    by an edit and not yet decided)."""
    columns = (Flag.page_no, Flag.bbox, Flag.segment_id, Flag.start, Flag.end, Flag.detail)
    query = select(*[col(c) for c in columns]).where(
        Flag.item_id == item_id, col(Flag.kind).in_(SCREENING_KINDS), Flag.status != "dismissed"
    )
    flags: list[Any] = list(session.exec(query).all())  # only the columns masking reads
    boxes: dict[int, list[list[int]]] = {}
    spans: dict[int, list[tuple[float, float]]] = {}
    for f in flags:
        if f.page_no is not None:
            for box in f.detail.get("boxes", []) or ([f.bbox] if f.bbox else []):
                boxes.setdefault(f.page_no, []).append([int(v) for v in box])
        timed = f.segment_id is not None and f.start is not None and f.end is not None
        if timed and f.detail.get("field") != "speaker":
            spans.setdefault(f.segment_id, []).append((float(f.start), float(f.end)))
    values = tuple(sorted({str(f.detail.get("value", "")) for f in flags} - {""}, key=len, reverse=True))
    return Masks(boxes, spans, len(flags), values)


def occurrences(text: str, values: Iterable[str]) -> list[tuple[int, int]]:
    """Where each value occurs in ``text`` (original offsets), compared in the folded form
    screening uses — full-width or half-width, either script, Chinese numerals or digits,
    across spaces, line breaks and format characters."""
    needles = {
        v for v in (fold_with_offsets(value, drop_space=True, numerals=True).text for value in values) if v
    }
    if not needles or not text:
        return []
    view = fold_with_offsets(text, drop_space=True, numerals=True)
    found = []
    for needle in needles:
        start = 0
        while (pos := view.text.find(needle, start)) >= 0:
            found.append(view.span(pos, pos + len(needle)))
            start = pos + len(needle)
    return sorted(found)


def mask_text(text: str, values: Iterable[str]) -> str:
    """``text`` with each occurrence of each value replaced by █ (whitespace inside a match
    is kept, so line structure survives)."""
    spans = occurrences(text, values)
    if not spans:
        return text
    chars = list(text)
    for a, b in spans:
        for i in range(a, b):
            if not chars[i].isspace():
                chars[i] = MASK
    return "".join(chars)


def mask_lines(lines: list[dict[str, object]], values: Iterable[str]) -> list[str]:
    """Masked text of each OCR line; a value split across lines is found across the break."""
    texts = [str(line.get("text", "")) for line in lines]
    joined = mask_text("\n".join(texts), values)
    return joined.split("\n") if texts else []


def locate_words(text: str, pieces: list[str]) -> list[tuple[int, int]]:
    """Character range of each piece (a word) in ``text``, found in order ((-1, -1) when not)."""
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


def enclosing(boxes: list[list[int]]) -> list[int] | None:
    """The smallest box holding all ``boxes`` (None for none)."""
    if not boxes:
        return None
    return [
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    ]


def line_boxes(line: dict[str, Any], s: int, e: int) -> list[list[int]]:
    """The boxes of the words of an OCR line that hold characters ``[s, e)`` of its text
    (the line's box when no word is located)."""
    text = str(line.get("text", ""))
    words = line.get("words", []) or []
    ranges = locate_words(text, [str(w.get("text", "")) for w in words])
    covered = [
        [int(v) for v in w["bbox"]]
        for w, (ws, we) in zip(words, ranges, strict=True)
        if ws >= 0 and ws < e and s < we and w.get("bbox")
    ]
    return covered or ([[int(v) for v in line["bbox"]]] if line.get("bbox") else [])


def page_boxes(page: Page, masks: Masks) -> list[list[int]]:
    """Boxes to black out on a page image: those its flags name, and the words that carry
    a hidden value anywhere on the page (a value decided hidden in one place is hidden in
    every other)."""
    boxes = list(masks.boxes.get(page.page_no, []))
    if masks.values and page.lines:
        texts = [str(line.get("text", "")) for line in page.lines]
        starts, pos = [], 0
        for t in texts:
            starts.append(pos)
            pos += len(t) + 1
        for a, b in occurrences("\n".join(texts), masks.values):
            for line, t, base in zip(page.lines, texts, starts, strict=True):
                s, e = max(a, base) - base, min(b, base + len(t)) - base
                if s < e:
                    boxes += line_boxes(line, s, e)
    unique: list[list[int]] = []
    for box in boxes:
        if box not in unique:
            unique.append(box)
    return unique


def segment_spans(seg: Segment, masks: Masks) -> list[tuple[float, float]]:
    """Seconds to silence in one segment: what its flags name, and the words that carry a
    hidden value (the whole segment when its words have no times)."""
    spans = list(masks.spans.get(seg.id or 0, []))
    found = occurrences(seg.text, masks.values)
    ranges = locate_words(seg.text, [str(w.get("word", "")) for w in seg.words]) if found else []
    for a, b in found:
        times = [
            (float(w["start"]), float(w["end"]))
            for w, (ws, we) in zip(seg.words, ranges, strict=True)
            if ws >= 0 and ws < b and a < we and "start" in w and "end" in w
        ]
        spans.append(
            (round(min(t[0] for t in times), 2), round(max(t[1] for t in times), 2))
            if times
            else (seg.start, seg.end)
        )
    return sorted(set(spans))


def fingerprint(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]


def public_page_asset(session: Session, page: Page, masks: Masks) -> tuple[str, bool]:
    """(object key the public may see for this page image, whether it is ready)."""
    boxes = page_boxes(page, masks)
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
    segs = session.exec(select(Segment).where(Segment.transcript_id == transcript.id)).all()
    return sorted({t for seg in segs for t in segment_spans(seg, masks)})


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
