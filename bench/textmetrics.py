"""Error rates shared by the quality benchmarks: CER (Chinese) and WER (English), after the
normalization the references need (NFKC, no whitespace or punctuation, lower case,
traditional → simplified so that script differences are not counted as errors)."""

from __future__ import annotations

import unicodedata
from collections import Counter
from functools import lru_cache

import opencc


@lru_cache(maxsize=1)
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def normalize(text: str, *, keep_spaces: bool = False) -> str:
    text = _t2s().convert(unicodedata.normalize("NFKC", text)).lower()
    out = []
    for ch in text:
        cat = unicodedata.category(ch)
        if cat[0] in "PS" or ch.isspace():
            out.append(" " if keep_spaces else "")
        else:
            out.append(ch)
    return " ".join("".join(out).split()) if keep_spaces else "".join(out)


def edit_distance(a: list[str] | str, b: list[str] | str) -> int:
    """Levenshtein distance, two rows at a time (vectorized for long texts)."""
    if len(a) * len(b) > 1_000_000:
        return _edit_distance_np(a, b)
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def cer(reference: str, hypothesis: str) -> float:
    ref, hyp = normalize(reference), normalize(hypothesis)
    return edit_distance(ref, hyp) / max(1, len(ref))


def bag_errors(reference: str, hypothesis: str) -> int:
    """Errors regardless of order: characters of the longer text left unmatched by the
    multiset of the other (the order-independent "bag of characters" count of OCR
    evaluation tools). A lower bound of the edit distance; equal to it when the only
    difference is substitutions, insertions and deletions, not where text went."""
    common = sum((Counter(reference) & Counter(hypothesis)).values())
    return max(len(reference), len(hypothesis)) - common


def wer(reference: str, hypothesis: str) -> float:
    ref, hyp = normalize(reference, keep_spaces=True).split(), normalize(hypothesis, keep_spaces=True).split()
    return edit_distance(ref, hyp) / max(1, len(ref))


def _edit_distance_np(a: list[str] | str, b: list[str] | str) -> int:
    """The same distance, one row per element of ``a`` computed with numpy: substitutions
    and deletions elementwise, insertions as a running minimum (current[j] - j is the
    cumulative minimum of itself)."""
    import numpy as np

    codes: dict[str, int] = {}
    bb = np.array([codes.setdefault(x, len(codes)) for x in b], dtype=np.int64)
    index = np.arange(len(b) + 1)
    previous = index.copy()
    for i, x in enumerate(a, 1):
        code = codes.get(x, -1)
        current = np.empty_like(previous)
        current[0] = i
        current[1:] = np.minimum(previous[1:] + 1, previous[:-1] + (bb != code))
        current = np.minimum.accumulate(current - index) + index
        previous = current
    return int(previous[-1])
