"""Text clean-up shared by the engines: CJK spacing and Chinese script conversion."""

from __future__ import annotations

import re
from collections.abc import Iterable
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
