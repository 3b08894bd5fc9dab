"""Screening of text for what must stay controlled before records open (开放审核's machine
pass): personal information and listed terms, found the ways real records write them.

Detection works on a folded view of the text (``tasks.text.fold_with_offsets``: NFKC, so
full-width digits are digits; format characters such as soft hyphens and zero-width joiners
removed; runs of Chinese numerals read as digits; 简繁 and variant folding as in search), and
every hit is mapped back to the original characters, so masks and redaction boxes land on
what was written.

Numbers are validated by the standards that define them, never by fitting examples:

- resident ID numbers (GB 11643-1999): 18 digits with the ISO 7064 MOD 11-2 check character
  (x or X), a province-level code of GB/T 2260 and a real birth date; the first-generation
  15-digit numbers (province code and a real 19YYMMDD birth date);
- telephone numbers through libphonenumber's metadata for China (``phonenumbers``): mobiles,
  landlines with their area code (in brackets or not, with +86/0086, with an extension);
  a local landline without area code only where a telephone label stands before it;
- bank card numbers: 16 to 19 digits, an issuer prefix and the Luhn check (ISO/IEC 7812);
- e-mail addresses; passport numbers of the PRC's series.

Candidates are the digit runs of the text and the joins of neighbouring runs across the
separators people and OCR put inside numbers (a space, a hyphen, a dot, brackets, one line
end). Each candidate is validated on its own: two numbers side by side are two hits, a number
broken by grouping or a line end is one. Which joins count is decided by the number's
standard grouping (a group of fewer than three digits joins only across a line end, as a
country code, or as the last group of a number a check digit validates), so a row of
small numbers in a table, a date or an amount never becomes a number.

Pure functions: text in, ``Finding`` spans (character offsets into the text given) out."""

from __future__ import annotations

import datetime
import itertools
import re
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import phonenumbers
from phonenumbers import PhoneNumberType

from tasks.text import Folded, fold_with_offsets

PII = "pii"
TERM = "term"

# Resident identity card (GB 11643-1999): weights and check characters of the 18th digit.
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
# the first two digits: province-level divisions (GB/T 2260), 71/81/82 for Taiwan, Hong Kong
# and Macao (residence permits), 83 for the residence permits of Taiwan residents
_PROVINCES = frozenset(
    {"11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41", "42"}
    | {"43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65", "71", "81", "82"}
    | {"83", "91"}
)
# the personal kinds of number libphonenumber tells apart (service numbers such as 400/800
# toll-free or premium-rate lines belong to organisations)
_PERSONAL_PHONES = frozenset(
    {
        PhoneNumberType.MOBILE,
        PhoneNumberType.FIXED_LINE,
        PhoneNumberType.FIXED_LINE_OR_MOBILE,
        PhoneNumberType.VOIP,
        PhoneNumberType.PERSONAL_NUMBER,
        PhoneNumberType.PAGER,
    }
)
# issuer identification numbers (ISO/IEC 7812 major industry identifiers 3–6, UnionPay's 62
# and 81, 9 for the domestic cards issued before UnionPay)
_CARD_PREFIXES = ("3", "4", "5", "6", "81", "9")
# what stands before a telephone number written without its area code
_PHONE_LABEL = re.compile(r"(电话|手机|座机|传真|宅电|办公室|tel|phone|fax|联系方式|联系人)[^0-9\n]{0,6}$")
# what people and OCR put inside a number (folded text: full-width forms are already ASCII);
# not a tab: a tab separates the cells of an exported table, never the groups of a number
_JOINER = re.compile(r"[ \-‐‑‒–—―.·()\[\]]{1,3}|[ \t]*\r?\n[ \t]*|[ \-]*[)\]][ \-]*")
_EXTENSION = re.compile(r"[ \t]*(?:-|转|分机|ext\.?|x|#)[ \t]*[0-9]{1,6}(?![0-9])")
_DIGIT_RUN = re.compile(r"[0-9]+")
# the check character X of an ID number (folded to x), right after its 17 digits or across a
# separator or line end, not the start of a word
_CHECK_X = re.compile(r"(?:[ \t\-]{0,2}|[ \t]*\n[ \t]*)x(?![a-z0-9])")
_EMAIL = re.compile(r"[a-z0-9._%+\-]+@[a-z0-9\-]+(?:\.[a-z0-9\-]+)*\.[a-z]{2,}")
_PASSPORT = re.compile(r"(?<![0-9a-z])(e[0-9]{8}|e[a-z][0-9]{7}|g[0-9]{8}|[dsp][0-9]{7})(?![0-9a-z])")
_MAX_DIGITS = 23  # 0086 + a 19-digit card is the longest candidate worth validating
_MAX_RUNS = 6


