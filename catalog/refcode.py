"""档号 (reference codes) per DA/T 13-2022: levels joined by '-', parts within a level by '·'.

Example: ``J019-LY·2019·Y-001`` — fonds J019, category LY (录音), year 2019, retention Y,
item 001.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlmodel import Session, col, select

from catalog.models import Item
from configs.errors import BadInputError

CATEGORIES = {
    "WS": "文书",
    "ZP": "照片",
    "LY": "录音",
    "LX": "录像",
    "KJ": "科技",
    "SW": "实物",
    "KS": "口述",
    "SX": "声像",
}
RETENTIONS = ("Y", "D30", "D10", "C", "Z", "D")  # DA/T 13 allows the older 永久/长期/短期 (Y/C/D) too
_PART = re.compile(r"^[A-Za-z0-9]+$")
_DOT = "·"


@dataclass(frozen=True)
class RefCode:
    fonds: str
    category: str
    year: str
    retention: str
    number: int

    def __str__(self) -> str:
        return f"{self.fonds}-{self.category}{_DOT}{self.year}{_DOT}{self.retention}-{self.number:03d}"


def normalize_code(code: str) -> str:
    """Accept the common look-alikes of the middle dot (· ・ • .) and full-width hyphens."""
    code = code.strip()
    for dot in ("・", "•", "‧", "．"):
        code = code.replace(dot, _DOT)
    return code.replace("－", "-").replace("—", "-")


def validate(code: str) -> str:
    """Check the general DA/T 13 shape: non-empty alphanumeric parts, '-' between levels,
    '·' within a level. Returns the normalized code or raises BadInputError."""
    norm = normalize_code(code)
    if not norm:
        raise BadInputError("empty 档号")
    if len(norm) > 100:
        raise BadInputError(f"档号 too long ({len(norm)} characters): {norm[:30]}…")
    for level in norm.split("-"):
        parts = level.split(_DOT)
        if not all(_PART.match(p) for p in parts):
            raise BadInputError(
                f"invalid 档号 {code!r}: each level is letters/digits, levels joined by '-', "
                f"parts by '·' (e.g. J019-LY·2019·Y-001)"
            )
    return norm


def parse(code: str) -> RefCode:
    """Parse a code of the fonds-category·year·retention-number form."""
    norm = validate(code)
    m = re.fullmatch(r"([A-Za-z0-9]+)-([A-Za-z]+)·(\d{4})·([A-Za-z0-9]+)-(\d+)", norm)
    if not m:
        raise BadInputError(f"档号 {code!r} is not of the form fonds-category·year·retention-number")
    return RefCode(m[1], m[2], m[3], m[4], int(m[5]))


class CodeSequence:
    """Hands out the next free codes of each sequence for one ingest run: each sequence's
    highest number is read once, then counted on in memory (ingesting 100,000 files reads
    the codes once, not once per file). ``reset`` after a conflict with another writer."""

    def __init__(self) -> None:
        self._last: dict[str, int] = {}

    def next(self, session: Session, *, fonds: str, category: str, year: str, retention: str) -> str:
        prefix = f"{fonds}-{category}{_DOT}{year}{_DOT}{retention}-"
        if prefix not in self._last:
            self._last[prefix] = _highest(session, prefix)
        self._last[prefix] += 1
        return str(RefCode(fonds, category, year, retention, self._last[prefix]))

    def reset(self) -> None:
        self._last.clear()


def _highest(session: Session, prefix: str) -> int:
    existing = session.exec(
        select(Item.reference_code).where(col(Item.reference_code).startswith(prefix))
    ).all()
    return max((int(c[len(prefix) :]) for c in existing if c[len(prefix) :].isdigit()), default=0)


def next_code(session: Session, *, fonds: str, category: str, year: str, retention: str) -> str:
    """The next free code in the sequence for this fonds, category, year and retention."""
    return CodeSequence().next(session, fonds=fonds, category=category, year=year, retention=retention)
