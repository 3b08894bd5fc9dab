"""How text becomes index terms, the same way for documents and queries.

Normalization: ``tasks.text.fold`` (NFKC, format characters removed, traditional →
simplified, variant folding 帐/账, 着/著 …, lower case), shared with screening. Then CJK runs
become single characters (``tokens``) and overlapping bigrams (``bigrams``); other words
(Latin, digits) go into ``tokens`` whole. A query of two or more CJK characters is a
phrase of bigrams, so 水库 matches exactly that word and 水库大坝 the whole phrase; a single
character matches through ``tokens``. Search is therefore simplified/traditional-insensitive.

A single space, tab or line break between two CJK characters never breaks a phrase: OCR
leaves such spaces inside lines (第六章 水土流失 is read as two words) and CJK text does not
use them, so the index reads through them (``join_cjk``), and the highlighter does too
(``catalog.search.match_spans``). A query's own spaces still separate its words.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from tasks.text import NORMALIZATION_VERSION, VARIANTS, fold

__all__ = [
    "CJK",
    "INDEX_VERSION",
    "NORMALIZATION_VERSION",
    "RUNNING_TEXT",
    "VARIANTS",
    "Atom",
    "ParsedQuery",
    "QueryPart",
    "Terms",
    "index_terms",
    "join_cjk",
    "joinable",
    "normalize",
    "parse_query",
    "query_parts",
    "reading_view",
]

# CJK unified ideographs (the BMP block, extension A, the supplementary extensions B to H
# and the compatibility ideographs), kana and hangul count as CJK. The supplementary planes
# matter to archives: rare characters in names and places (生僻字) live there, and OpenCC's
# traditional-to-simplified table maps some BMP characters into them (瀃 → 𣽷).
_CJK = (
    r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af"
    r"\U00020000-\U0002fa1f\U00030000-\U000323af"
)
_RUN = re.compile(rf"([{_CJK}]+)|([^\W_{_CJK}]+)", re.UNICODE)
CJK = _CJK  # the character class's ranges, for a regular expression


# what the index was built with: the fold's version, and steps of its own (version 4: CJK
# characters joined across a single whitespace; version 5: a page's lines and a part's
# segments indexed as running text, catalog.search.running). Stored in IndexState
# "normalization"; ``lantai migrate`` rebuilds what a change affects (catalog.db.refresh_index).
INDEX_VERSION = NORMALIZATION_VERSION + 2
JOINS_CJK = 4  # the first index version that joins CJK characters across a single whitespace
RUNNING_TEXT = 5  # the first index version with running text
_JOINABLE = re.compile(rf"(?<=[{_CJK}])\s(?=[{_CJK}])")


def join_cjk(text: str) -> str:
    """``text`` with every single whitespace character between two CJK characters removed."""
    return _JOINABLE.sub("", text)


def joinable(text: str) -> bool:
    """Whether ``join_cjk`` changes ``text`` (its index entry predates the join)."""
    return _JOINABLE.search(normalize(text)) is not None


def reading_view(body: str) -> tuple[str, list[int]]:
    """``body`` as the index reads it, character for character (each folded on its own, a
    whitespace between two CJK characters left out), and for each character of that view
    its position in ``body`` — what the highlighters find phrases in and map back."""
    flat = "".join(map(_folded_char, body))  # positions 1:1 with body
    kept = [
        i
        for i, ch in enumerate(flat)
        if not (ch.isspace() and join_cjk(around := flat[max(0, i - 1) : i + 2]) != around)
    ]
    return "".join(flat[i] for i in kept), kept


@functools.lru_cache(maxsize=65_536)
def _folded_char(ch: str) -> str:
    """One character folded on its own (its first character where folding expands it)."""
    return (normalize(ch) or ch)[0]


def normalize(text: str) -> str:
    """The folded form of ``text`` (``tasks.text.fold``: the same for search and screening)."""
    return fold(text)


@dataclass(frozen=True)
class Terms:
    tokens: str
    bigrams: str


def index_terms(text: str) -> Terms:
    """The terms a document is indexed under."""
    tokens: list[str] = []
    bigrams: list[str] = []
    for cjk, word in (m.groups() for m in _RUN.finditer(join_cjk(normalize(text)))):
        if cjk:
            tokens.extend(cjk)
            bigrams.extend(cjk[i : i + 2] for i in range(len(cjk) - 1))
        else:
            tokens.append(word)
    return Terms(" ".join(tokens), " ".join(bigrams))


@dataclass(frozen=True)
class QueryPart:
    """One part of a query: a CJK run (matched as a bigram phrase) or a word."""

    text: str
    cjk: bool

    @property
    def bigrams(self) -> list[str]:
        return [self.text[i : i + 2] for i in range(len(self.text) - 1)]


def query_parts(query: str) -> list[QueryPart]:
    """Split a user query into parts; everything that is not a letter, digit or CJK is dropped,
    so FTS syntax, quotes and SQL in a query are inert."""
    parts = []
    for cjk, word in (m.groups() for m in _RUN.finditer(normalize(query))):
        parts.append(QueryPart(cjk, True) if cjk else QueryPart(word, False))
    return parts


@dataclass(frozen=True)
class Atom:
    """What the index is asked for in one go: a word, a run of CJK characters, or a phrase
    — quoted (``"soil erosion"``), or written without a space across scripts (``2024年``,
    ``第6章``), whose parts must follow one another."""

    parts: tuple[QueryPart, ...]
    quoted: bool = False

    @property
    def single(self) -> QueryPart | None:
        """The atom's only part, when it has one (a word or a CJK run)."""
        return self.parts[0] if len(self.parts) == 1 else None

    @property
    def tokens(self) -> list[str]:
        """The atom as a phrase of ``tokens``: CJK characters one by one, words whole."""
        out: list[str] = []
        for p in self.parts:
            out.extend(p.text) if p.cjk else out.append(p.text)
        return out


