"""openai-whisper (PyTorch) behind the same :class:`tasks.asr.AsrEngine` interface as
faster-whisper: the PyTorch extra (``requirements-torch.lock``: CPU torch, pinned).

The model is a checkpoint file in ``<models_dir>/openai-whisper/<name>.pt``: rebuilt offline
from the verified CTranslate2 model by ``lantai models install base --engine
openai-whisper`` (``tasks.asr.convert``), or OpenAI's own file copied there. Its SHA-256 is
checked against the one recorded beside it at install. Long recordings are read in the
same quiet-cut windows as with faster-whisper. Sequential decoding is openai-whisper's own
``transcribe`` (with ``vad``, only the speech regions are decoded, as clips); batched
decoding runs the VAD windows through ``model.decode`` as one batch on the device (the GPU
path for backlogs), with timestamps, word timings from the alignment heads, a second pass
over speech the first left out, and sentence-sized re-segmentation."""

from __future__ import annotations

import itertools
import math
import wave
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

from configs.errors import MissingDependencyError
from tasks import models
from tasks.asr import (
    CHUNK_SECONDS,
    SAMPLE_RATE,
    TAIL_SECONDS,
    AsrEngineSpec,
    AsrInfo,
    AsrOptions,
    AsrSegment,
    AsrWord,
    Decoded,
    _postprocess,
    _windows,
)
from tasks.asr.resegment import resegment
from tasks.asr.vad import PASSES, group, new_only, read_all, speech_regions, uncovered


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
                hint="pip install --no-deps -r requirements-torch.lock (never an unpinned torch)",
            ) from e
        from tasks.asr.convert import load
        from tasks.models import verify_checkpoint

        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = device
        self.compute_type = "float16" if device == "cuda" else "float32"
        self.model_name = checkpoint.stem
        self.model_sha256 = verify_checkpoint(checkpoint)
        self.version = f"{whisper.__version__}+torch{torch.__version__}"
        self._whisper = whisper
        self._torch = torch
        self.temperatures = temperatures  # openai-whisper's fallback schedule (its default)
        self._model = load(checkpoint, device)

    def transcribe(self, wav: Path, options: AsrOptions) -> tuple[AsrInfo, Iterator[AsrSegment]]:
        with wave.open(str(wav), "rb") as w:
            duration = w.getnframes() / SAMPLE_RATE
        windows = _windows(wav) if duration > CHUNK_SECONDS + TAIL_SECONDS else iter([(0.0, read_all(wav))])
        first_start, first_audio = next(windows)
        language, probability = self._language(first_audio, options.language)

        run = self._batched if options.batched else self._segments
        speech: list[tuple[float, float]] = []  # as with faster-whisper: boundaries and doubt

        def stream() -> Iterator[Any]:
            for start, audio in itertools.chain([(first_start, first_audio)], windows):
                regions = speech_regions(audio)
                speech.extend((a + start, b + start) for a, b in regions)
                yield from run(audio, start, language, options, regions)

        info = AsrInfo(language, round(probability, 4), duration)
        return info, _postprocess(stream(), language, options, speech)

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

    def _segments(
        self,
        audio: Any,
        offset: float,
        language: str,
        options: AsrOptions,
        regions: list[tuple[float, float]],
    ) -> Iterator[Decoded]:
        clips: Any = "0"
        if options.vad:  # only the speech regions, as openai-whisper's clips
            clips = [t for region in regions for t in region] or "0"
        result = self._model.transcribe(
            audio,
            clip_timestamps=clips,
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
            yield Decoded(
                start=float(seg["start"]) + offset,
                end=min(float(seg["end"]), limit) + offset,
                text=str(seg["text"]),
                avg_logprob=float(seg.get("avg_logprob", 0.0)),
                compression_ratio=float(seg.get("compression_ratio", 1.0)),
                no_speech_prob=float(seg.get("no_speech_prob", 0.0)),
                words=[
                    AsrWord(
                        float(x["start"]) + offset,
                        float(x["end"]) + offset,
                        str(x["word"]),
                        float(x["probability"]),
                    )
                    for x in seg.get("words", []) or []
                ],
            )

    def _batched(
        self,
        audio: Any,
        offset: float,
        language: str,
        options: AsrOptions,
        regions: list[tuple[float, float]],
    ) -> Iterator[Any]:
        """One block of samples: VAD windows decoded in batches, further batched passes over
        speech a window's decoding stopped short of (Whisper's seek, for every window at
        once), then sentence-sized pieces."""
        segments = self._decode_windows(audio, group(regions), language, options)
        for _ in range(PASSES - 1):
            missed = uncovered(regions, segments)
            if not missed:
                break
            more = new_only(segments, self._decode_windows(audio, missed, language, options))
            if not more:
                break
            segments = sorted([*segments, *more], key=lambda s: s.start)
        for piece in resegment(segments):
            piece.start, piece.end = piece.start + offset, piece.end + offset
            for w in piece.words:
                w.start, w.end = w.start + offset, w.end + offset
            yield piece

    def _decode_windows(
        self, audio: Any, windows: list[tuple[float, float]], language: str, options: AsrOptions
    ) -> list[Decoded]:
        """Whisper's windows decoded ``batch_size`` at a time with timestamps (greedy at
        beam 1, beam search otherwise), split at timestamp pairs as openai-whisper's
        ``transcribe`` does, words timed by the alignment heads; a window Whisper judges
        silent (no-speech probability over 0.6 with a low log-probability) gives nothing."""
        w, torch = self._whisper, self._torch
        model = self._model
        tokenizer = w.tokenizer.get_tokenizer(
            model.is_multilingual, num_languages=model.num_languages, language=language, task="transcribe"
        )
        dtype = torch.float16 if self.device == "cuda" else torch.float32
        decode = w.DecodingOptions(
            task="transcribe",
            language=language,
            temperature=0.0,
            beam_size=options.beam_size if options.beam_size > 1 else None,
            prompt=options.prompt or None,
            without_timestamps=False,
            fp16=self.device == "cuda",
        )
        out: list[Decoded] = []
        for first in range(0, len(windows), options.batch_size):
            batch = windows[first : first + options.batch_size]
            mels, frames = [], []
            for start, end in batch:
                clip = torch.from_numpy(audio[int(start * SAMPLE_RATE) : int(end * SAMPLE_RATE)].copy())
                mel = w.log_mel_spectrogram(clip, model.dims.n_mels, padding=w.audio.N_SAMPLES)
                size = min(w.audio.N_FRAMES, max(1, round((end - start) * w.audio.FRAMES_PER_SECOND)))
                mels.append(w.pad_or_trim(mel[:, :size], w.audio.N_FRAMES))
                frames.append(size)
            stacked = torch.stack(mels).to(model.device).to(dtype)
            with torch.no_grad():
                results = model.decode(stacked, decode)
            for (start, _end), result, mel, size in zip(batch, results, stacked, frames, strict=True):
                if result.no_speech_prob > NO_SPEECH and result.avg_logprob < LOGPROB_FLOOR:
                    continue
                pieces = _split_at_timestamps(result, tokenizer, start, size / w.audio.FRAMES_PER_SECOND)
                if not pieces:
                    continue
                w.timing.add_word_timestamps(
                    segments=pieces,
                    model=model,
                    tokenizer=tokenizer,
                    mel=mel,
                    num_frames=size,
                    last_speech_timestamp=start,
                )
                for seg in pieces:
                    if not seg["text"].strip() or seg["start"] >= seg["end"]:
                        continue
                    out.append(
                        Decoded(
                            start=float(seg["start"]),
                            end=float(seg["end"]),
                            text=seg["text"],
                            avg_logprob=float(result.avg_logprob),
                            compression_ratio=float(result.compression_ratio),
                            no_speech_prob=float(result.no_speech_prob),
                            words=[
                                AsrWord(
                                    float(x["start"]),
                                    float(x["end"]),
                                    str(x["word"]),
                                    float(x["probability"]),
                                )
                                for x in seg.get("words", [])
                            ],
                        )
                    )
        return out


NO_SPEECH = 0.6  # openai-whisper's no_speech_threshold
LOGPROB_FLOOR = -1.0  # openai-whisper's logprob_threshold


def _split_at_timestamps(result: Any, tokenizer: Any, offset: float, duration: float) -> list[dict[str, Any]]:
    """Segments of one decoded window between consecutive timestamp tokens, as
    openai-whisper's ``transcribe`` makes them (an unfinished last segment is kept: the
    second pass and the word timings decide what it covers)."""
    tokens = list(result.tokens)
    begin = tokenizer.timestamp_begin
    precision = 0.02
    out: list[dict[str, Any]] = []

    def piece(start: float, end: float, toks: list[int]) -> dict[str, Any]:
        return {
            "seek": round(offset * 100),  # in mel frames: the word timings' time offset
            "start": offset + start,
            "end": offset + end,
            "text": tokenizer.decode([t for t in toks if t < tokenizer.eot]),
            "tokens": toks,
        }

    stamps = [i for i, t in enumerate(tokens) if t >= begin]
    if not stamps:
        return [piece(0.0, duration, tokens)] if tokens else []
    last = 0
    for i in range(1, len(tokens)):
        if tokens[i] >= begin and tokens[i - 1] >= begin:  # a pair: one segment ends, the next begins
            chunk = tokens[last:i]
            if any(t < begin for t in chunk):
                out.append(piece((chunk[0] - begin) * precision, (chunk[-1] - begin) * precision, chunk))
            last = i
    rest = tokens[last:]
    if any(t < begin for t in rest):
        start = (rest[0] - begin) * precision if rest[0] >= begin else 0.0
        end = (rest[-1] - begin) * precision if rest[-1] >= begin and len(rest) > 1 else duration
        out.append(piece(start, max(end, start), rest))
    return out


# ---------------------------------------------------------------- the registry's entry


@lru_cache(maxsize=1)
def cuda_device_count() -> int:
    """CUDA devices PyTorch can use (whatever CUDA its build was made for)."""
    try:
        import torch

        return int(torch.cuda.device_count()) if torch.cuda.is_available() else 0
    except Exception:  # torch is an optional extra
        return 0


SPEC = AsrEngineSpec(
    name="openai-whisper",
    runtime="torch",
    gpus=lambda: cuda_device_count(),
    model=lambda models_dir, name: models.resolve_openai(models_dir, name),
    installed=lambda models_dir, name: models.has_openai(models_dir, name),
    # built offline from the verified CTranslate2 model (installed first if need be)
    install=lambda name, models_dir, **kw: models.install_openai(models_dir, name, **kw),
    make=lambda model, device, _compute: OpenAIWhisperEngine(model, device=device),
)
