"""Sentence-sized segments from long decoded windows, by their word timings.

Batched decoding returns one segment per VAD window (up to 30 s): too coarse for editors,
who correct, link and cite a sentence at a time. Each window is cut again where a
sentence ends — at sentence-final punctuation (。！？；… . ! ? ;) or at a pause between two
words of at least ``PAUSE`` seconds (speech without punctuation, as Whisper often writes
Chinese) — and no piece runs past ``LONGEST`` seconds (Whisper's own sequential segments
never exceed its 30-second window; a piece that would is cut at its longest pause, or at a
clause mark). Nothing of the text is changed: the pieces' words joined are the window's
words.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from tasks.asr import Decoded

SENTENCE_END = ("。", "！", "？", "；", "…", ".", "!", "?", ";", "」", "』", "”")
CLAUSE = ("，", "、", "：", ",", ":")
PAUSE = 0.8  # seconds of silence between words that end a sentence-sized segment
LONGEST = 15.0  # seconds: a longer piece is cut at its longest pause or a clause mark


# a full stop after a title, an initial or a dotted acronym ends no sentence
_ABBREVIATION = re.compile(
    r"(?:Mr|Mrs|Ms|Dr|Prof|St|Jr|Sr|Mt|Gen|Col|Capt|Lt|Sgt|Rev|Hon|Inc|Co|Ltd|No|vs|etc|[A-Z]|(?:[A-Za-z]\.)+[A-Za-z])\.",
)


def _ends_sentence(word: str) -> bool:
    w = word.strip()
    return bool(w) and w.endswith(SENTENCE_END) and not _ABBREVIATION.fullmatch(w)


def _cut_long(words: list[Any]) -> list[list[Any]]:
    """Cut a run of words longer than ``LONGEST`` seconds: at a clause mark near the middle
    if there is one, else at its longest pause; recursively."""
    if len(words) < 2 or words[-1].end - words[0].start <= LONGEST:
        return [words]
    gaps = [(words[i + 1].start - words[i].end, i) for i in range(len(words) - 1)]
    clause = [i for i in range(len(words) - 1) if words[i].word.strip().endswith(CLAUSE)]
    if clause:
        middle = (words[0].start + words[-1].end) / 2
        at = min(clause, key=lambda i: abs(words[i].end - middle))
    else:
        at = max(gaps)[1]
    return _cut_long(words[: at + 1]) + _cut_long(words[at + 1 :])


def _pieces(words: list[Any]) -> list[list[Any]]:
    runs: list[list[Any]] = []
    current: list[Any] = []
    for i, word in enumerate(words):
        current.append(word)
        last = i == len(words) - 1
        pause = not last and words[i + 1].start - word.end >= PAUSE
        if last or pause or _ends_sentence(word.word):
            runs.append(current)
            current = []
    return [cut for run in runs for cut in _cut_long(run)]


def resegment(segments: Iterable[Any]) -> Iterator[Decoded]:
    """Sentence-sized pieces of each segment (segments without words pass as they are)."""
    for seg in segments:
        words = list(seg.words or [])
        if not words:
            yield Decoded(
                seg.start, seg.end, seg.text, seg.avg_logprob, seg.compression_ratio, seg.no_speech_prob, []
            )
            continue
        for run in _pieces(words):
            text = "".join(w.word for w in run)
            yield Decoded(
                start=run[0].start,
                end=run[-1].end,
                text=text,
                avg_logprob=seg.avg_logprob,
                compression_ratio=seg.compression_ratio,  # the window's: a short text's own says nothing
                no_speech_prob=seg.no_speech_prob,
                words=run,
            )