@dataclass(frozen=True)
class ParsedQuery:
    """A query as item-level logic: every clause must be met somewhere in the item (its
    description, any page, any segment); a clause is met by any of its atoms; no
    ``negated`` atom may occur anywhere in the item."""

    clauses: tuple[tuple[Atom, ...], ...]
    negated: tuple[Atom, ...] = ()

    @property
    def atoms(self) -> list[Atom]:
        return [a for clause in self.clauses for a in clause]


MAX_ATOMS = 12  # words and phrases in one query (each is a lookup in the index)
_QUOTES = '"“”「」『』'
_TOKEN = re.compile(rf"(-)?(?:[{_QUOTES}]([^{_QUOTES}]*)[{_QUOTES}]?|([^\s{_QUOTES}]+))")


def parse_query(query: str) -> ParsedQuery:
    """Words separated by spaces must all occur in the item (AND); ``OR`` (or ``|``)
    between two words lets either do; ``-word`` or ``NOT word`` excludes items holding it;
    ``"…"`` (also “…”, 「…」) is a phrase. Everything that is not a letter, digit or CJK
    character is dropped from a word, so FTS syntax and SQL in a query are inert."""
    clauses: list[tuple[Atom, ...]] = []
    negated: list[Atom] = []
    either = negate = False
    for minus, quoted, word in _TOKEN.findall(query):
        if not quoted and not minus and word in ("OR", "|"):
            either = bool(clauses)
            continue
        if not quoted and not minus and word in ("AND", "&"):
            continue
        if not quoted and not minus and word == "NOT":
            negate = True
            continue
        parts = tuple(query_parts(quoted or word))
        if parts:
            atom = Atom(parts, quoted=bool(quoted))
            if minus or negate:
                negated.append(atom)
            elif either:
                clauses[-1] += (atom,)
            else:
                clauses.append((atom,))
        either = negate = False
    return ParsedQuery(tuple(clauses), tuple(negated))
