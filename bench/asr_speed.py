"""ASR speed and memory on long recordings, with the `base` model on this machine:

- real-time factor of Lantai's engine (tasks.asr) on a 30-minute recording built by
  concatenating the real clips in ../shared/data/asr, against a bare
  ``faster_whisper.WhisperModel.transcribe`` with the same settings in the same run
  (target: pipeline overhead under 5 %), and faster-whisper's ``BatchedInferencePipeline``;
- peak RSS of a child process transcribing 10 minutes and 3 hours (mostly silence, so the
  run is short, but the whole file passes through): bounded, independent of length.

    .venv/bin/python bench/asr_speed.py [--minutes 30] [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def build(clips: list[Path], minutes: float, out: Path, tmp: Path, *, silence_every: float = 0.0) -> Path:
    """A 16 kHz mono WAV of ``minutes``: the clips in turn with 0.4 s gaps (and, with
    ``silence_every``, that many seconds of silence after each round)."""
    norm = []
    for i, clip in enumerate(clips):
        wav = tmp / f"c{i}.wav"
        subprocess.run(
            [
                "ffmpeg",
                "-v",
                "error",
                "-y",
                "-i",
                str(clip),
                "-ac",
                "1",
                "-ar",
                "16000",
                "-af",
                "apad=pad_dur=0.4",
                str(wav),
            ],
            check=True,
        )
        norm.append(wav)
    pause = tmp / "pause.wav"
    if silence_every:
        subprocess.run(
            [
                "ffmpeg",
                "-v",
                "error",
                "-y",
                "-f",
                "lavfi",
                "-i",
                "anullsrc=r=16000:cl=mono",
                "-t",
                str(silence_every),
                "-c:a",
                "pcm_s16le",
                str(pause),
            ],
            check=True,
        )
    listing = tmp / "list.txt"
    lines, total = [], 0.0
    import wave

    lengths = {}
    for w in norm:
        with wave.open(str(w)) as f:
            lengths[w] = f.getnframes() / 16000
    while total < minutes * 60:
        for w in norm:
            lines.append(f"file '{w}'")
            total += lengths[w]
        if silence_every:
            lines.append(f"file '{pause}'")
            total += silence_every
    listing.write_text("\n".join(lines) + "\n")
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-f",
            "concat",
            "-safe",
            "0",
            "-i",
            str(listing),
            "-t",
            str(minutes * 60),
            "-c:a",
            "pcm_s16le",
            str(out),
        ],
        check=True,
    )
    return out


CHILD = """
import json, resource, sys, time
from pathlib import Path
from tasks import asr, models
from configs import get_settings
model_dir = models.resolve(get_settings().models_path, sys.argv[2])
engine = asr.load_engine("faster-whisper", model_dir, "cpu", "int8")
t = time.perf_counter()
info, segs = engine.transcribe(Path(sys.argv[1]), asr.AsrOptions())
n = sum(1 for _ in segs)
print(json.dumps({"segments": n, "seconds": time.perf_counter() - t, "duration": info.duration,
                  "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--model", default="base")
    ap.add_argument("--skip-rss", action="store_true")
    args = ap.parse_args()
    from faster_whisper import BatchedInferencePipeline, WhisperModel

    from configs import get_settings
    from tasks import asr, models

    clips = sorted(p for p in (args.data / "asr").rglob("*") if p.suffix in (".wav", ".flac", ".mp3"))
    tmp = Path(tempfile.mkdtemp(prefix="lantai-asr-speed-"))
    long = build(clips, args.minutes, tmp / "long.wav", tmp)
    seconds = args.minutes * 60
    model_dir = models.resolve(get_settings().models_path, args.model)
    print(f"{len(clips)} clips → {args.minutes:.0f} min recording; model {args.model} (int8, CPU)")

    bare = WhisperModel(str(model_dir), device="cpu", compute_type="int8", local_files_only=True)
    settings = dict(beam_size=5, vad_filter=True, word_timestamps=True, condition_on_previous_text=False)

    def run_bare() -> tuple[float, int]:
        t = time.perf_counter()
        segs, _ = bare.transcribe(str(long), **settings)
        n = sum(1 for _ in segs)  # the work happens as the segments are consumed
        return time.perf_counter() - t, n

    engine = asr.load_engine("faster-whisper", model_dir, "cpu", "int8")

    def run_lantai() -> tuple[float, int]:
        t = time.perf_counter()
        _, segs = engine.transcribe(long, asr.AsrOptions())
        n = sum(1 for _ in segs)
        return time.perf_counter() - t, n

    batched = BatchedInferencePipeline(model=bare)

    def run_batched() -> tuple[float, int]:
        t = time.perf_counter()
        segs, _ = batched.transcribe(
            str(long), batch_size=8, beam_size=5, word_timestamps=True, vad_filter=True
        )
        n = sum(1 for _ in segs)
        return time.perf_counter() - t, n

    results = {}
    for name, fn in (("bare faster-whisper", run_bare), ("lantai", run_lantai), ("batched (8)", run_batched)):
        took, n = fn()
        results[name] = took
        print(f"{name:20} {took:7.1f} s  RTF {took / seconds:.3f}  {n} segments", flush=True)
    overhead = results["lantai"] / results["bare faster-whisper"] - 1
    print(
        f"Lantai overhead vs bare: {overhead * 100:+.1f} %; batched speed-up vs bare: "
        f"×{results['bare faster-whisper'] / results['batched (8)']:.2f}"
    )
    if args.skip_rss:
        return
    for minutes in (10, 180):
        sparse = build(clips[:2], minutes, tmp / f"sparse{minutes}.wav", tmp, silence_every=120)
        out = subprocess.run(
            [sys.executable, "-c", CHILD, str(sparse), args.model],
            capture_output=True,
            text=True,
            check=True,
            cwd=REPO,
        ).stdout
        r = json.loads(out.strip().splitlines()[-1])
        print(
            f"peak RSS, {minutes:4d}-minute recording: {r['max_rss_mb']:.0f} MB "
            f"({r['segments']} segments, {r['seconds']:.0f} s)",
            flush=True,
        )


if __name__ == "__main__":
    main()
