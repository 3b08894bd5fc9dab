"""Error-tolerant search for OCR'd text: a Chinese phrase with one character read wrong
(怎/思, 星/量, 抓/拟 — shapes OCR confuses) is still found, after the exact matches.

How: a phrase of n characters with one wrong character at position k keeps every bigram
left of k and every bigram right of it. So for each k the index is asked for the bigram
phrase before k and the one after it, the second following the first at exactly the
distance the lost character leaves (FTS5 ``NEAR`` as a candidate filter on SQLite, the
``<N>`` distance operator on PostgreSQL); a side of fewer than two characters has no
bigram and is left out, so a wrong character is found anywhere in a phrase of four to 32
characters and at either end of a three-character one (``MAX_LENGTH``). Every candidate is then checked
character by character: it is a hit only where the text holds the phrase with exactly one
character different, and that character is marked in the snippet. The cost is one more
index query with n alternatives per fuzzy phrase, run only when the exact matches do not
fill the page (docs/benchmarks.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from catalog.search.terms import QueryPart, reading_view

MIN_LENGTH = 3  # shorter phrases are not searched fuzzily: one wrong character of two is half the word
# longer phrases are matched exactly: each character is one more alternative in the index
# query (a 200-character phrase would be 200 phrases of 199 bigrams each), and a phrase that
# long is pasted, not remembered
MAX_LENGTH = 32


def eligible(part: QueryPart) -> bool:
    return part.cjk and MIN_LENGTH <= len(part.text) <= MAX_LENGTH


def _anchors(part: QueryPart) -> list[tuple[str, str]]:
    """(chars before k, chars after k) for each position k of the one wrong character,
    each side kept only when it has a bigram (two characters or more)."""
    text = part.text
    out = []
    for k in range(len(text)):
        before, after = text[:k], text[k + 1 :]
        out.append((before if len(before) >= 2 else "", after if len(after) >= 2 else ""))
    return [a for a in out if a[0] or a[1]]


def _bigrams(chars: str) -> list[str]:
    return [chars[i : i + 2] for i in range(len(chars) - 1)]


def fts5_clause(part: QueryPart) -> str:
    """The FTS5 alternatives for ``part`` (bigrams column)."""
    options = []
    for before, after in _anchors(part):
        phrases = [f'"{" ".join(_bigrams(side))}"' for side in (before, after) if side]
        # between the last bigram before k and the first after it lie two bigrams (those with the wrong char)
        options.append(f"NEAR({' '.join(phrases)}, 2)" if len(phrases) == 2 else phrases[0])
    return "bigrams : (" + " OR ".join(options) + ")"


def tsquery_clause(part: QueryPart) -> str:
    """The PostgreSQL alternatives for ``part``: exact distance between the two sides."""
    options = []
    for before, after in _anchors(part):
        sides = ["(" + " <-> ".join(_bigrams(side)) + ")" for side in (before, after) if side]
        options.append(f"({sides[0]} <3> {sides[1]})" if len(sides) == 2 else sides[0])
    return "(" + " | ".join(options) + ")"


@dataclass(frozen=True)
class Near:
    """Where a fuzzy phrase lies in a text: its span, and the position of the character
    that differs."""

    start: int
    end: int
    differs: int


def near_matches(body: str, part: QueryPart, view: tuple[str, list[int]] | None = None) -> list[Near]:
    """The places in ``body`` that hold ``part``'s phrase with exactly one character
    different (normalized as the index normalizes; a single space between CJK characters
    read through, as the index does)."""
    compact, kept = view or reading_view(body)
    phrase, n = part.text, len(part.text)
    found: list[Near] = []
    for pos in range(len(compact) - n + 1):  # every window: near matches may overlap (一一一)
        window = compact[pos : pos + n]
        wrong = [k for k in range(n) if window[k] != phrase[k]]
        if len(wrong) == 1:
            found.append(Near(kept[pos], kept[pos + n - 1] + 1, kept[pos + wrong[0]]))
    return found
