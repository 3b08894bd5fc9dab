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
"""

from __future__ import annotations

from collections.abc import Sequence
from statistics import median

Box = tuple[float, float, float, float]  # x0, y0, x1, y1

GUTTER = 0.8  # a column gap is at least this many text heights wide
WIDE = 0.6  # a line wider than this share of its block may be a separator


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
