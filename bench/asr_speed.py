"""ASR speed and memory on long recordings, with the `base` model on this machine:

- on a 30-minute recording built by concatenating the real clips of one language in
  ../shared/data/asr (whole clips, 0.4 s gaps): seconds, real-time factor, error rate
  against the clips' references and segment count of a bare
  ``faster_whisper.WhisperModel.transcribe`` (its defaults, beam 5, language given), of
  Lantai's sequential decoding and of Lantai's batched decoding (VAD windows, batch 8,
  re-segmented), all in the same run;
- peak RSS of a child process transcribing 10 minutes and 3 hours (mostly silence, so the
  run is short, but the whole file passes through): bounded, independent of length.

    .venv/bin/python bench/asr_speed.py [--minutes 30] [--language zh|en] [--data ../shared/data] [--skip-rss]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def build(
    clips: list[Path],
    minutes: float,
    out: Path,
    tmp: Path,
    *,
    silence_every: float = 0.0,
    order: list[Path] | None = None,
) -> Path:
    """A 16 kHz mono WAV of about ``minutes`` (whole clips): the clips in turn with 0.4 s gaps
    (and, with ``silence_every``, that many seconds of silence after each round). The clips
    used, in order, are appended to ``order``."""
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
        for clip, w in zip(clips, norm, strict=True):
            lines.append(f"file '{w}'")
            total += lengths[w]
            if order is not None:
                order.append(clip)
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
info, segs = engine.transcribe(Path(sys.argv[1]), asr.AsrOptions.shipped(get_settings().asr, batched=True))
n = sum(1 for _ in segs)
print(json.dumps({"segments": n, "seconds": time.perf_counter() - t, "duration": info.duration,
                  "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def gpu(args: argparse.Namespace, long: Path, seconds: float, reference: str, metric: Any) -> None:
    """The GPU figure: Lantai's own task (tasks.asr, the engine ``auto`` picks with
    ``LANTAI_ASR__DEVICE=cuda``) on the same recording, sequential and batched."""
    from configs import get_settings
    from tasks import asr

    settings = get_settings()
    name, device = asr.choose_engine(
        "auto", "cuda", installed=lambda n: asr.spec(n).installed(settings.models_path, args.model)
    )
    engine = asr.load_engine(name, asr.spec(name).model(settings.models_path, args.model), device, "auto")
    print(
        f"engine {engine.name} on {engine.device} ({engine.compute_type}), cuda devices {asr.cuda_devices()}"
    )
    for batched in (False, True):
        t = time.perf_counter()
        _, segs = engine.transcribe(
            long, asr.AsrOptions.shipped(get_settings().asr, language=args.language, batched=batched)
        )
        texts = [s.text for s in segs]
        took = time.perf_counter() - t
        error = metric(reference, ("" if args.language == "zh" else " ").join(texts))
        mode = "batched" if batched else "sequential"
        print(
            f"lantai {mode:10} {took:8.1f} s  ×{seconds / took:6.1f} realtime  "
            f"error {error:.3f}  {len(texts)} segments",
            flush=True,
        )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--model", default="base")
    ap.add_argument("--language", default="zh", help="the clips of this language make the recording")
    ap.add_argument("--skip-rss", action="store_true")
    ap.add_argument(
        "--gpu",
        action="store_true",
        help="on a CUDA machine: Lantai's task only (the engine auto picks there), sequential and batched",
    )
    args = ap.parse_args()
    from faster_whisper import WhisperModel

    from bench.textmetrics import cer, wer
    from configs import get_settings
    from tasks import asr, models

    folder = args.data / "asr" / args.language
    clips = sorted(p for p in folder.iterdir() if p.suffix in (".wav", ".flac", ".mp3"))
    tmp = Path(tempfile.mkdtemp(prefix="lantai-asr-speed-"))
    order: list[Path] = []
    long = build(clips, args.minutes, tmp / "long.wav", tmp, order=order)
    import wave

    with wave.open(str(long)) as w:
        seconds = w.getnframes() / 16000
    reference = ("" if args.language == "zh" else " ").join(
        p.with_suffix(".txt").read_text(encoding="utf-8").strip() for p in order
    )
    metric = cer if args.language == "zh" else wer
    model_dir = models.resolve(get_settings().models_path, args.model)
    print(
        f"{len(clips)} {args.language} clips → {seconds / 60:.1f} min recording ({len(order)} clips); "
        f"model {args.model} (int8, CPU, {len(__import__('os').sched_getaffinity(0))} cores)"
    )

    if args.gpu:
        gpu(args, long, seconds, reference, metric)
        return
    bare = WhisperModel(str(model_dir), device="cpu", compute_type="int8", local_files_only=True)
    engine = asr.load_engine("faster-whisper", model_dir, "cpu", "int8")

    def run_bare() -> tuple[str, int]:
        # faster-whisper's defaults (no VAD, conditioning on), beam 5, the language given
        segs, _ = bare.transcribe(str(long), beam_size=5, language=args.language)
        texts = [s.text for s in segs]  # the work happens as the segments are consumed
        return "".join(texts), len(texts)

    def lantai(batched: bool) -> tuple[str, int]:
        _, segs = engine.transcribe(
            long, asr.AsrOptions.shipped(get_settings().asr, language=args.language, batched=batched)
        )
        texts = [s.text for s in segs]
        return ("" if args.language == "zh" else " ").join(texts), len(texts)

    results = {}
    runs = (
        ("bare faster-whisper", run_bare),
        ("lantai sequential", lambda: lantai(False)),
        ("lantai batched (8)", lambda: lantai(True)),
    )
    print(
        f"{'run':22} {'seconds':>8} {'RTF':>6} {'×realtime':>9} {metric.__name__.upper():>6} {'segments':>8}"
    )
    for name, fn in runs:
        t = time.perf_counter()
        text, n = fn()
        took = time.perf_counter() - t
        error = metric(reference, text)
        results[name] = (took, error, n)
        print(
            f"{name:22} {took:8.1f} {took / seconds:6.3f} {seconds / took:9.1f} {error:6.3f} {n:8d}",
            flush=True,
        )
    seq, bat = results["lantai sequential"], results["lantai batched (8)"]
    bare_took = results["bare faster-whisper"][0]
    print(
        f"batched vs sequential: speed ×{seq[0] / bat[0]:.2f}, "
        f"error {(bat[1] / seq[1] - 1) * 100 if seq[1] else 0:+.1f} % "
        f"(relative), segments {(bat[2] / seq[2] - 1) * 100 if seq[2] else 0:+.1f} %; "
        f"Lantai sequential overhead vs bare {(seq[0] / bare_took - 1) * 100:+.1f} %"
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
