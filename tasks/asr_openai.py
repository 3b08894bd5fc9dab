"""openai-whisper (PyTorch) behind the same :class:`tasks.asr.AsrEngine` interface as
faster-whisper: the optional extra ``pip install torch==2.13.0 openai-whisper`` (``.[openai-whisper]``).

The model is a checkpoint file (``base.pt``, …) that openai-whisper downloads from its
own site; Lantai never downloads at run time, so copy the file to
``<models_dir>/openai-whisper/<name>.pt`` (or name a path in ``LANTAI_ASR__MODEL``) and set
``LANTAI_ASR__ENGINE=openai-whisper``. Long recordings are read in the same quiet-cut
windows as with faster-whisper. openai-whisper has no voice-activity filter: ``vad`` is
ignored (recorded as such in the options)."""

from __future__ import annotations

import hashlib
import math
import wave
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from configs.errors import MissingDependencyError
from tasks.asr import (
    CHUNK_SECONDS,
    SAMPLE_RATE,
    TAIL_SECONDS,
    AsrInfo,
    AsrOptions,
    AsrSegment,
    _postprocess,
    _windows,
)


@dataclass
class _Word:
    start: float
    end: float
    word: str
    probability: float


@dataclass
class _Segment:
    """openai-whisper's segment dict in faster-whisper's shape, for the shared post-processing."""

    start: float
    end: float
    text: str
    avg_logprob: float
    compression_ratio: float
    no_speech_prob: float
    words: list[_Word] = field(default_factory=list)


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()


class OpenAIWhisperEngine:
    name = "openai-whisper"

    def __init__(
        self,
        checkpoint: Path,
        *,
        device: str = "auto",
        temperatures: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0),
    ) -> None:
        try:
            import torch
            import whisper
        except ImportError as e:
            raise MissingDependencyError(
                "the openai-whisper engine is not installed",
                hint="pip install torch==2.13.0 openai-whisper (never an unpinned torch)",
            ) from e
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = device
        self.model_name = checkpoint.stem
        self.model_sha256 = _file_sha256(checkpoint)
        self.version = f"{whisper.__version__}+torch{torch.__version__}"
        self._whisper = whisper
        self.temperatures = temperatures  # openai-whisper's fallback schedule (its default)
        self._model = whisper.load_model(str(checkpoint), device=device, in_memory=True)

    def transcribe(self, wav: Path, options: AsrOptions) -> tuple[AsrInfo, Iterator[AsrSegment]]:
        with wave.open(str(wav), "rb") as w:
            duration = w.getnframes() / SAMPLE_RATE
        windows = _windows(wav) if duration > CHUNK_SECONDS + TAIL_SECONDS else iter([(0.0, _read_all(wav))])
        first_start, first_audio = next(windows)
        language, probability = self._language(first_audio, options.language)

        def stream() -> Iterator[_Segment]:
            yield from self._segments(first_audio, first_start, language, options)
            for start, audio in windows:
                yield from self._segments(audio, start, language, options)

        info = AsrInfo(language, round(probability, 4), duration)
        return info, _postprocess(stream(), language, options)

    def _language(self, audio: Any, wanted: str | None) -> tuple[str, float]:
        if wanted:
            return wanted, 1.0
        w = self._whisper
        mel = w.log_mel_spectrogram(w.pad_or_trim(audio), n_mels=self._model.dims.n_mels).to(
            self._model.device
        )
        _, probs = self._model.detect_language(mel)
        language = max(probs, key=probs.get)
        probability = float(probs[language])
        return language, probability if math.isfinite(probability) else 0.0

    def _segments(self, audio: Any, offset: float, language: str, options: AsrOptions) -> Iterator[_Segment]:
        result = self._model.transcribe(
            audio,
            language=language,
            initial_prompt=options.prompt or None,
            condition_on_previous_text=options.condition_on_previous_text,
            word_timestamps=options.word_timestamps,
            beam_size=options.beam_size,
            temperature=self.temperatures,
            fp16=self.device == "cuda",
            verbose=None,
        )
        limit = len(audio) / SAMPLE_RATE  # openai-whisper can emit times past the audio: no speech there
        for seg in result["segments"]:
            if float(seg["start"]) >= limit:
                continue
            yield _Segment(
                start=float(seg["start"]) + offset,
                end=min(float(seg["end"]), limit) + offset,
                text=str(seg["text"]),
                avg_logprob=float(seg.get("avg_logprob", 0.0)),
                compression_ratio=float(seg.get("compression_ratio", 1.0)),
                no_speech_prob=float(seg.get("no_speech_prob", 0.0)),
                words=[
                    _Word(
                        float(x["start"]) + offset,
                        float(x["end"]) + offset,
                        str(x["word"]),
                        float(x["probability"]),
                    )
                    for x in seg.get("words", []) or []
                ],
            )


def _read_all(wav: Path) -> Any:
    import numpy as np

    with wave.open(str(wav), "rb") as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float32) / 32768.0
