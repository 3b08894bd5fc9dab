"""Speech transcription: a 16 kHz WAV in, timed segments with words out, streamed.

Engines sit behind :class:`AsrEngine`, one module each: faster-whisper (CTranslate2,
``tasks.asr.ctranslate``) and openai-whisper (PyTorch, ``tasks.asr.torch_whisper``, its
checkpoint rebuilt offline from the CTranslate2 model by ``tasks.asr.convert``). Models
load from a local folder only, once per process. Sequential decoding for single items;
batched decoding of VAD windows for backlogs, re-segmented into sentence-sized segments
(``tasks.asr.resegment``). Speaker turns come from ``tasks.asr.speakers``. Chinese output
is converted to one script with OpenCC; the engine's raw text is kept beside it.
"""

from __future__ import annotations

import bisect
import logging
import math
import re
import wave
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from tasks.text import to_script

if TYPE_CHECKING:
    from configs.settings import AsrSettings

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
    speaker: str = ""  # SPEAKER_1, SPEAKER_2, … when speaker turns were found


@dataclass
class Decoded:
    """A segment as an engine decoded it, in faster-whisper's shape (what the shared
    post-processing reads): openai-whisper's segments and re-cut batched ones take it."""

    start: float
    end: float
    text: str
    avg_logprob: float
    compression_ratio: float
    no_speech_prob: float
    words: list[Any] = field(default_factory=list)


@dataclass
class AsrInfo:
    language: str
    language_probability: float
    duration: float


@dataclass(frozen=True)
class AsrOptions:
    """What changes the transcript (all of it goes into the result key).

    The decoding defaults are Whisper's own (beam 5, the temperature fallback schedule,
    ``condition_on_previous_text``, no VAD in front of sequential decoding): on real
    Chinese speech nobody here tuned to, turning VAD on and conditioning off lost 10 %
    against the bare engine, and an initial "punctuated Chinese" prompt made ``base``
    repeat whole sentences on three of five dev clips (docs/benchmarks.md). Batched
    decoding always cuts at VAD windows (that is what it batches) and decodes each window
    on its own."""

    language: str | None = None  # None: detect
    prompt: str = ""  # vocabulary: names, places, terms
    beam_size: int = 5
    vad: bool = False  # a voice-activity filter before sequential decoding
    word_timestamps: bool = True
    condition_on_previous_text: bool = True
    script: str = "zh-Hans"
    low_confidence: float = 0.5
    batched: bool = False  # VAD windows decoded in batches, re-segmented from the words
    batch_size: int = 8

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def shipped(cls, settings: AsrSettings, **given: Any) -> AsrOptions:
        """The options the shipped configuration (``[asr]`` of the settings) decodes with —
        what enrichment and the benchmarks use, so a figure is measured on what ships;
        ``given``: what a collection or item decides (language, prompt, script, batched)."""
        return cls(
            **{
                "beam_size": settings.beam_size,
                "vad": settings.vad,
                "condition_on_previous_text": settings.condition_on_previous_text,
                "script": settings.script,
                "low_confidence": settings.low_confidence,
                "batch_size": settings.batch_size,
                **given,
            }
        )


class AsrEngine(Protocol):
    """A loaded engine: transcribes a 16 kHz mono WAV into segments with word times, and
    names what its output depends on (provenance and the result key)."""

    name: str
    version: str
    model_name: str
    model_sha256: str
    device: str
    compute_type: str  # int8, float16, float32: part of what the output depends on

    def transcribe(self, wav: Path, options: AsrOptions) -> tuple[AsrInfo, Iterator[AsrSegment]]: ...


@dataclass(frozen=True)
class AsrEngineSpec:
    """What an ASR engine module declares about its engine (``tasks.asr.engines``): nothing
    here imports the engine's runtime until ``make`` or ``gpus`` is called."""

    name: str
    runtime: str  # the library that runs it (status names the CUDA devices each runtime sees)
    gpus: Callable[[], int]  # CUDA devices the engine can use on this machine
    model: Callable[[Path, str], Path]  # (models dir, model name) → what it loads; ConfigError if missing
    installed: Callable[[Path, str], bool]  # whether that model is in place (``auto`` may pick it)
    install: Callable[..., Path]  # (name, models dir, source=, force=, progress=) → the installed model
    make: Callable[[Path, str, str], AsrEngine]  # (model, device, compute type) → the loaded engine


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


def _postprocess(
    segments: Any, language: str, options: AsrOptions, speech: list[tuple[float, float]] | None = None
) -> Iterator[AsrSegment]:
    """Script conversion, confidence, and the doubt flags, segment by segment (streamed).
    ``speech``: where a voice-activity detector heard speech (sorted, filled as the stream
    goes): segment and word boundaries that run into silence are drawn in to the speech
    they overlap (Whisper's timestamps often reach into pauses); a segment wholly outside
    it is flagged ``no_speech`` (the text is kept: a flag for editors, not a cut), unless
    Whisper too judged its window silent (no-speech probability over 0.6): two detectors
    agreeing there is no voice, the text ("You", "谢谢观看") is not a segment at all."""
    chinese = language in CHINESE
    previous = ""
    for seg in segments:
        raw = seg.text.strip()
        if not raw:  # nothing said: not a segment
            continue
        start, end = _tighten(speech, float(seg.start), float(seg.end))
        words = []
        for w in seg.words or []:
            w_start, w_end = _tighten(speech, float(w.start), float(w.end))
            words.append(
                AsrWord(
                    round(w_start, 2),
                    round(w_end, 2),
                    to_script(w.word, options.script) if chinese else w.word,
                    round(float(w.probability), 4),
                )
            )
        text = to_script(raw, options.script) if chinese else raw
        # word probabilities are the finer measure; the segment's log-probability when there are none
        word_mean = sum(w.probability for w in words) / len(words) if words else None
        confidence = word_mean if word_mean is not None else math.exp(seg.avg_logprob)
        if not math.isfinite(confidence):
            confidence = 0.0
        flags = doubt_flags(
            text,
            start=start,
            end=end,
            previous=previous,
            compression_ratio=float(seg.compression_ratio),
            no_speech_prob=float(seg.no_speech_prob),
        )
        if speech is not None and not _overlaps(speech, float(seg.start), float(seg.end)):
            if "no_speech" in flags:
                continue
            flags.append("no_speech")
        if confidence < options.low_confidence:
            flags.append("low_confidence")
        previous = text
        yield AsrSegment(
            start=round(max(0.0, start), 2),
            end=round(max(0.0, end), 2),
            text=text,
            raw_text=raw,
            confidence=round(float(confidence), 4),
            no_speech_prob=round(float(seg.no_speech_prob), 4) if math.isfinite(seg.no_speech_prob) else 0.0,
            words=words,
            flags=flags,
        )


