"""How text becomes index terms, the same way for documents and queries.

Normalization: ``tasks.text.fold`` (NFKC, format characters removed, traditional →
simplified, variant folding 帐/账, 着/著 …, lower case), shared with screening. Then CJK runs
become single characters (``tokens``) and overlapping bigrams (``bigrams``); other words
(Latin, digits) go into ``tokens`` whole. A query of two or more CJK characters is a
phrase of bigrams, so 水库 matches exactly that word and 水库大坝 the whole phrase; a single
character matches through ``tokens``. Search is therefore simplified/traditional-insensitive.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tasks.text import NORMALIZATION_VERSION, VARIANTS, fold

__all__ = [
    "NORMALIZATION_VERSION",
    "VARIANTS",
    "QueryPart",
    "Terms",
    "index_terms",
    "normalize",
    "query_parts",
]

# CJK unified ideographs (incl. extension A and compatibility), kana and hangul count as CJK.
_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af"
_RUN = re.compile(rf"([{_CJK}]+)|([^\W_{_CJK}]+)", re.UNICODE)


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
    for cjk, word in (m.groups() for m in _RUN.finditer(normalize(text))):
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
