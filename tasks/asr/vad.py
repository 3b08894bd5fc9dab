"""Speech regions for batched decoding: where to cut a recording into Whisper windows, and
which speech a first pass left out. Shared by both engines (Silero VAD from faster-whisper,
which is always installed)."""

from __future__ import annotations

import bisect
import wave
from pathlib import Path
from typing import Any

from tasks.asr import SAMPLE_RATE

WINDOW = 30.0  # seconds: Whisper's input window
MIN_SILENCE_MS = 160  # faster-whisper's own VAD setting for batched decoding
PASSES = 6  # batched passes over speech not yet decoded (a 30 s window of dense speech needs 2-4)


def read_all(wav: Path) -> Any:
    import numpy as np

    with wave.open(str(wav), "rb") as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float32) / 32768.0


def speech_regions(audio: Any) -> list[tuple[float, float]]:
    """Speech (start, end) seconds by Silero VAD, with faster-whisper's settings for batched
    decoding (regions split at pauses of 160 ms, padded by 400 ms, none over 30 s), inside
    the audio in Whisper's frame units (``clamp_regions``)."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    found = get_speech_timestamps(
        audio, VadOptions(max_speech_duration_s=WINDOW, min_silence_duration_ms=MIN_SILENCE_MS)
    )
    return clamp_regions([(r["start"] / SAMPLE_RATE, r["end"] / SAMPLE_RATE) for r in found], len(audio))


HOP = 160  # samples per Whisper mel frame (10 ms at 16 kHz): its clip times are whole frames


def clamp_regions(regions: list[tuple[float, float]], samples: int) -> list[tuple[float, float]]:
    """Regions as both engines may be handed them as ``clip_timestamps``: on whole mel frames
    (start rounded down, end rounded down), start < end, and no end past the last whole frame
    of the audio (``samples // HOP``). Silero can end the last region a fraction of a frame
    past the audio; openai-whisper then loops for ever on an empty clip (its pull request
    2005, unmerged), and faster-whisper decodes padding."""
    frames = samples // HOP
    out = []
    for start, end in regions:
        a = max(0, min(frames, int(start * SAMPLE_RATE) // HOP))
        b = max(0, min(frames, int(end * SAMPLE_RATE) // HOP))
        if b > a:
            out.append((a * HOP / SAMPLE_RATE, b * HOP / SAMPLE_RATE))
    return out


def group(regions: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Consecutive regions joined into windows of at most ``WINDOW`` seconds (silence
    between them included, so times stay the recording's own)."""
    windows: list[tuple[float, float]] = []
    for start, end in regions:
        if windows and end - windows[-1][0] <= WINDOW:
            windows[-1] = (windows[-1][0], end)
        else:
            windows.append((start, min(end, start + WINDOW)))
    return windows


def uncovered(regions: list[tuple[float, float]], segments: list[Any]) -> list[tuple[float, float]]:
    """Windows over the speech regions that no decoded word overlaps (Whisper's word
    timings are approximate, so any overlap counts: only speech a pass plainly skipped is
    decoded again). A window never reaches across decoded speech: it starts where the
    decoded words stop, as Whisper's own seek does."""
    spans = sorted((float(w.start), float(w.end)) for s in segments for w in (s.words or []))
    starts = [a for a, _ in spans]
    reach = []  # the furthest word end among the words starting up to each position
    furthest = float("-inf")
    for _, b in spans:
        furthest = max(furthest, b)
        reach.append(furthest)
    windows: list[tuple[float, float]] = []
    run: list[tuple[float, float]] = []
    for start, end in regions:
        i = bisect.bisect_left(starts, end)  # words starting before the region ends
        if i == 0 or reach[i - 1] <= start:
            run.append((start, end))
        elif run:  # decoded speech: the run of skipped regions ends here
            windows.extend(group(run))
            run = []
    return windows + group(run)


def new_only(first: list[Any], second: list[Any]) -> list[Any]:
    """The second pass's segments that do not repeat the first's: a segment more than half
    of whose time the first pass already covers is dropped."""
    spans = sorted((float(s.start), float(s.end)) for s in first)
    out = []
    for seg in second:
        length = max(float(seg.end) - float(seg.start), 1e-6)
        covered = sum(max(0.0, min(b, seg.end) - max(a, seg.start)) for a, b in spans)
        if covered / length <= 0.5:
            out.append(seg)
    return out
