"""Speaker turns: diarization error rate (DER) of Lantai's transcription + speaker turns on
two-speaker interviews assembled from real clips, against a one-speaker baseline.

Each interview is 5 minutes: two speakers' real recordings (from ../shared/data/asr) in
alternating turns of one to three utterances, with pauses of 0.3–1.2 s between turns and
0.2–0.6 s inside them, each turn at a random level between −6 and +3 dB (seeded, so every
run builds the same interviews). The reference speech is each utterance's voiced part
(frames within 26 dB of its loudest, pauses under 0.3 s bridged), as an annotator would
mark it: a speaker's 1.5-second pause is not speech. Lantai transcribes it as the enrich flow does (sequential
decoding, the language given) and assigns the speakers (``tasks.asr.speakers.assign``, two
expected, as when the manifest gives 口述者 and 采集者). DER is scored pyannote-style:
(missed speech + false alarm + speaker confusion) / reference speech, frames of 10 ms, a
0.25 s collar around every reference boundary left out, the best one-to-one mapping of
hypothesis to reference speakers. The baseline is the same transcript with one speaker.

    .venv/bin/python bench/diarization.py [--data ../shared/data] [--minutes 5]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import wave
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

RATE = 16_000
FRAME = 0.01
COLLAR = 0.25

PAIRS = (  # (language, speaker A's clip, speaker B's clip): two different people each
    ("zh", "asr/zh/wenet__aishell-BAC009S0724W0121.wav", "asr/zh/firered__BAC009S0764W0121.wav"),
    ("zh", "asr/zh/cosyvoice__zero_shot_prompt.wav", "asr/zh/funasr__llamacpp_sample.wav"),
    ("en", "asr/en/whisper__jfk.flac", "asr/en/wenet__librispeech-1995-1837-0001.wav"),
)


def load(clip: Path, tmp: Path) -> np.ndarray:
    """The clip at 16 kHz mono, without its leading and trailing silence."""
    from tasks import media

    wav = media.to_asr_wav(clip, tmp / f"{clip.stem}.wav", media.probe(clip))
    with wave.open(str(wav)) as w:
        samples = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float32) / 32768
    loud = np.nonzero(_loud(samples))[0]
    return samples[loud[0] * 160 : (loud[-1] + 1) * 160]


def _loud(samples: np.ndarray) -> np.ndarray:
    """Per 10 ms frame: louder than 5 % of the clip's loudest frame (-26 dB)."""
    frames = samples[: samples.size // 160 * 160].reshape(-1, 160)
    rms = np.sqrt((frames**2).mean(axis=1))
    return rms > rms.max() * 0.05


def voiced(samples: np.ndarray, *, bridge: float = 0.3) -> list[tuple[float, float]]:
    """The clip's speech as (start, end) seconds: loud frames, pauses shorter than
    ``bridge`` seconds bridged (the clips carry no speech annotation of their own; a
    reference turn must not count a speaker's mid-sentence pause as speech)."""
    spans: list[tuple[float, float]] = []
    for i in np.nonzero(_loud(samples))[0]:
        t = i * 0.01
        if spans and t - spans[-1][1] <= bridge:
            spans[-1] = (spans[-1][0], t + 0.01)
        else:
            spans.append((t, t + 0.01))
    return spans


def assemble(
    a: np.ndarray, b: np.ndarray, seconds: float, seed: int
) -> tuple[np.ndarray, list[tuple[float, float, str]]]:
    """An interview of alternating turns, and its reference (start, end, speaker) turns."""
    rng = np.random.default_rng(seed)
    parts: list[np.ndarray] = []
    turns: list[tuple[float, float, str]] = []
    t = 0.0
    speaker = 0
    while t < seconds:
        clip, name = (a, "A") if speaker == 0 else (b, "B")
        gain = 10 ** (rng.uniform(-6, 3) / 20)
        for k in range(int(rng.integers(1, 4))):
            if k:
                gap = rng.uniform(0.2, 0.6)
                parts.append(np.zeros(int(gap * RATE), dtype=np.float32))
                t += gap
            parts.append(np.clip(clip * gain, -1, 1))
            turns.extend((t + a, t + b, name) for a, b in voiced(clip))
            t += clip.size / RATE
        pause = rng.uniform(0.3, 1.2)
        parts.append(np.zeros(int(pause * RATE), dtype=np.float32))
        t += pause
        speaker = 1 - speaker
    return np.concatenate(parts), turns


def der(
    reference: list[tuple[float, float, str]], hypothesis: list[tuple[float, float, str]]
) -> dict[str, float]:
    """Diarization error rate with a collar, frame by frame, best speaker mapping."""
    from scipy.optimize import linear_sum_assignment

    end = max(e for _, e, _ in reference + hypothesis) + 1
    n = int(end / FRAME)
    ref_names = sorted({s for *_, s in reference})
    hyp_names = sorted({s for *_, s in hypothesis})
    ref = np.full(n, -1)
    hyp = np.full(n, -1)
    scored = np.ones(n, dtype=bool)
    for start, stop, s in reference:
        ref[int(start / FRAME) : int(stop / FRAME)] = ref_names.index(s)
        for edge in (start, stop):
            scored[max(0, int((edge - COLLAR) / FRAME)) : int((edge + COLLAR) / FRAME)] = False
    for start, stop, s in hypothesis:
        hyp[int(start / FRAME) : int(stop / FRAME)] = hyp_names.index(s)
    ref, hyp = ref[scored], hyp[scored]
    both = (ref >= 0) & (hyp >= 0)
    overlap = np.zeros((len(hyp_names), len(ref_names)))
    np.add.at(overlap, (hyp[both], ref[both]), 1)
    rows, cols = linear_sum_assignment(-overlap)
    mapping = dict(zip(rows.tolist(), cols.tolist(), strict=True))
    mapped = np.array([mapping.get(h, -2) for h in hyp[both]])
    speech = float((ref >= 0).sum())
    missed = float(((ref >= 0) & (hyp < 0)).sum())
    false_alarm = float(((ref < 0) & (hyp >= 0)).sum())
    confusion = float((mapped != ref[both]).sum())
    return {
        "der": (missed + false_alarm + confusion) / speech,
        "missed": missed / speech,
        "false_alarm": false_alarm / speech,
        "confusion": confusion / speech,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--minutes", type=float, default=5)
    ap.add_argument("--model", default="base")
    args = ap.parse_args()
    from configs import get_settings
    from tasks import asr, models
    from tasks.asr import speakers

    engine = asr.load_engine(
        "faster-whisper", models.resolve(get_settings().models_path, args.model), "cpu", "int8"
    )
    tmp = Path(tempfile.mkdtemp(prefix="lantai-diarization-"))
    print(
        f"{'interview':60} {'DER 1 speaker':>13} {'DER Lantai':>10} {'missed':>7} {'false al.':>9} "
        f"{'confusion':>9} {'words':>7} {'s':>5}"
    )
    results = []
    for seed, (language, first, second) in enumerate(PAIRS):
        a, b = load(args.data / first, tmp), load(args.data / second, tmp)
        audio, reference = assemble(a, b, args.minutes * 60, seed)
        path = tmp / f"interview{seed}.wav"
        with wave.open(str(path), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(RATE)
            w.writeframes((audio * 32767).astype(np.int16).tobytes())
        for batched in (False, True):
            began = time.perf_counter()
            _, stream = engine.transcribe(
                path, asr.AsrOptions.shipped(get_settings().asr, language=language, batched=batched)
            )
            segments = list(stream)
            turned = speakers.assign(path, segments, 2)
            took = time.perf_counter() - began
            one = der(reference, [(s.start, s.end, "SPEAKER_1") for s in segments])
            found = der(reference, [(s.start, s.end, s.speaker) for s in turned])
            by_words = der(reference, [(w.start, w.end, s.speaker) for s in turned for w in s.words])
            results.append((one["der"], found["der"]))
            name = (
                f"{Path(first).stem[:24]} / {Path(second).stem[:24]} {'batched' if batched else 'sequential'}"
            )
            print(
                f"{name[:60]:60} {one['der']:13.3f} {found['der']:10.3f} {found['missed']:7.3f} "
                f"{found['false_alarm']:9.3f} {found['confusion']:9.3f} {by_words['der']:7.3f} {took:5.0f}",
                flush=True,
            )
    base = sum(r[0] for r in results) / len(results)
    ours = sum(r[1] for r in results) / len(results)
    print(
        f"mean DER: one speaker {base:.3f}, Lantai {ours:.3f} (×{ours / base:.2f}); "
        f"worst Lantai {max(r[1] for r in results):.3f}"
    )


if __name__ == "__main__":
    main()