@dataclass(frozen=True)
class Finding:
    kind: str  # pii | term
    # id_number, id_number_15, id_number_unverified, mobile, landline, bank_card, email,
    # passport, or a term list's category
    category: str
    start: int  # offsets into the text screened (end exclusive)
    end: int
    value: str  # the matched text as found (separators included)
    preview: str  # masked: enough to recognise, not enough to use
    detail: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TermList:
    name: str
    category: str
    terms: tuple[str, ...]


# ---------------------------------------------------------------- checks


def id_checksum_ok(number: str) -> bool:
    """The 18th character of a resident ID number agrees with the first 17 (GB 11643)."""
    if len(number) != 18 or not number[:17].isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == number[17].upper()


def id_check_character(first17: str) -> str:
    """The check character that completes 17 digits to a valid resident ID number."""
    return _ID_CHECK[sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


def _real_date(yyyymmdd: str) -> bool:
    try:
        day = datetime.date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8]))
    except ValueError:
        return False
    return 1880 <= day.year <= 2100


def luhn_ok(number: str) -> bool:
    total = 0
    for i, c in enumerate(reversed(number)):
        d = int(c)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def mask(value: str, keep_start: int = 3, keep_end: int = 4) -> str:
    """``110105********1234``: the ends kept, the middle starred (separators dropped)."""
    flat = re.sub(r"[\s\-‐‑‒–—―.·()]", "", value)
    if len(flat) <= keep_start + keep_end:
        return flat[:1] + "*" * (len(flat) - 1)
    return flat[:keep_start] + "*" * (len(flat) - keep_start - keep_end) + flat[-keep_end:]


def _mask_email(value: str) -> str:
    local, _, domain = re.sub(r"\s", "", value).partition("@")
    return (local[:1] + "***@" + domain) if domain else mask(value)


# ---------------------------------------------------------------- numbers


@dataclass(frozen=True)
class _Run:
    start: int  # offsets into the folded text
    end: int
    digits: str


def _phone(digits: str) -> str | None:
    """``mobile`` or ``landline`` when libphonenumber's metadata for China knows the number
    (as written in China, or with its 86/0086 country code)."""
    if digits.startswith("0086"):
        digits = "+86" + digits[4:]
    elif digits.startswith("86") and len(digits) >= 12:
        digits = "+" + digits
    elif not digits.startswith(("0", "1")):
        return None
    try:
        number = phonenumbers.parse(digits, "CN")
    except phonenumbers.NumberParseException:
        return None
    if number.country_code != 86 or not phonenumbers.is_valid_number(number):
        return None
    kind = phonenumbers.number_type(number)
    if kind not in _PERSONAL_PHONES:
        return None
    return "mobile" if kind == PhoneNumberType.MOBILE else "landline"


def _classify(digits: str, check_x: bool) -> tuple[str, dict[str, str]] | None:
    """What a candidate number is (``digits`` with a trailing x check character when
    ``check_x``), or None."""
    n = len(digits) + check_x
    if n == 18:
        number = digits + ("X" if check_x else "")
        if number[:2] in _PROVINCES and _real_date(number[6:14]) and id_checksum_ok(number):
            return "id_number", {}
    if check_x:
        return None
    if n == 15 and digits[:2] in _PROVINCES and _real_date("19" + digits[6:12]):
        return "id_number_15", {}
    if 16 <= n <= 19 and digits.startswith(_CARD_PREFIXES) and luhn_ok(digits):
        return "bank_card", {}
    if 10 <= n <= 15 and (kind := _phone(digits)):
        return kind, {}
    return None


