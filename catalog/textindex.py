"""How text becomes index terms, the same way for documents and queries.

Normalization: NFKC, traditional → simplified (OpenCC t2s), variant folding (帐/账, 着/著 …),
lower case. Then CJK runs
become single characters (``tokens``) and overlapping bigrams (``bigrams``); other words
(Latin, digits) go into ``tokens`` whole. A query of two or more CJK characters is a
phrase of bigrams, so 水库 matches exactly that word and 水库大坝 the whole phrase; a single
character matches through ``tokens``. Search is therefore simplified/traditional-insensitive.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import opencc

# CJK unified ideographs (incl. extension A and compatibility), kana and hangul count as CJK.
_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af"
_RUN = re.compile(rf"([{_CJK}]+)|([^\W_{_CJK}]+)", re.UNICODE)


@lru_cache(maxsize=1)
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


# Variant characters OpenCC's t2s leaves apart, folded to one form for search (index and
# query alike; one character for one, so match positions stay put): 帐/账 and 着/著 are
# written for each other in archival text (帐户/账户, 显著/显着), the others are pairs of the
# 第一批异体字整理表 that t2s keeps. Changing this table: raise NORMALIZATION_VERSION, and
# catalog.db reindexes the entries that hold a changed character on the next start.
VARIANTS = str.maketrans({"帐": "账", "著": "着", "砲": "炮", "甦": "苏", "罣": "挂", "煖": "暖"})
NORMALIZATION_VERSION = 2  # 1: NFKC + t2s + lower case; 2: and VARIANTS


def normalize(text: str) -> str:
    return _t2s().convert(unicodedata.normalize("NFKC", text)).translate(VARIANTS).lower()


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
