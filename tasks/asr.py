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
import wave
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
        """Transcribe a 16 kHz mono WAV. Recordings longer than ``CHUNK_SECONDS`` are read and
        transcribed window by window, each window ending at the quietest moment near its end,
        so memory stays bounded however long the interview is (faster-whisper decodes a
        whole file into memory: 3 hours would be 0.7 GB of samples)."""
        with wave.open(str(wav), "rb") as w:
            if w.getframerate() != SAMPLE_RATE or w.getnchannels() != 1 or w.getsampwidth() != 2:
                raise ValueError(f"{wav} is not 16 kHz mono 16-bit PCM (use tasks.media.to_asr_wav)")
            duration = w.getnframes() / SAMPLE_RATE
        if duration <= CHUNK_SECONDS + TAIL_SECONDS:
            segments, info = self._run(str(wav), options.language, options)
            asr_info = AsrInfo(info.language, round(info.language_probability, 4), info.duration)
            return asr_info, _postprocess(segments, asr_info.language, options)
        windows = _windows(wav)
        first_start, first_audio = next(windows)
        segments, info = self._run(first_audio, options.language, options)
        language = options.language or info.language
        asr_info = AsrInfo(language, round(info.language_probability, 4), duration)

        def stream() -> Iterator[Any]:
            yield from _shifted(segments, first_start)
            for start, audio in windows:
                more, _ = self._run(audio, language, options)
                yield from _shifted(more, start)

        return asr_info, _postprocess(stream(), language, options)

    def _run(self, audio: Any, language: str | None, options: AsrOptions) -> tuple[Any, Any]:
        return self._model.transcribe(
            audio,
            language=language or None,
            beam_size=options.beam_size,
            vad_filter=options.vad,
            word_timestamps=options.word_timestamps,
            initial_prompt=options.prompt or None,
            condition_on_previous_text=options.condition_on_previous_text,
        )


SAMPLE_RATE = 16_000
CHUNK_SECONDS = 20 * 60  # one window of a long recording: 77 MB of float32 samples
TAIL_SECONDS = 10  # a window ends at the quietest 50 ms within its last 10 seconds


def _windows(wav: Path) -> Iterator[tuple[float, Any]]:
    """(start seconds, float32 samples) of consecutive windows of a long WAV, each cut at a
    quiet moment so no word is split between two windows."""
    import numpy as np

    frame = SAMPLE_RATE // 20  # 50 ms
    with wave.open(str(wav), "rb") as w:
        total = w.getnframes()
        pos = 0
        carry = np.zeros(0, dtype=np.int16)
        while pos < total or carry.size:
            want = CHUNK_SECONDS * SAMPLE_RATE + TAIL_SECONDS * SAMPLE_RATE - carry.size
            fresh = np.frombuffer(w.readframes(max(0, want)), dtype=np.int16)
            pos += fresh.size
            block = np.concatenate([carry, fresh])
            if pos >= total:  # the last window takes everything left
                cut = block.size
            else:
                tail = block[CHUNK_SECONDS * SAMPLE_RATE :]
                frames = tail[: tail.size // frame * frame].reshape(-1, frame).astype(np.float32)
                quietest = int(np.argmin(np.sqrt((frames**2).mean(axis=1)))) if frames.size else 0
                cut = CHUNK_SECONDS * SAMPLE_RATE + quietest * frame + frame // 2
            start = (pos - block.size) / SAMPLE_RATE
            yield start, block[:cut].astype(np.float32) / 32768.0
            carry = block[cut:]
            if pos >= total and not carry.size:
                break


def _shifted(segments: Any, offset: float) -> Iterator[Any]:
    """faster-whisper segments of one window, with times relative to the whole recording."""
    from dataclasses import replace

    for seg in segments:
        words = [replace(w, start=w.start + offset, end=w.end + offset) for w in (seg.words or [])]
        yield replace(seg, start=seg.start + offset, end=seg.end + offset, words=words or seg.words)


def _postprocess(segments: Any, language: str, options: AsrOptions) -> Iterator[AsrSegment]:
    """Script conversion, confidence, and the doubt flags, segment by segment (streamed)."""
    chinese = language in CHINESE
    previous = ""
    for seg in segments:
        raw = seg.text.strip()
        if not raw:  # nothing said: not a segment
            continue
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
        if not math.isfinite(confidence):
            confidence = 0.0
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
            start=round(max(0.0, float(seg.start)), 2),
            end=round(max(0.0, float(seg.end)), 2),
            text=text,
            raw_text=raw,
            confidence=round(float(confidence), 4),
            no_speech_prob=round(float(seg.no_speech_prob), 4) if math.isfinite(seg.no_speech_prob) else 0.0,
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
    """The engine with its model loaded, once per process and configuration. ``model_dir``
    is a folder for faster-whisper, a ``.pt`` checkpoint for openai-whisper
    (``tasks.models.resolve_for`` finds either)."""
    if engine == "faster-whisper":
        return FasterWhisperEngine(model_dir, device=device, compute_type=compute_type)
    if engine == "openai-whisper":
        from tasks.asr_openai import OpenAIWhisperEngine

        return OpenAIWhisperEngine(model_dir, device=device)
    raise ValueError(f"unknown ASR engine {engine!r}")
