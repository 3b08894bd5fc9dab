"""Screening of recognised text for content that must stay controlled before records open:
personal information (Chinese resident ID numbers with their checksum, mobile and
landline numbers, bank cards with the Luhn check, e-mail addresses, passport numbers) and
listed terms (per collection, with categories), matched in simplified and traditional
script and across the spaces and line breaks OCR puts inside words.

Pure functions: text in, ``Hit`` spans (character offsets into the text given) out."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import opencc

PII = "pii"
TERM = "term"

# Resident identity card (GB 11643-1999): weights and check characters of the 18th digit.
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
# the first two digits: province-level divisions (GB/T 2260)
_PROVINCES = frozenset(
    {"11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41", "42"}
    | {"43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65", "71", "81", "82"}
    | {"91"}
)


@dataclass(frozen=True)
class Hit:
    kind: str  # pii | term
    # id_number, id_number_15, mobile, landline, bank_card, email, passport, or a term list's category
    category: str
    start: int  # offsets into the text screened (end exclusive)
    end: int
    value: str  # the matched text as found (spaces included)
    preview: str  # masked: enough to recognise, not enough to use
    detail: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TermList:
    name: str
    category: str
    terms: tuple[str, ...]


# ---------------------------------------------------------------- normalisation


@cache
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def _is_space(ch: str) -> bool:
    return ch.isspace() or ch in "\u200b\u3000"


def _digitish(ch: str) -> bool:
    return ch.isdigit() or ch in "xX"


def _compact(text: str, *, only_between_digits: bool = False) -> tuple[str, list[int]]:
    """The text without whitespace (or, with ``only_between_digits``, without the
    whitespace OCR and speech put inside numbers), full-width digits and letters made
    half-width, traditional characters made simplified, lower-cased, and for each
    character kept its offset in the original."""
    chars: list[str] = []
    where: list[int] = []
    n = len(text)
    for i, ch in enumerate(text):
        if _is_space(ch):
            if not only_between_digits:
                continue
            before = next((text[j] for j in range(i - 1, -1, -1) if not _is_space(text[j])), "")
            after = next((text[j] for j in range(i + 1, n) if not _is_space(text[j])), "")
            if _digitish(_halfwidth(before)) and _digitish(_halfwidth(after)):
                continue
            ch = " "
        chars.append(_halfwidth(ch))
        where.append(i)
    flat = "".join(chars)
    simplified = _t2s().convert(flat)
    if len(simplified) != len(flat):  # conversion is 1:1 for single characters; keep safe
        simplified = "".join(_t2s().convert(c)[:1] or c for c in flat)
    return simplified.lower(), where


def _halfwidth(ch: str) -> str:
    code = ord(ch) if ch else 0
    return chr(code - 0xFEE0) if 0xFF01 <= code <= 0xFF5E else ch


def _span(where: list[int], text: str, s: int, e: int) -> tuple[int, int]:
    """Map a span of the compact text back to the original text."""
    return where[s], where[e - 1] + 1


# ---------------------------------------------------------------- checks


def id_checksum_ok(number: str) -> bool:
    """The 18th character of a resident ID number agrees with the first 17 (GB 11643)."""
    if len(number) != 18 or not number[:17].isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == number[17].upper()


def _plausible_date(yyyymmdd: str) -> bool:
    y, m, d = int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8])
    return 1900 <= y <= 2100 and 1 <= m <= 12 and 1 <= d <= 31


def luhn_ok(number: str) -> bool:
    digits = [int(c) for c in number]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def mask(value: str, keep_start: int = 3, keep_end: int = 4) -> str:
    """``110105********1234``: the ends kept, the middle starred (spaces dropped)."""
    flat = re.sub(r"\s", "", value)
    if len(flat) <= keep_start + keep_end:
        return flat[:1] + "*" * (len(flat) - 1)
    return flat[:keep_start] + "*" * (len(flat) - keep_start - keep_end) + flat[-keep_end:]


def _mask_email(value: str) -> str:
    local, _, domain = re.sub(r"\s", "", value).partition("@")
    return (local[:1] + "***@" + domain) if domain else mask(value)


# ---------------------------------------------------------------- detectors

# on the compact text (no whitespace): digit runs are bounded by non-digits
_DIGITS = re.compile(r"(?<![0-9a-z])[0-9]{6,19}[0-9x]?(?![0-9a-z])")
_LANDLINE = re.compile(
    r"(?<![0-9])(?:(0[1-9][0-9]{1,2})[-—－]|[(（](0[1-9][0-9]{1,2})[)）])([2-9][0-9]{6,7})(?![0-9])"
)
_EMAIL = re.compile(r"[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}")
_PASSPORT = re.compile(r"(?<![0-9a-z])([eg][0-9]{8}|[eg][a-z][0-9]{7}|[dsp][0-9]{7})(?![0-9a-z])")
_MOBILE_PREFIX = re.compile(r"^1[3-9][0-9]{9}$")
_CARD_PREFIX = ("62", "4", "5", "3", "9")


def _digit_hits(flat: str) -> Iterable[tuple[str, int, int, dict[str, str]]]:
    for m in _DIGITS.finditer(flat):
        run, s, e = m.group(), m.start(), m.end()
        upper = run.upper()
        if len(run) == 18 and upper[:2] in _PROVINCES and _plausible_date(upper[6:14]):
            if id_checksum_ok(upper):
                yield "id_number", s, e, {}
                continue
            # a well-formed number with a wrong check digit: a typo or an OCR misread of a real
            # one; reported apart so reviewers can judge it
            yield "id_number_unverified", s, e, {"reason": "check digit does not match"}
            continue
        if len(run) == 15 and run.isdigit() and run[:2] in _PROVINCES and _plausible_date("19" + run[6:12]):
            yield "id_number_15", s, e, {}
            continue
        if _MOBILE_PREFIX.match(run):
            yield "mobile", s, e, {}
            continue
        if run.isdigit() and 16 <= len(run) <= 19 and run.startswith(_CARD_PREFIX) and luhn_ok(run):
            yield "bank_card", s, e, {}


def personal_information(text: str) -> list[Hit]:
    """Personal-information hits in ``text``, tolerant of spaces and line breaks inside numbers."""
    flat, where = _compact(text, only_between_digits=True)
    found: list[Hit] = []
    taken: list[tuple[int, int]] = []

    def add(category: str, s: int, e: int, detail: dict[str, str] | None = None) -> None:
        if any(s < te and ts < e for ts, te in taken):
            return
        taken.append((s, e))
        a, b = _span(where, text, s, e)
        value = text[a:b]
        preview = _mask_email(value) if category == "email" else mask(value)
        found.append(Hit(PII, category, a, b, value, preview, detail or {}))

    for m in _EMAIL.finditer(flat):
        add("email", m.start(), m.end())
    for category, s, e, detail in _digit_hits(flat):
        add(category, s, e, detail)
    for m in _LANDLINE.finditer(flat):
        add("landline", m.start(), m.end())
    for m in _PASSPORT.finditer(flat):
        add("passport", m.start(), m.end())
    return sorted(found, key=lambda h: h.start)


def listed_terms(text: str, lists: Iterable[TermList]) -> list[Hit]:
    """Occurrences of listed terms, in either script, across inserted spaces and line breaks."""
    flat, where = _compact(text)
    found: list[Hit] = []
    for tl in lists:
        for term in tl.terms:
            needle, _ = _compact(term)
            if not needle:
                continue
            start = 0
            while (pos := flat.find(needle, start)) >= 0:
                a, b = _span(where, text, pos, pos + len(needle))
                detail = {"list": tl.name, "term": term}
                found.append(Hit(TERM, tl.category, a, b, text[a:b], text[a:b], detail))
                start = pos + len(needle)
    return sorted(found, key=lambda h: h.start)


def screen_text(text: str, lists: Iterable[TermList] = ()) -> list[Hit]:
    return sorted([*personal_information(text), *listed_terms(text, lists)], key=lambda h: (h.start, h.end))


# ---------------------------------------------------------------- term lists


def load_term_lists(folder: Path, names: Iterable[str] | None = None) -> list[TermList]:
    """Term lists from ``folder/*.toml``; each file holds ``[[list]]`` tables with ``name``,
    ``category`` and ``terms``. ``names`` picks lists by name (all when None)."""
    wanted = set(names) if names is not None else None
    lists: list[TermList] = []
    for path in sorted(folder.glob("*.toml")):
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            from configs.errors import ConfigError

            raise ConfigError(f"term list file {path} is not valid TOML: {e}") from e
        for entry in data.get("list", []):
            name = str(entry.get("name", path.stem))
            if wanted is None or name in wanted:
                terms = tuple(str(t).strip() for t in entry.get("terms", []) if str(t).strip())
                lists.append(TermList(name, str(entry.get("category", name)), terms))
    return lists
