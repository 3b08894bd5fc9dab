"""Speaker turns for interviews: who speaks when, offline.

Speaker embeddings come from resemblyzer's voice encoder (a 3-layer LSTM, d-vectors of 256
dimensions, trained on thousands of speakers), whose weights ship inside its PyPI package
(``pretrained.pt``): nothing is fetched at run time. It is part of the PyTorch extra
(``requirements-torch.lock``).

1. Over the transcribed speech only (each segment's time span, read from the WAV one
   segment at a time: memory stays flat), the encoder embeds 1.6-second windows every
   0.4 seconds (resemblyzer's own partial-utterance scheme, at a finer rate).
2. The windows are clustered into the expected number of speakers (from the manifest: the
   narrators 口述者 and the interviewers 采集者), by k-means on the unit-length embeddings
   (cosine geometry, the measure the encoder was trained with), several starts.
3. Each word takes the speaker of the windows around it; a turn shorter than
   ``MIN_TURN`` seconds is absorbed by its neighbours (a window straddling two voices
   wavers); a segment whose words change speaker is split there, so a quick exchange
   inside one Whisper segment becomes two segments.

Speakers are labelled ``SPEAKER_1``, ``SPEAKER_2``, … in order of first appearance;
editors rename them to the people (as they always could).
"""

from __future__ import annotations

import heapq
import wave
from collections.abc import Sequence
from dataclasses import replace
from functools import lru_cache
from typing import Any

import numpy as np

from configs.errors import MissingDependencyError
from tasks.asr import SAMPLE_RATE, AsrSegment, AsrWord

WINDOW = 1.6  # seconds per embedding: resemblyzer's partial utterance
STEP = 0.4  # seconds between windows
MIN_TURN = 1.0  # seconds: shorter speaker runs are merged into their neighbours
CLUSTER_SEED = 0


@lru_cache(maxsize=1)
def encoder(device: str = "cpu") -> Any:
    """resemblyzer's voice encoder, loaded once per process from inside its package."""
    try:
        from resemblyzer import VoiceEncoder
    except ImportError as e:
        raise MissingDependencyError(
            "speaker turns need the PyTorch extra (resemblyzer's voice encoder)",
            hint="pip install --no-deps -r requirements-torch.lock",
        ) from e
    return VoiceEncoder(device=device, verbose=False)


def _read(w: wave.Wave_read, start: float, end: float) -> np.ndarray:
    first = max(0, int(start * SAMPLE_RATE))
    last = min(w.getnframes(), int(end * SAMPLE_RATE))
    if last <= first:
        return np.zeros(0, dtype=np.float32)
    w.setpos(first)
    return np.frombuffer(w.readframes(last - first), dtype=np.int16).astype(np.float32) / 32768.0


def embed(
    wav_path: Any, spans: Sequence[tuple[float, float]], *, device: str = "cpu"
) -> tuple[np.ndarray, np.ndarray]:
    """(times, embeddings): the middle of each window and its unit-length d-vector, over
    the given speech spans (windows never cross from one span into the next)."""
    import torch
    from resemblyzer import audio as ra

    model = encoder(device)
    times: list[float] = []
    mels: list[np.ndarray] = []
    vectors: list[np.ndarray] = []

    def flush() -> None:
        if mels:
            with torch.no_grad():
                batch = torch.from_numpy(np.stack(mels)).to(model.device)
                vectors.append(model(batch).cpu().numpy())
            mels.clear()

    frames = int(WINDOW * 100)  # the encoder's mel frames are 10 ms
    with wave.open(str(wav_path), "rb") as w:
        for start, end in spans:
            samples = _read(w, start, end)
            if samples.size < SAMPLE_RATE * 0.3:  # too short to say anything about a voice
                continue
            samples = ra.normalize_volume(samples, ra.audio_norm_target_dBFS, increase_only=True)
            if samples.size < WINDOW * SAMPLE_RATE:
                samples = np.pad(samples, (0, int(WINDOW * SAMPLE_RATE) - samples.size))
            mel = ra.wav_to_mel_spectrogram(samples)
            step = int(STEP * 100)
            offsets = list(range(0, max(1, mel.shape[0] - frames + 1), step))
            for off in offsets:
                piece = mel[off : off + frames]
                if piece.shape[0] < frames:
                    piece = np.pad(piece, ((0, frames - piece.shape[0]), (0, 0)))
                mels.append(piece)
                times.append(start + (off + frames / 2) / 100)
            if len(mels) >= 256:
                flush()
    flush()
    if not vectors:
        return np.zeros(0), np.zeros((0, 256), dtype=np.float32)
    return np.asarray(times), np.concatenate(vectors)


def cluster(embeddings: np.ndarray, speakers: int) -> np.ndarray:
    """A speaker index per window: k-means on unit vectors (cosine), best of ten starts."""
    from sklearn.cluster import KMeans

    if len(embeddings) <= speakers:
        return np.arange(len(embeddings))
    unit = embeddings / np.maximum(np.linalg.norm(embeddings, axis=1, keepdims=True), 1e-9)
    return KMeans(n_clusters=speakers, n_init=10, random_state=CLUSTER_SEED).fit_predict(unit)