def _near(regions: list[tuple[float, float]], start: float, end: float) -> list[tuple[float, float]]:
    """The regions (sorted, not overlapping) that overlap [start, end]."""
    i = bisect.bisect_right(regions, (float(start), float("inf")))
    j = bisect.bisect_left(regions, (float(end), float("-inf")))
    return [(a, b) for a, b in regions[max(0, i - 1) : j] if a < end and b > start]


def _overlaps(regions: list[tuple[float, float]], start: float, end: float) -> bool:
    return bool(_near(regions, start, end))


def _tighten(regions: list[tuple[float, float]] | None, start: float, end: float) -> tuple[float, float]:
    """[start, end] drawn in to the speech regions it overlaps; unchanged without any."""
    near = _near(regions, start, end) if regions else []
    if not near:
        return start, end
    return max(start, near[0][0]), min(end, near[-1][1])


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
    is what the engine's spec resolves (``spec(engine).model``; ``choose_engine`` resolves
    ``auto``)."""
    return spec(engine).make(model_dir, device, compute_type)


def spec(engine: str) -> AsrEngineSpec:
    """The registered engine of this name (``tasks.asr.engines.REGISTRY``)."""
    from tasks.asr.engines import REGISTRY

    if engine not in REGISTRY:
        raise ValueError(f"unknown ASR engine {engine!r}: one of {', '.join(REGISTRY)}")
    return REGISTRY[engine]


def cuda_devices() -> dict[str, int]:
    """CUDA devices each engine's runtime can use here (CTranslate2's PyPI wheels need the
    CUDA 12 runtime libraries; PyTorch whatever CUDA its build was made for)."""
    from tasks.asr.engines import REGISTRY

    return {s.runtime: s.gpus() for s in REGISTRY.values()}


def choose_engine(engine: str, device: str, *, installed: Callable[[str], bool]) -> tuple[str, str]:
    """(engine, device) for ``LANTAI_ASR__ENGINE`` / ``LANTAI_ASR__DEVICE`` on this machine;
    ``installed(name)`` says whether that engine's model is in place.

    ``auto`` engine: where a GPU may be used, the first registered engine (in order of
    preference) whose runtime sees a GPU and whose model is installed — faster-whisper
    where CTranslate2's CUDA 12 libraries load; on a machine where only PyTorch sees the
    GPU (a CUDA 13 image, say) openai-whisper, if its checkpoint is built — otherwise the
    first engine on the CPU. ``auto`` device: CUDA when the chosen engine sees one."""
    from tasks.asr.engines import REGISTRY

    if engine == "auto":
        preferred = next(iter(REGISTRY))
        engine = preferred
        if device in ("auto", "cuda"):
            # the default engine's GPUs first: another runtime is imported only if it has none
            for s in REGISTRY.values():
                if (s.name == preferred or installed(s.name)) and s.gpus():
                    engine = s.name
                    break
    if device == "auto":
        device = "cuda" if spec(engine).gpus() else "cpu"
    return engine, device


class HostedAsrEngine:
    """An ASR engine in a child process (``tasks.hosted``): the ``AsrEngine`` interface, and
    a transcription that runs past ``seconds`` is stopped (the child killed: no engine can be
    interrupted inside a native call) with ``EngineTimeout``. The next call loads the model
    again in a fresh child. ``factory``: the import path of what builds the engine (for the
    tests' stand-in engines); by default ``load_engine``."""

    DESCRIBE = ("name", "version", "model_name", "model_sha256", "device", "compute_type")

    def __init__(
        self,
        engine: str,
        model_dir: Path,
        device: str,
        compute_type: str,
        *,
        factory: str = "tasks.asr:load_engine",
    ) -> None:
        from tasks.hosted import Hosted

        self.host = Hosted(engine, factory, (engine, model_dir, device, compute_type), describe=self.DESCRIBE)
        info = self.host.start()
        self.name, self.version, self.model_name = info["name"], info["version"], info["model_name"]
        self.model_sha256, self.device, self.compute_type = (
            info["model_sha256"],
            info["device"],
            info["compute_type"],
        )

    def transcribe(
        self, wav: Path, options: AsrOptions, *, seconds: float = float("inf")
    ) -> tuple[AsrInfo, Iterator[AsrSegment]]:
        head, items = self.host.stream("transcribe", wav, options, seconds=seconds, doing="transcribing")
        return head, items

    def close(self) -> None:
        self.host.stop()
