"""Running text: a document's lines, or one part of a recording's segments, read as one
text in reading order, so that a phrase is found across a line end, a page break or a
segment end — and for every character, the line or segment it came from.

Lines and segments are joined by a line break. The index reads a single whitespace
between two CJK characters through (``terms.join_cjk``), so 水土 at the end of one line and
流失 at the start of the next are the phrase 水土流失; between Latin words the break is a word
break. A Latin word hyphenated at a line end (``infor-`` / ``mation``) is joined: the
hyphen is dropped where a letter precedes it and a lower-case letter follows on the next
line, the rule TEI and ALTO (``HYP``) use for end-of-line hyphenation.

The index holds one entry per page (or per ``CHUNK`` characters of a long page) and one
per transcript segment. Each entry's text is its own text followed by the first
``OVERLAP`` characters of what comes next (the next lines, page or segments of the same
part), so a phrase that starts in this entry and runs on is found here; a match that
*starts* in the overlap belongs to the next entry and is not reported from this one.
``pieces`` records, for every stretch of an entry's text, where it came from: what the
highlighter turns into one box per line, or a start time.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

# characters of the following text an entry carries: a phrase crossing a line end, page
# break or segment end is found when at most this many of its characters lie past it
OVERLAP = 64
# the longest own text of one entry: PostgreSQL's tsvector keeps word positions only up to
# 16,383 and an entry's positions are its characters plus its bigrams (about two per CJK
# character), so a page of a dense newspaper is indexed in parts of this many characters
CHUNK = 4000

_HYPHENATED = re.compile(r"[^\W\d_]-$")
_LOWER_START = re.compile(r"[^\W\d_]")
_LATIN_LETTER = re.compile(r"[A-Za-z\u00c0-\u024f]")


def joins_word(before: str, after: str) -> bool:
    """Whether ``before`` ends in a word hyphenated at the line end that ``after`` continues."""
    return bool(_HYPHENATED.search(before)) and bool(_LOWER_START.match(after)) and after[0].islower()


@dataclass
class Unit:
    """One thing the index gives an entry: a page (its lines) or a segment (one piece)."""

    key: int  # page number, or segment id
    pieces: list[tuple[list[Any], str]]  # (where it came from, its text) in reading order


@dataclass
class Window:
    """One entry's text: its own text, then the overlap; ``pieces`` as [start, end, *ref]."""

    key: int
    text: str
    own: int  # characters of ``text`` that are this entry's own
    pieces: list[list[Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"own": self.own, "map": self.pieces}


def windows(units: Sequence[Unit], *, only: set[int] | None = None) -> tuple[list[Window], set[int]]:
    """The entries of ``units`` read as one running text; with ``only``, the entries of
    those units and of every unit whose overlap reaches into one of them (an edit there
    changes its text too). Returns the windows and the keys of the units they belong to."""
    text: list[str] = []
    spans: list[tuple[int, int, list[Any]]] = []  # running-text span of every piece
    bounds: list[tuple[int, int, int]] = []  # unit key, its first piece, the piece after its last
    pos, last = 0, ""
    for unit in units:
        first = len(spans)
        for ref, body in unit.pieces:
            if not body:
                continue
            if spans:
                if joins_word(last, body):  # drop the line-end hyphen
                    text[-1] = text[-1][:-1]
                    s, e, r = spans[-1]
                    spans[-1] = (s, e - 1, r)
                    pos -= 1
                else:
                    text.append("\n")
                    pos += 1
            spans.append((pos, pos + len(body), ref))
            text.append(body)
            pos += len(body)
            last = body
        bounds.append((unit.key, first, len(spans)))
    running = "".join(text)
    chunks: list[tuple[int, int, int]] = []  # unit key, own start, own end
    for key, first, end in bounds:
        lo = first
        while lo < end:
            hi = lo + 1
            while hi < end and spans[hi][1] - spans[lo][0] <= CHUNK:
                hi += 1
            chunks.append((key, spans[lo][0], spans[hi - 1][1]))
            lo = hi
    wanted: set[int] = set()
    if only is not None:
        reach = [(s, e) for key, s, e in chunks if key in only]
        for key, s, e in chunks:
            if key in only or any(s < re_ and rs < _cut(running, e) for rs, re_ in reach):
                wanted.add(key)
    out = []
    for key, s, e in chunks:
        if only is not None and key not in wanted:
            continue
        end = _cut(running, e)
        pieces = [[max(ps, s) - s, min(pe, end) - s, *ref] for ps, pe, ref in spans if ps < end and pe > s]
        out.append(Window(key, running[s:end], e - s, pieces))
    return out, ({k for k, _, _ in chunks} if only is None else wanted)


def _cut(running: str, own_end: int) -> int:
    """Where an entry's overlap ends: ``OVERLAP`` characters of text past its own (the line
    breaks between lines not counted), moved back to a word boundary when that would split
    a Latin word."""
    end, count = own_end, 0
    while end < len(running) and count < OVERLAP:
        count += running[end] != "\n"
        end += 1
    if end < len(running) and _LATIN_LETTER.match(running[end]) and _LATIN_LETTER.match(running[end - 1]):
        space = running.rfind("\n", own_end, end)
        space = max(space, running.rfind(" ", own_end, end))
        end = space if space > own_end else own_end
    return end


def locate(pieces: dict[str, Any] | None, start: int, end: int) -> list[tuple[list[Any], int, int]]:
    """The pieces the span ``start``–``end`` of an entry's text covers: (ref, start, end)
    with the span cut to each piece and counted from the piece's own start."""
    if not pieces:
        return []
    out = []
    for ps, pe, *ref in pieces.get("map", []):
        if ps < end and start < pe:
            out.append((ref, max(start, ps) - ps, min(end, pe) - ps))
    return out
