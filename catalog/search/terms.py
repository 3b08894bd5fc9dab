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

import re
from dataclasses import dataclass

from tasks.text import NORMALIZATION_VERSION, VARIANTS, fold

__all__ = [
    "INDEX_VERSION",
    "NORMALIZATION_VERSION",
    "VARIANTS",
    "QueryPart",
    "Terms",
    "index_terms",
    "join_cjk",
    "joinable",
    "normalize",
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


# what the index was built with: the fold's version, and one step of its own (version 4:
# CJK characters joined across a single whitespace). Stored in IndexState "normalization";
# ``lantai migrate`` rebuilds what a change affects (catalog.db.refresh_index).
INDEX_VERSION = NORMALIZATION_VERSION + 1
JOINS_CJK = 4  # the first index version that joins CJK characters across a single whitespace
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
    flat = "".join((normalize(ch) or ch)[0] for ch in body)  # positions 1:1 with body
    kept = [
        i
        for i, ch in enumerate(flat)
        if not (ch.isspace() and join_cjk(around := flat[max(0, i - 1) : i + 2]) != around)
    ]
    return "".join(flat[i] for i in kept), kept


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
