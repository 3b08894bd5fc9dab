"""Speech transcription: a 16 kHz WAV in, timed segments with words out, streamed.

Engines sit behind :class:`AsrEngine`; faster-whisper (CTranslate2) is the default. Models
load from a local folder only, once per process. Chinese output is converted to one script
with OpenCC; the engine's raw text is kept beside it.
"""

from __future__ import annotations

import logging
import math
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

from tasks.models import model_sha256
from tasks.text import to_script

log = logging.getLogger(__name__)

CHINESE = {"zh", "yue"}


@dataclass
class AsrWord:
    start: float
    end: float
    word: str
    probability: float


@dataclass
class AsrSegment:
    start: float
    end: float
    text: str
    raw_text: str
    confidence: float
    no_speech_prob: float
    words: list[AsrWord] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)  # e.g. "repetition", "low_confidence"


@dataclass
class AsrInfo:
    language: str
    language_probability: float
    duration: float


@dataclass(frozen=True)
class AsrOptions:
    language: str | None = None  # None: detect
    prompt: str = ""  # vocabulary: names, places, terms
    beam_size: int = 5
    vad: bool = True
    word_timestamps: bool = True
    condition_on_previous_text: bool = False
    script: str = "zh-Hans"
    low_confidence: float = 0.5

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class AsrEngine(Protocol):
    name: str
    version: str
    model_name: str
    model_sha256: str

    def transcribe(self, wav: Path, options: AsrOptions) -> tuple[AsrInfo, Iterator[AsrSegment]]: ...


class FasterWhisperEngine:
    """faster-whisper on CPU (int8) or CUDA (float16)."""

    name = "faster-whisper"

    def __init__(self, model_dir: Path, *, device: str = "auto", compute_type: str = "auto") -> None:
        import ctranslate2
        import faster_whisper
        from faster_whisper import WhisperModel

        if device == "auto":
            device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
        if compute_type == "auto":
            compute_type = "float16" if device == "cuda" else "int8"
        verified = model_dir / ".verified"
        self.model_sha256 = verified.read_text().strip() if verified.exists() else model_sha256(model_dir)
        self.model_name = model_dir.name
        self.version = faster_whisper.__version__
        self.device, self.compute_type = device, compute_type
        self._model = WhisperModel(
            str(model_dir),
            device=device,
            compute_type=compute_type,
            cpu_threads=os.cpu_count() or 1,
            local_files_only=True,
        )

    def transcribe(self, wav: Path, options: AsrOptions) -> tuple[AsrInfo, Iterator[AsrSegment]]:
        segments, info = self._model.transcribe(
            str(wav),
            language=options.language or None,
            beam_size=options.beam_size,
            vad_filter=options.vad,
            word_timestamps=options.word_timestamps,
            initial_prompt=options.prompt or None,
            condition_on_previous_text=options.condition_on_previous_text,
        )
        asr_info = AsrInfo(info.language, round(info.language_probability, 4), info.duration)
        return asr_info, _postprocess(segments, asr_info.language, options)


def _postprocess(segments: Any, language: str, options: AsrOptions) -> Iterator[AsrSegment]:
    """Script conversion, confidence, and the doubt flags, segment by segment (streamed)."""
    chinese = language in CHINESE
    previous = ""
    for seg in segments:
        raw = seg.text.strip()
        words = [
            AsrWord(
                round(float(w.start), 2),
                round(float(w.end), 2),
                to_script(w.word, options.script) if chinese else w.word,
                round(float(w.probability), 4),
            )
            for w in (seg.words or [])
        ]
        text = to_script(raw, options.script) if chinese else raw
        # word probabilities are the finer measure; the segment's log-probability when there are none
        word_mean = sum(w.probability for w in words) / len(words) if words else None
        confidence = word_mean if word_mean is not None else math.exp(seg.avg_logprob)
        flags = doubt_flags(
            text,
            start=float(seg.start),
            end=float(seg.end),
            previous=previous,
            compression_ratio=float(seg.compression_ratio),
            no_speech_prob=float(seg.no_speech_prob),
        )
        if confidence < options.low_confidence:
            flags.append("low_confidence")
        previous = text
        yield AsrSegment(
            start=round(float(seg.start), 2),
            end=round(float(seg.end), 2),
            text=text,
            raw_text=raw,
            confidence=round(float(confidence), 4),
            no_speech_prob=round(float(seg.no_speech_prob), 4),
            words=words,
            flags=flags,
        )


_LOOP = re.compile(r"(.{2,}?)\1{3,}")
_PURE_LOOP = re.compile(r"(.{1,}?)\1{3,}")
NO_SPEECH = 0.6  # Whisper's own threshold for "this window is silence"
MAX_CJK_PER_SECOND = 9.0  # fast Mandarin is ~6 characters a second
MAX_WORDS_PER_SECOND = 5.0  # fast English is ~3.5 words a second


def doubt_flags(
    text: str, *, start: float, end: float, previous: str, compression_ratio: float, no_speech_prob: float
) -> list[str]:
    """Why a segment looks like a hallucination rather than speech:

    - ``loop``: the whole text is one phrase repeated four or more times (dropped by the flow);
    - ``repetition``: a loop inside the text, the same text as the segment before, or a text
      that compresses suspiciously well;
    - ``no_speech``: Whisper itself judged the window to be silence;
    - ``too_fast``: more characters or words per second than anyone speaks.
    """
    flags = []
    compact = re.sub(r"[\s\W_]+", "", text)
    if compact and _PURE_LOOP.fullmatch(compact):
        flags.append("loop")
    elif compression_ratio > 2.4 or _repeats(text) or (previous and previous == text):
        flags.append("repetition")
    if no_speech_prob > NO_SPEECH:
        flags.append("no_speech")
    seconds = max(end - start, 0.1)
    cjk = sum(1 for ch in text if "\u3400" <= ch <= "\u9fff")
    words = len(re.findall(r"[A-Za-z]+", text))
    if cjk / seconds > MAX_CJK_PER_SECOND or words / seconds > MAX_WORDS_PER_SECOND:
        flags.append("too_fast")
    return flags


def _repeats(text: str) -> bool:
    """True for a phrase looping four or more times in a row, a typical Whisper hallucination."""
    return bool(_LOOP.search(text.replace(" ", "")))


@lru_cache(maxsize=2)
def load_engine(engine: str, model_dir: Path, device: str, compute_type: str) -> AsrEngine:
    """The engine with its model loaded, once per process and configuration."""
    if engine == "faster-whisper":
        return FasterWhisperEngine(model_dir, device=device, compute_type=compute_type)
    raise ValueError(f"unknown ASR engine {engine!r}")