def _runs(flat: str) -> list[_Run]:
    return [_Run(m.start(), m.end(), m.group()) for m in _DIGIT_RUN.finditer(flat)]


def _candidates(
    flat: str, runs: list[_Run], breaks: int = 1
) -> Iterator[tuple[int, int, str, int, dict[str, str]]]:
    """(first run, last run, category, end in the folded text, detail) of every valid number
    made of one run or of neighbouring runs joined by separators, with at most ``breaks``
    line ends inside it."""
    gaps = [flat[a.end : b.start] for a, b in itertools.pairwise(runs)]
    joins = [bool(_JOINER.fullmatch(gap)) for gap in gaps]
    newline = [j and "\n" in gap for j, gap in zip(joins, gaps, strict=True)]
    for i in range(len(runs)):
        digits = ""
        for j in range(i, min(len(runs), i + _MAX_RUNS + breaks)):  # each break may cut a group
            if j > i and not joins[j - 1]:
                break
            if sum(newline[i:j]) > breaks:  # a page line breaks a number once at most
                break
            if breaks == 1 and j > i and newline[j - 1] and _cell_above(flat, runs, i, j - 1):
                break
            digits += runs[j].digits
            if len(digits) > _MAX_DIGITS:
                break
            end = runs[j].end
            x = _CHECK_X.match(flat, end) if len(digits) == 17 else None
            for x_end in (x.end(), None) if x else (None,):
                found = _classify(digits, x_end is not None)
                if found is None:
                    continue
                category, detail = found
                if j > i and not _grouped(runs, newline, i, j, category, digits):
                    continue
                yield i, j, category, x_end or end, detail
                break
    # an 18-character number whose check character does not agree: a typo or an OCR misread
    # of a real one; reported apart (one run only) so that a reviewer judges it
    for k, run in enumerate(runs):
        x = _CHECK_X.match(flat, run.end) if len(run.digits) == 17 else None
        number = run.digits + ("X" if x else "")
        if (
            len(number) == 18
            and number[:2] in _PROVINCES
            and _real_date(number[6:14])
            and not id_checksum_ok(number)
        ):
            yield (
                k,
                k,
                "id_number_unverified",
                x.end() if x else run.end,
                {"reason": "check digit does not match"},
            )


def _cell_above(flat: str, runs: list[_Run], i: int, k: int) -> bool:
    """Whether runs ``i..k``, before a page's line end, end a line of figures with four
    digits or fewer: a table cell (a count, a year, a code), not the start of a number the
    line wrapped — a line wraps at the margin, and a margin four digits wide would wrap
    the rest of the number again. (Segment ends in a transcript are cuts in time, not in
    width: this does not apply to them.)"""
    start = flat.rfind("\n", 0, runs[i].start) + 1
    # no words before it on its line (other figures may stand there: cells of the same row)
    alone = not any(ch.isalnum() and not ch.isdigit() for ch in flat[start : runs[i].start])
    return alone and sum(len(r.digits) for r in runs[i : k + 1]) <= 4


