"""Text clean-up shared by the engines (CJK spacing, Chinese script conversion) and the one
folding that search and screening both compare text in."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import opencc

_CJK_CHAR = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef\U00020000-\U0002fa1f]")
# OpenCC configurations for each target script.
_SCRIPT_CONFIG = {"zh-Hans": "t2s", "zh-Hant": "s2t", "zh-TW": "s2tw", "zh-HK": "s2hk"}


def is_cjk(ch: str) -> bool:
    return bool(_CJK_CHAR.match(ch))


def join_tokens(tokens: Iterable[str]) -> str:
    """Join recognised tokens into a line: a space only between two non-CJK neighbours.

    Tesseract separates every CJK character by a space; Latin words keep theirs.
    """
    out = ""
    for tok in tokens:
        tok = tok.strip()
        if not tok:
            continue
        if out and not is_cjk(out[-1]) and not is_cjk(tok[0]):
            out += " "
        out += tok
    return out


@lru_cache(maxsize=8)
def _converter(config: str) -> opencc.OpenCC:
    return opencc.OpenCC(config)


def to_script(text: str, script: str) -> str:
    """Convert Chinese text to ``script`` (zh-Hans, zh-Hant, zh-TW, zh-HK)."""
    config = _SCRIPT_CONFIG.get(script)
    if config is None:
        raise ValueError(f"unknown Chinese script {script!r}; use one of {sorted(_SCRIPT_CONFIG)}")
    return _converter(config).convert(text)


# ---------------------------------------------------------------- folding (search and screening)

# Variant characters OpenCC's t2s leaves apart, folded to one form (one character for one, so
# positions stay put): 帐/账 and 着/著 are written for each other in archival text (帐户/账户,
# 显著/显着), the others are pairs of the 第一批异体字整理表 that t2s keeps. Search and screening
# fold with this one table. Changing it: raise NORMALIZATION_VERSION (the index is rebuilt).
VARIANTS = str.maketrans({"帐": "账", "著": "着", "砲": "炮", "甦": "苏", "罣": "挂", "煖": "暖"})
# 1: NFKC + t2s + lower case; 2: and VARIANTS; 3: and format characters (Unicode Cf) removed
NORMALIZATION_VERSION = 3

# Chinese numerals written digit by digit (一三六〇〇〇〇一一一一, 幺 as spoken for 1, 两 for 2):
# a run of seven or more (a phone or ID number, never a year or a count) is read as digits.
_NUMERAL_DIGITS = {"〇": "0", "零": "0", "○": "0", "一": "1", "幺": "1", "二": "2", "两": "2"}
_NUMERAL_DIGITS |= {c: str(i) for i, c in enumerate("零一二三四五六七八九") if i > 2}
_NUMERALS = "".join(_NUMERAL_DIGITS)
_NUMERAL_RUN = re.compile(rf"[{_NUMERALS}](?:[ \-]?[{_NUMERALS}]){{6,}}")
_AS_DIGITS = str.maketrans(_NUMERAL_DIGITS)


# the format characters seen inside words in real text (for finding entries to reindex)
FORMAT_CHARACTERS = "\u00ad\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\ufeff"


def _is_format(ch: str) -> bool:
    return unicodedata.category(ch) == "Cf"


@lru_cache(maxsize=1)
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def fold(text: str) -> str:
    """The form search and screening compare text in: NFKC (full-width digits and letters,
    compatibility forms), format characters removed (soft hyphen, zero-width joiners, word
    joiner, BOM), traditional → simplified, variant characters folded, lower case."""
    plain = "".join(ch for ch in unicodedata.normalize("NFKC", text) if not _is_format(ch))
    return _t2s().convert(plain).translate(VARIANTS).lower()


@dataclass(frozen=True)
class Folded:
    """A folded view of a text and, for each of its characters, the offset of the original
    character it came from (so a span found in the view maps back to the original)."""

    text: str
    where: tuple[int, ...]

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original span of the view's ``[start, end)``."""
        return self.where[start], self.where[end - 1] + 1


def fold_with_offsets(text: str, *, drop_space: bool = False, numerals: bool = False) -> Folded:
    """``fold`` character by character, keeping where each folded character came from.
    ``drop_space`` leaves whitespace out (a listed term is found across the spaces and line
    breaks OCR puts inside words); ``numerals`` reads runs of Chinese numerals as digits."""
    chars: list[str] = []
    where: list[int] = []
    simple = text.isascii()
    for i, ch in enumerate(text):
        if drop_space and ch.isspace():
            continue
        if simple:
            chars.append(ch)
            where.append(i)
            continue
        if _is_format(ch):
            continue
        for c in unicodedata.normalize("NFKC", ch):
            if _is_format(c) or (drop_space and c.isspace()):
                continue
            chars.append(c)
            where.append(i)
    flat = "".join(chars)
    if not simple:
        converted = _t2s().convert(flat)
        if len(converted) != len(flat):  # a phrase rule changed the length: convert one by one
            converted = "".join((_t2s().convert(c) or c)[:1] for c in flat)
        flat = converted.translate(VARIANTS)
    flat = "".join(c if len(low := c.lower()) != 1 else low for c in flat)
    if numerals and not simple:
        flat = _NUMERAL_RUN.sub(lambda m: m.group().translate(_AS_DIGITS), flat)
    return Folded(flat, tuple(where))
