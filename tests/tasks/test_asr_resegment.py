"""Batched windows cut into sentence-sized segments by their word timings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tasks.asr.resegment import LONGEST, resegment


@dataclass
class W:
    start: float
    end: float
    word: str
    probability: float = 0.9


@dataclass
class S:
    start: float
    end: float
    text: str
    words: list[Any] = field(default_factory=list)
    avg_logprob: float = -0.2
    compression_ratio: float = 1.3
    no_speech_prob: float = 0.01


def _seg(words: list[W]) -> S:
    return S(words[0].start, words[-1].end, "".join(w.word for w in words), words)


def test_cut_at_sentence_ends_and_pauses_nothing_lost() -> None:
    words = [
        W(0.0, 0.4, "我们"), W(0.4, 0.8, "到了。"), W(0.9, 1.3, "然后"), W(1.3, 1.6, "呢"),
        W(2.8, 3.2, "下雨"), W(3.2, 3.5, "了"),
    ]  # fmt: skip
    pieces = list(resegment([_seg(words)]))
    assert [p.text for p in pieces] == ["我们到了。", "然后呢", "下雨了"]  # 。 and a 1.2 s pause
    assert [(p.start, p.end) for p in pieces] == [(0.0, 0.8), (0.9, 1.6), (2.8, 3.5)]
    assert "".join(p.text for p in pieces) == "".join(w.word for w in words)


def test_english_sentences_and_abbreviations() -> None:
    words = [
        W(0.0, 0.3, " Mr."),
        W(0.3, 0.6, " Smith"),
        W(0.6, 0.9, " came."),
        W(1.0, 1.3, " Then"),
        W(1.3, 1.5, " left."),
    ]
    pieces = list(resegment([_seg(words)]))
    assert [p.text for p in pieces] == [" Mr. Smith came.", " Then left."]


def test_a_long_run_without_marks_is_cut_at_its_longest_pause() -> None:
    words = [W(i * 0.5, i * 0.5 + 0.45, "字") for i in range(40)]  # 20 s, 50 ms gaps
    words[25] = W(12.5, 12.75, "字")  # a slightly longer pause after word 25
    pieces = list(resegment([_seg(words)]))
    assert len(pieces) == 2 and all(p.end - p.start <= LONGEST for p in pieces)
    assert pieces[0].words[-1] is words[25]


def test_segments_without_words_pass_unchanged() -> None:
    seg = S(1.0, 2.0, "你好")
    (piece,) = list(resegment([seg]))
    assert (piece.start, piece.end, piece.text, piece.words) == (1.0, 2.0, "你好", [])
