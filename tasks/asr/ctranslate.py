"""faster-whisper (CTranslate2): int8 on the CPU, float16 on CUDA; sequential or batched."""

from __future__ import annotations

import os
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from configs.errors import ConfigError
from tasks import models
from tasks.asr import (
    CHUNK_SECONDS,
    SAMPLE_RATE,
    TAIL_SECONDS,
    AsrEngineSpec,
    AsrInfo,
    AsrOptions,
    AsrSegment,
    _postprocess,
    _shifted,
    _windows,
)
from tasks.asr.resegment import resegment
from tasks.asr.vad import PASSES, group, new_only, read_all, speech_regions, uncovered
from tasks.models import model_sha256


class FasterWhisperEngine:
    """faster-whisper on CPU (int8) or CUDA (float16)."""

    name = "faster-whisper"

    def __init__(self, model_dir: Path, *, device: str = "auto", compute_type: str = "auto") -> None:
        import ctranslate2
        import faster_whisper
        from faster_whisper import BatchedInferencePipeline, WhisperModel

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
        self._batched = BatchedInferencePipeline(self._model)

    def transcribe(self, wav: Path, options: AsrOptions) -> tuple[AsrInfo, Iterator[AsrSegment]]:
        """Transcribe a 16 kHz mono WAV. Recordings longer than ``CHUNK_SECONDS`` are read and
        transcribed window by window, each window ending at the quietest moment near its end,
        so memory stays bounded however long the interview is (faster-whisper decodes a
        whole file into memory: 3 hours would be 0.7 GB of samples)."""
        with wave.open(str(wav), "rb") as w:
            if w.getframerate() != SAMPLE_RATE or w.getnchannels() != 1 or w.getsampwidth() != 2:
                raise ValueError(f"{wav} is not 16 kHz mono 16-bit PCM (use tasks.media.to_asr_wav)")
            duration = w.getnframes() / SAMPLE_RATE
        # where Silero VAD hears speech: the windows of batched decoding; for both modes the
        # segment and word boundaries are drawn in to it and a segment wholly outside it is
        # doubted (sequential decoding still sees everything, as Whisper does)
        speech: list[tuple[float, float]] = []
        if duration <= CHUNK_SECONDS + TAIL_SECONDS:
            whole = read_all(wav)
            regions = speech_regions(whole)
            speech.extend(regions)
            segments, info = self._run(whole, options.language, options, regions)
            asr_info = AsrInfo(info.language, round(info.language_probability, 4), info.duration)
            return asr_info, self._finish(segments, asr_info.language, options, speech)
        windows = _windows(wav)
        first_start, first_audio = next(windows)
        regions = speech_regions(first_audio)
        speech.extend(regions)
        segments, info = self._run(first_audio, options.language, options, regions)
        language = options.language or info.language
        asr_info = AsrInfo(language, round(info.language_probability, 4), duration)

        def stream() -> Iterator[Any]:
            yield from _shifted(segments, first_start)
            for start, audio in windows:
                here = speech_regions(audio)
                speech.extend((a + start, b + start) for a, b in here)
                more, _ = self._run(audio, language, options, here)
                yield from _shifted(more, start)

        return asr_info, self._finish(stream(), language, options, speech)

    @staticmethod
    def _finish(
        segments: Any, language: str, options: AsrOptions, speech: list[tuple[float, float]]
    ) -> Iterator[AsrSegment]:
        if options.batched:  # batched windows are up to 30 s long: cut into sentences like sequential ones
            segments = resegment(segments)
        return _postprocess(segments, language, options, speech)

    def _run(
        self, audio: Any, language: str | None, options: AsrOptions, regions: list[tuple[float, float]]
    ) -> tuple[Any, Any]:
        if options.batched:
            return self._run_batched(audio, language, options, regions)
        return self._model.transcribe(
            audio,
            language=language or None,
            beam_size=options.beam_size,
            vad_filter=options.vad,
            word_timestamps=options.word_timestamps,
            initial_prompt=options.prompt or None,
            condition_on_previous_text=options.condition_on_previous_text,
        )

    def _run_batched(
        self, audio: Any, language: str | None, options: AsrOptions, regions: list[tuple[float, float]]
    ) -> tuple[list[Any], Any]:
        """VAD windows of one block of samples decoded in batches, with a second pass over
        speech the first left out.

        Sequential Whisper moves on from the end of the last complete segment, so nothing is
        skipped; a batch has no such seek, and ``base`` often stops before the end of a
        dense 30-second window (on 3 minutes of read Chinese, a third of the characters were
        lost). So the windows are cut at pauses (never inside a VAD speech region), decoded
        with timestamps, and the speech regions no decoded word overlaps are decoded again,
        regrouped into windows that start where the decoded words stop — Whisper's seek,
        done for every window of the batch at once — until nothing is left or a pass finds
        nothing new (at most ``PASSES``). Returns the segments in time order."""
        segments, info = self._decode(audio, group(regions), language, options)
        language = language or info.language
        for _ in range(PASSES - 1):
            missed = uncovered(regions, segments)
            if not missed:
                break
            more = new_only(segments, self._decode(audio, missed, language, options)[0])
            if not more:  # nothing new: what is left is not speech Whisper can read
                break
            segments = sorted([*segments, *more], key=lambda s: s.start)
        return segments, info

    def _decode(
        self, audio: Any, windows: list[tuple[float, float]], language: str | None, options: AsrOptions
    ) -> tuple[list[Any], Any]:
        if not windows:
            return [], _NoSpeech(language or "", 0.0)
        segments, info = self._batched.transcribe(
            audio,
            language=language or None,
            beam_size=options.beam_size,
            word_timestamps=True,  # the re-segmentation and the coverage check need them
            without_timestamps=False,  # Whisper's segment timestamps: it stops less early with them
            initial_prompt=options.prompt or None,
            batch_size=options.batch_size,
            clip_timestamps=[{"start": a, "end": b} for a, b in windows],
        )
        return list(segments), info


@dataclass
class _NoSpeech:
    language: str
    language_probability: float


# ---------------------------------------------------------------- the registry's entry


@lru_cache(maxsize=1)
def cuda_device_count() -> int:
    """CUDA devices CTranslate2 can use (its PyPI wheels need the CUDA 12 runtime libraries)."""
    try:
        import ctranslate2

        return int(ctranslate2.get_cuda_device_count())
    except Exception:  # a wheel without CUDA support, or no driver
        return 0


def _installed(models_dir: Path, name: str) -> bool:
    try:
        models.resolve(models_dir, name)
    except ConfigError:
        return False
    return True


SPEC = AsrEngineSpec(
    name="faster-whisper",
    runtime="ctranslate2",
    gpus=lambda: cuda_device_count(),
    model=lambda models_dir, name: models.resolve(models_dir, name),
    installed=_installed,
    install=lambda name, models_dir, **kw: models.install(name, models_dir, **kw),
    make=lambda model, device, compute: FasterWhisperEngine(model, device=device, compute_type=compute),
)