def _grouped(runs: list[_Run], newline: list[bool], i: int, j: int, category: str, digits: str) -> bool:
    """Whether runs ``i..j`` are grouped the way such a number is written. ID and card numbers
    are written in groups of four or more (6-8-4, 6-4-4-4, 4-4-4-4-3: ISO/IEC 7812 cards,
    GB 11643's address-birth-sequence parts), with a shorter last group that the check digit
    vouches for; telephone numbers in groups of three or more (138 0013 8000, 010 6275 1234),
    with a 86/0086 country code and a two-digit area code after it (10 Beijing, 20–29). A
    line end (a number OCR broke anywhere) admits any two pieces — but a date (YYYYMMDD)
    ending a line is a date, not the first half of a broken number. So a row of three-digit
    figures in a table, a date or an amount is never read as a number."""
    code = runs[i].digits in ("86", "0086") and category in ("mobile", "landline")
    if j > i and not code and digits.startswith("86") and category in ("mobile", "landline"):
        return False  # a country code is written apart (+86 138…), not glued into a group
    # a line end inside a group splits the group: its pieces count as one
    groups: list[str] = []
    for k in range(i, j + 1):
        if k < j and newline[k] and len(runs[k].digits) == 8 and _real_date(runs[k].digits):
            return False
        if k > i and newline[k - 1]:
            groups[-1] += runs[k].digits
        else:
            groups.append(runs[k].digits)
    last = len(groups) - 1
    for g, group in enumerate(groups):
        if g == 0 and code:
            continue
        if category in ("id_number", "bank_card") and g < last:
            # the standard groupings: cards 4-4-4-4(-3) or 6-13, ID numbers 6-8-4, 6-4-4-4
            if len(group) not in ((4, 6) if category == "bank_card" else (4, 6, 8)):
                return False
            continue
        if category in ("id_number", "bank_card"):
            least = 1
        elif category == "mobile":  # 3-4-4, 3-8, 7-4 (libphonenumber's own: 138 0013 8000)
            first = g == (1 if code else 0)
            if len(group) not in ((3, 7, 11) if first else (4, 8)):
                return False
            continue
        elif category == "landline":  # (0)area code, then the local number in 3-4/4-4/7/8
            first = g == (1 if code else 0)
            if first and len(groups) > 1:
                ok = 2 <= len(group) <= 4 if code else (group.startswith("0") and len(group) in (3, 4))
            else:
                ok = len(group) in (3, 4, 7, 8) or len(groups) == 1
            if not ok:
                return False
            continue
        elif category == "id_number_15":  # no check digit: 6-6-3 at most
            least = 3 if g == last else 4
        elif category == "landline" and g == 1 and code:
            least = 2
        else:
            least = 3
        if len(group) < least:
            return False
    return bool(digits)


def _local_landlines(flat: str, runs: list[_Run]) -> Iterator[tuple[int, int]]:
    """Runs (or a 3/4 + 4 join) of 7 or 8 digits after a telephone label: a landline written
    without its area code, which no metadata can tell from another number."""
    for k, run in enumerate(runs):
        if not _PHONE_LABEL.search(flat[max(0, run.start - 12) : run.start]):
            continue
        if len(run.digits) in (7, 8) and run.digits[0] in "23456789":
            yield k, k
        elif (
            k + 1 < len(runs)
            and len(run.digits) in (3, 4)
            and len(runs[k + 1].digits) == 4
            and run.digits[0] in "23456789"
            and _JOINER.fullmatch(flat[run.end : runs[k + 1].start])
        ):
            yield k, k + 1


_Candidate = tuple[int, int, str, int, dict[str, str]]


def _best_reading(flat: str, runs: list[_Run], found: list[_Candidate]) -> list[_Candidate]:
    """The non-overlapping candidates that read the most digits as numbers, then with the
    fewest line ends read as inside a number, then the most numbers: weighted interval
    scheduling over the runs. Of a number and a longer one that
    holds it, the longer is read (masking more, never less); runs that would be left over
    by one reading but not by another decide between them."""
    by_end: dict[int, list[_Candidate]] = {}
    for c in found:
        by_end.setdefault(c[1], []).append(c)
    breaks = [0, *itertools.accumulate("\n" in flat[a.end : b.start] for a, b in itertools.pairwise(runs))]
    best: list[tuple[int, int, int]] = [(0, 0, 0)] * (len(runs) + 1)
    choice: list[_Candidate | None] = [None] * (len(runs) + 1)
    for k in range(1, len(runs) + 1):
        best[k], choice[k] = best[k - 1], None
        for c in by_end.get(k - 1, []):
            covered = sum(len(r.digits) for r in runs[c[0] : c[1] + 1])
            inside = breaks[c[1]] - breaks[c[0]]
            before = best[c[0]]
            score = (before[0] + covered, before[1] - inside, before[2] + 1)
            if score > best[k]:
                best[k], choice[k] = score, c
    picked: list[_Candidate] = []
    k = len(runs)
    while k > 0:
        chosen = choice[k]
        if chosen is None:
            k -= 1
        else:
            picked.append(chosen)
            k = chosen[0]
    return picked[::-1]