def _word_labels(words: list[AsrWord], times: np.ndarray, labels: np.ndarray, speakers: int) -> list[int]:
    """Each word's speaker: the vote of the windows whose middle lies within the word
    (or, for a short word, the nearest window), weighted towards the word's middle."""
    out = []
    for w in words:
        middle = (w.start + w.end) / 2
        near = np.abs(times - middle) <= max(WINDOW / 2, (w.end - w.start) / 2)
        if not near.any():
            out.append(int(labels[int(np.argmin(np.abs(times - middle)))]))
            continue
        weights = 1.0 / (0.2 + np.abs(times[near] - middle))
        votes = np.bincount(labels[near], weights=weights, minlength=speakers)
        out.append(int(np.argmax(votes)))
    return out


def _smooth(words: list[AsrWord], labels: list[int]) -> list[int]:
    """Runs of one speaker shorter than ``MIN_TURN`` seconds take their longer neighbour's,
    shortest first (a heap of runs: a 3-hour interview has tens of thousands of words)."""
    runs: list[list[int]] = []  # [label, first word, last word]
    for i, label in enumerate(labels):
        if runs and runs[-1][0] == label:
            runs[-1][2] = i
        else:
            runs.append([label, i, i])
    prev = list(range(-1, len(runs) - 1))
    nxt = list(range(1, len(runs) + 1))  # len(runs): no next run
    alive = [True] * len(runs)

    def length(r: int) -> float:
        return words[runs[r][2]].end - words[runs[r][1]].start

    def absorb(into: int, r: int) -> None:  # run r joins run ``into`` and leaves the list
        alive[r] = False
        runs[into][1], runs[into][2] = min(runs[into][1], runs[r][1]), max(runs[into][2], runs[r][2])
        a, b = prev[r], nxt[r]
        if a >= 0:
            nxt[a] = b
        if b < len(runs):
            prev[b] = a

    heap = [(length(r), r) for r in range(len(runs))]
    heapq.heapify(heap)
    while heap:
        size, r = heapq.heappop(heap)
        if not alive[r] or size != length(r):
            continue  # merged away, or grown since it was pushed
        if size >= MIN_TURN:
            break
        left, right = prev[r], nxt[r] if nxt[r] < len(runs) else -1
        if left < 0 and right < 0:
            break
        into = left if right < 0 or (left >= 0 and length(left) >= length(right)) else right
        other = right if into == left else left  # the run on r's far side may now touch its own kind
        absorb(into, r)
        if other >= 0 and alive[other] and runs[other][0] == runs[into][0]:
            absorb(into, other)
        heapq.heappush(heap, (length(into), into))
    out = list(labels)
    for r, (label, first, last) in enumerate(runs):
        if alive[r]:
            out[first : last + 1] = [label] * (last - first + 1)
    return out


def _split(seg: AsrSegment, labels: list[int], names: dict[int, str]) -> list[AsrSegment]:
    """The segment cut where its words change speaker (text from the words; the raw text
    cut at the same places when it lines up character for character)."""
    pieces: list[tuple[int, int]] = []
    for i, label in enumerate(labels):
        if pieces and labels[pieces[-1][0]] == label:
            pieces[-1] = (pieces[-1][0], i)
        else:
            pieces.append((i, i))
    if len(pieces) == 1:
        return [replace(seg, speaker=names[labels[0]])]
    out = []
    joined = "".join(w.word for w in seg.words)
    lead = len(joined) - len(joined.lstrip())
    raw = seg.raw_text.strip()
    aligned = joined.strip() == seg.text.strip() and len(raw) == len(seg.text.strip())
    cursor = 0
    for a, b in pieces:
        words = seg.words[a : b + 1]
        text = "".join(w.word for w in words)
        begin, cursor = cursor, cursor + len(text)
        piece_raw = raw[max(0, begin - lead) : max(0, cursor - lead)] if aligned else text
        confidence = sum(w.probability for w in words) / len(words)
        out.append(
            replace(
                seg,
                start=words[0].start,
                end=words[-1].end,
                text=text.strip(),
                raw_text=piece_raw.strip(),
                confidence=round(confidence, 4),
                words=words,
                speaker=names[labels[a]],
            )
        )
    return out


def assign(
    wav_path: Any, segments: list[AsrSegment], speakers: int, *, device: str = "cpu"
) -> list[AsrSegment]:
    """The segments with speakers ``SPEAKER_1`` … ``SPEAKER_<speakers>``, split where the
    speaker changes inside one. Fewer than two speakers, or no speech: unchanged."""
    if speakers < 2 or not segments:
        return segments
    spans = [(s.start, s.end) for s in segments if s.end > s.start]
    times, vectors = embed(wav_path, spans, device=device)
    if len(times) == 0:
        return segments
    labels = cluster(vectors, speakers)
    per_segment: list[list[int]] = []
    for seg in segments:
        words = seg.words or [AsrWord(seg.start, seg.end, seg.text, seg.confidence)]
        per_segment.append(_word_labels(words, times, labels, speakers))
    # smooth across the whole recording: a turn is a run of words, whatever the segments
    flat_words = [w for seg in segments for w in (seg.words or [AsrWord(seg.start, seg.end, seg.text, 0)])]
    flat = _smooth(flat_words, [x for labels_ in per_segment for x in labels_])
    names: dict[int, str] = {}
    for label in flat:
        names.setdefault(label, f"SPEAKER_{len(names) + 1}")
    out: list[AsrSegment] = []
    i = 0
    for seg in segments:
        n = len(seg.words) if seg.words else 1
        labels_ = flat[i : i + n]
        i += n
        if not seg.words:
            out.append(replace(seg, speaker=names[labels_[0]]))
        else:
            out.extend(_split(seg, labels_, names))
    return out
