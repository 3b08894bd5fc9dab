"""Reading order for an engine that returns lines without it (PP-OCR returns them top to
bottom, so the lines of two columns would interleave).

A recursive XY-cut on the line boxes, with column detection:

1. A block whose lines leave a clear vertical gap (a gutter at least one text height wide,
   crossed by no line) is split there into columns, read left to right.
2. Otherwise, lines that span a gutter found among the block's narrower lines (a heading
   over two columns, a full-width paragraph, a caption under a table) are separators: the
   block is cut into horizontal bands above, between and below them, each band read in
   turn and each separator in its place.
3. Otherwise the block is cut at its widest horizontal gap and both halves are read top
   first. A block with no gap left is one row: its lines (table cells, a label and its
   value) are read left to right.

Vertical CJK is the same problem turned a quarter: columns are read right to left and
tiers of columns top to bottom, so the boxes are rotated (x, y) → (y, −x), ordered as
horizontal text, and the order is kept.

The thresholds are in units of the block's own median text height (line height for
horizontal lines, column width for vertical ones), so they hold at any resolution; none
is tuned to particular pages.

Then, on horizontal pages, :func:`body_first` moves what is not the body's running text
after it, as ALTO separates a page's margins from its print space and as tagged PDF marks
running heads and page numbers as artifacts: footnotes (set in smaller type at the foot of
a column, opened by a note mark) and the running head or foot that carries a page number.
On a two-page spread the text then runs on from the left page's last line to the right
page's first instead of through the left page's notes and footer; on a single page only a
running head with a page number moves (to the end).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from statistics import median

Box = tuple[float, float, float, float]  # x0, y0, x1, y1

GUTTER = 0.8  # a column gap is at least this many text heights wide
WIDE = 0.6  # a line wider than this share of its block may be a separator

# Footnotes are set at least one size step below the body: 9 pt under 10.5 pt (小五 under
# 五号, 0.86), 10.5 under 12 (0.88), LaTeX's \footnotesize 8–10 pt under 10–12 pt (0.80–0.83).
# A line whose character pitch is at most this share of the page's median is small type;
# justified body lines stay within a few per cent of the median.
SMALL_TYPE = 0.9
HEAD_SIZE = 1.5  # a line on a page number's row belongs to the running head unless this much taller
MIN_EMS = 6  # a line of fewer characters (in full-width ems) is too short to measure its pitch

# a running head's or foot's page number: "44", "- 44 -", "·44·", "xii", "第 44 页", "44/120"
PAGE_NUMBER = re.compile(
    r"[-–—·•(（\[［]?\s*(\d{1,4}|[ivxlcdm]{1,7}|[IVXLCDM]{1,7}|第\s*\d{1,4}\s*页|"
    r"[Pp]age\s*\d{1,4}|\d{1,4}\s*/\s*\d{1,4})\s*[-–—·•)）\]］]?"
)
# what opens a footnote: "1", "¹", "①", "⑴", "[1]", "(1)", "*", "†", "注1：", "注："; a
# number followed by a unit or a date word ("12月3日", "30年代", "5%", "3.5") is a quantity
NOTE_MARK = re.compile(
    r"\s*(\d{1,3}(?!\d|[.．]\d|\s*[年月日号时分秒点%％‰万亿元米岁版期卷页章节条款])|[¹²³⁰⁴-⁹]{1,3}|[①-⑳㉑-㉟]|[⑴-⒇]|[⒈-⒛]|[\[［(（]\d{1,3}[\]］)）]|\*{1,3}|[†‡§]|注\s*\d{0,3}\s*[:：.．])"
)


def page_order(
    boxes: Sequence[tuple[int, int, int, int]], texts: Sequence[str], *, vertical: bool = False
) -> list[int]:
    """Indices of a page's lines in the order they are stored and read: the XY-cut's, then,
    on horizontal pages, the body first (:func:`body_first`)."""
    order = reading_order(boxes, vertical=vertical)
    if vertical:
        return order
    again = body_first([boxes[i] for i in order], [texts[i] for i in order])
    return [order[k] for k in again]


def reading_order(boxes: Sequence[tuple[int, int, int, int]], *, vertical: bool = False) -> list[int]:
    """Indices of ``boxes`` in reading order."""
    if vertical:
        turned: list[Box] = [(y0, -x1, y1, -x0) for x0, y0, x1, y1 in boxes]
    else:
        turned = [tuple(map(float, b)) for b in boxes]  # type: ignore[misc]
    if not turned:
        return []
    unit = median(max(1.0, b[3] - b[1]) for b in turned)
    out: list[int] = []
    _order(list(range(len(turned))), turned, unit, out, depth=0)
    return out


def _gaps(spans: list[tuple[float, float]], min_gap: float) -> list[float]:
    """Cut positions (gap midpoints) between merged ``spans`` at least ``min_gap`` apart."""
    cuts: list[float] = []
    ordered = sorted(spans)
    end = ordered[0][1]
    for start, stop in ordered[1:]:
        if start - end >= min_gap and start > end:
            cuts.append((end + start) / 2)
        end = max(end, stop)
    return cuts


def _core(box: Box) -> tuple[float, float]:
    """The middle half of a box's height: the line's own ink, without the padding."""
    quarter = (box[3] - box[1]) / 4
    return box[1] + quarter, box[3] - quarter


def _row_major(ids: list[int], boxes: list[Box]) -> list[int]:
    """Lines whose cores overlap, read as rows: top to bottom, each row left to right."""
    out: list[int] = []
    row: list[int] = []
    bottom = float("-inf")
    for i in sorted(ids, key=lambda i: sum(_core(boxes[i])) / 2):
        top, low = _core(boxes[i])
        if row and top > bottom:
            out.extend(sorted(row, key=lambda j: boxes[j][0]))
            row = []
        bottom = low if not row else max(bottom, low)
        row.append(i)
    out.extend(sorted(row, key=lambda j: boxes[j][0]))
    return out


def _split(ids: list[int], boxes: list[Box], cuts: list[float], axis: int) -> list[list[int]]:
    parts: list[list[int]] = [[] for _ in range(len(cuts) + 1)]
    for i in ids:
        centre = (boxes[i][axis] + boxes[i][axis + 2]) / 2
        parts[sum(centre > c for c in cuts)].append(i)
    return [p for p in parts if p]


def _order(ids: list[int], boxes: list[Box], unit: float, out: list[int], depth: int) -> None:
    if len(ids) <= 1 or depth > 64:
        out.extend(_row_major(ids, boxes))
        return
    # 1. columns: a gutter no line crosses
    columns = _gaps([(boxes[i][0], boxes[i][2]) for i in ids], GUTTER * unit)
    if columns:
        for part in _split(ids, boxes, columns, 0):
            _order(part, boxes, unit, out, depth + 1)
        return
    # 2. separators: lines crossing a gutter that the narrower lines leave
    left = min(boxes[i][0] for i in ids)
    width = max(boxes[i][2] for i in ids) - left
    narrow = [i for i in ids if boxes[i][2] - boxes[i][0] <= WIDE * width]
    if len(narrow) >= 2 and len(narrow) < len(ids):
        gutters = _gaps([(boxes[i][0], boxes[i][2]) for i in narrow], GUTTER * unit)
        spanning = [i for i in ids if any(boxes[i][0] < g < boxes[i][2] for g in gutters)]
        if gutters and spanning:
            _bands(ids, spanning, boxes, unit, out, depth)
            return
    # 3. rows: the widest horizontal gap between the lines' cores (detectors pad their boxes,
    # so neighbouring lines' boxes often overlap a little)
    rows = sorted(_core(boxes[i]) for i in ids)
    cuts = _gaps(rows, 0.0)
    if not cuts:  # one row: left to right
        out.extend(_row_major(ids, boxes))
        return
    widest = max(cuts, key=lambda c: _gap_width(rows, c))
    for part in _split(ids, boxes, [widest], 1):
        _order(part, boxes, unit, out, depth + 1)


def _gap_width(rows: list[tuple[float, float]], cut: float) -> float:
    above = max((b for _, b in rows if b <= cut), default=cut)
    below = min((t for t, _ in rows if t >= cut), default=cut)
    return below - above


def _bands(
    ids: list[int], spanning: list[int], boxes: list[Box], unit: float, out: list[int], depth: int
) -> None:
    """Read the block as bands of ordinary lines between separator lines, top to bottom."""
    separators = sorted(spanning, key=lambda i: boxes[i][1])
    others = [i for i in ids if i not in set(separators)]
    band: list[int] = []
    pending = sorted(others, key=lambda i: (boxes[i][1] + boxes[i][3]) / 2)
    k = 0
    for sep in separators:
        middle = (boxes[sep][1] + boxes[sep][3]) / 2
        band = []
        while k < len(pending) and (boxes[pending[k]][1] + boxes[pending[k]][3]) / 2 < middle:
            band.append(pending[k])
            k += 1
        if band:
            _order(band, boxes, unit, out, depth + 1)
        out.append(sep)
    if k < len(pending):
        _order(pending[k:], boxes, unit, out, depth + 1)


def is_vertical(boxes: Sequence[tuple[int, int, int, int]], texts: Sequence[str]) -> bool:
    """True when most of the page's characters stand in vertical lines: boxes at least 1.5×
    as tall as wide holding two or more characters (one character is square either way)."""
    tall = wide = 0
    for (x0, y0, x1, y1), text in zip(boxes, texts, strict=True):
        n = len(text.strip())
        if n < 2:
            continue
        if (y1 - y0) >= 1.5 * (x1 - x0):
            tall += n
        else:
            wide += n
    return tall > wide


def body_first(boxes: Sequence[tuple[int, int, int, int]], texts: Sequence[str]) -> list[int]:
    """Indices of horizontal lines, given in reading order, with the body's running text
    first, then the footnotes, then the running heads and feet that carry a page number.

    - A running head or foot: a line that is only a page number (:data:`PAGE_NUMBER`) and
      the page's lowest or highest line (no line's centre beyond it), with every line on
      its row (centre within its height, type at most :data:`HEAD_SIZE` as tall): "44
      中西比较美术学" on the left of a spread and "第二章 中西比较美术学本体论 45" on the right.
      A head or foot without a number stays.
    - Footnotes: the lines in small type (:data:`SMALL_TYPE`, or too short to measure,
      at least one measured) at the foot of a column (reading order goes on down the
      column; a new column starts higher up), under body text, when one of them opens with
      a note mark (:data:`NOTE_MARK`); those above the first mark are a note run on from
      the previous page, or one whose mark was misread.

    Nothing moves where the page would be left with no body.
    """
    n = len(boxes)
    margins = _margin_rows(boxes, texts)
    rest = [i for i in range(n) if i not in margins]
    notes = _footnotes(rest, boxes, texts)
    body = [i for i in rest if i not in notes]
    if not body:
        return list(range(n))
    return body + [i for i in rest if i in notes] + [i for i in range(n) if i in margins]


def _margin_rows(boxes: Sequence[tuple[int, int, int, int]], texts: Sequence[str]) -> set[int]:
    if not boxes:
        return set()
    centres = [(b[1] + b[3]) / 2 for b in boxes]
    topmost, bottommost = min(centres), max(centres)  # line centres
    rows: set[int] = set()
    for i, text in enumerate(texts):
        top, bottom = boxes[i][1], boxes[i][3]
        at_edge = bottommost <= bottom or topmost >= top  # no line's centre below / above it
        if not at_edge or not PAGE_NUMBER.fullmatch(text.strip()):
            continue
        # the row: lines beside the number in its type size (a display title that happens
        # to stand level with a page number is half as tall again, and stays)
        rows |= {
            j for j, c in enumerate(centres)
            if top <= c <= bottom and boxes[j][3] - boxes[j][1] <= HEAD_SIZE * (bottom - top)
        }  # fmt: skip
    return rows if len(rows) < len(boxes) else set()


def _ems(text: str) -> float:
    """A line's length in full-width ems: a CJK character or full-width mark is one, any
    other character half."""
    return sum(1.0 if unicodedata.east_asian_width(c) in "WF" else 0.5 for c in text.strip())


def _pitch(box: tuple[int, int, int, int], text: str) -> float | None:
    ems = _ems(text)
    return (box[2] - box[0]) / ems if ems >= MIN_EMS else None


def _footnotes(ids: list[int], boxes: Sequence[tuple[int, int, int, int]], texts: Sequence[str]) -> set[int]:
    pitches = {i: _pitch(boxes[i], texts[i]) for i in ids}
    measured = [p for p in pitches.values() if p is not None]
    if not measured:
        return set()
    small = SMALL_TYPE * median(measured)
    # the columns, as read: a new one starts when reading goes back up by more than a line
    columns: list[list[int]] = []
    for i in ids:
        if columns:
            last = boxes[columns[-1][-1]]
            if (boxes[i][1] + boxes[i][3]) / 2 >= (last[1] + last[3]) / 2 - (last[3] - last[1]):
                columns[-1].append(i)
                continue
        columns.append([i])
    notes: set[int] = set()
    for column in columns:
        start = len(column)  # the small-type tail of the column
        while start > 0:
            pitch = pitches[column[start - 1]]
            if pitch is not None and pitch > small:
                break
            start -= 1
        # a short line too short to measure that heads the tail (a paragraph's last) is body
        while (
            start < len(column)
            and pitches[column[start]] is None
            and not NOTE_MARK.match(texts[column[start]])
        ):
            start += 1
        # the note area: a line in it opens a note (lines above the first mark are a note
        # run on from the previous page, or one whose mark was misread)
        tail = column[start:]
        if not any(NOTE_MARK.match(texts[i]) for i in tail):
            continue
        above = [pitches[i] for i in column[:start] if pitches[i] is not None]
        if above and any(pitches[i] is not None for i in tail):
            notes.update(tail)
    return notes