def _number_hits(view: Folded, breaks: int = 1) -> Iterator[tuple[str, int, int, dict[str, str]]]:
    """(category, start, end, detail) in the folded text of each number, without overlaps
    (``_best_reading``). Two numbers side by side are never one valid number (their join
    fails every check), so they stay two."""
    flat = view.text
    runs = _runs(flat)
    found = list(_candidates(flat, runs, breaks))
    found += [
        (i, j, "landline", runs[j].end, {"without": "area code"}) for i, j in _local_landlines(flat, runs)
    ]
    used: set[int] = set()
    for i, j, category, end, detail in _best_reading(flat, runs, found):
        used |= set(range(i, j + 1))
        start = runs[i].start
        if category in ("mobile", "landline"):
            # a country code before the number, an extension after it belong to it
            code = runs[i - 1] if i > 0 and (i - 1) not in used else None
            if code and code.digits in ("86", "0086") and _JOINER.fullmatch(flat[code.end : start]):
                used.add(i - 1)
                start = code.start
            while start > 0 and flat[start - 1] in "+(":
                start -= 1
            if category == "landline" and (ext := _EXTENSION.match(flat, end)):
                end = ext.end()
                used |= {k for k, r in enumerate(runs) if end >= r.end > runs[j].end}
        yield category, start, end, detail


def personal_information(text: str, *, breaks: int = 1) -> list[Finding]:
    """Personal-information hits in ``text``, in every form the module docstring lists.
    ``breaks``: how many line ends one number may straddle — one in page text (a line end
    inside a table of figures is a new row); more where a line end is a cut that speech
    segmentation or an editor made anywhere (a transcript's segment ends)."""
    view = fold_with_offsets(text, numerals=True)
    found: list[Finding] = []
    taken: list[tuple[int, int]] = []

    def add(category: str, s: int, e: int, detail: dict[str, str] | None = None) -> None:
        if any(s < te and ts < e for ts, te in taken):
            return
        taken.append((s, e))
        a, b = view.span(s, e)
        value = text[a:b]
        preview = _mask_email(value) if category == "email" else mask(value)
        found.append(Finding(PII, category, a, b, value, preview, detail or {}))

    for m in _EMAIL.finditer(view.text):
        add("email", m.start(), m.end())
    for category, s, e, detail in _number_hits(view, breaks):
        add(category, s, e, detail)
    for m in _PASSPORT.finditer(view.text):
        add("passport", m.start(), m.end())
    return sorted(found, key=lambda h: h.start)


# ---------------------------------------------------------------- listed terms


@cache
def _folded_term(term: str) -> str:
    return fold_with_offsets(term, drop_space=True).text


def listed_terms(text: str, lists: Iterable[TermList]) -> list[Finding]:
    """Occurrences of listed terms, folded as search folds (either script, variant forms,
    full-width letters), across inserted spaces, line breaks and format characters."""
    view = fold_with_offsets(text, drop_space=True)
    found: list[Finding] = []
    for tl in lists:
        for term in tl.terms:
            needle = _folded_term(term)
            if not needle:
                continue
            start = 0
            while (pos := view.text.find(needle, start)) >= 0:
                a, b = view.span(pos, pos + len(needle))
                detail = {"list": tl.name, "term": term}
                found.append(Finding(TERM, tl.category, a, b, text[a:b], text[a:b], detail))
                start = pos + len(needle)
    return sorted(found, key=lambda h: h.start)


def screen_text(text: str, lists: Iterable[TermList] = (), *, breaks: int = 1) -> list[Finding]:
    hits = [*personal_information(text, breaks=breaks), *listed_terms(text, lists)]
    return sorted(hits, key=lambda h: (h.start, h.end))


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
