"""ASR quality: CER (Chinese) and WER (English) per clip and overall, Lantai's
transcription task against a bare ``faster_whisper.WhisperModel.transcribe`` with the same
model in the same run, and a check that Lantai's stored Chinese is in one script.

    .venv/bin/python bench/asr_quality.py [--data ../shared/data] [--model base]
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from bench.textmetrics import cer, wer  # noqa: E402
from configs import get_settings  # noqa: E402
from tasks import asr, media, models  # noqa: E402
from tasks.text import to_script  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--model", default="base")
    args = ap.parse_args()
    from faster_whisper import WhisperModel

    model_dir = models.resolve(get_settings().models_path, args.model)
    bare = WhisperModel(str(model_dir), device="cpu", compute_type="int8", local_files_only=True)
    engine = asr.load_engine("faster-whisper", model_dir, "cpu", "int8")
    rows = [
        r
        for r in csv.DictReader((args.data / "MANIFEST.tsv").open(encoding="utf-8"), delimiter="\t")
        if r["kind"] == "asr"
    ]
    print(f"{'clip':50} {'metric':6} {'bare':>6} {'lantai':>7} {'bare s':>7} {'lantai s':>8}  one script")
    worse, totals = [], {"bare": [], "lantai": []}
    for row in rows:
        clip = args.data / row["file"]
        reference = (args.data / row["reference_text_file"]).read_text(encoding="utf-8")
        metric = cer if row["language"] == "zh" else wer
        t0 = time.perf_counter()
        segments, _ = bare.transcribe(str(clip), beam_size=5)
        bare_text = "".join(s.text for s in segments)
        t1 = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            wav = media.to_asr_wav(clip, Path(tmp) / "a.wav", media.probe(clip))
            _, stream = engine.transcribe(wav, asr.AsrOptions())
            lantai_text = "".join(s.text for s in stream)
        t2 = time.perf_counter()
        scores = {"bare": metric(reference, bare_text), "lantai": metric(reference, lantai_text)}
        for k, v in scores.items():
            totals[k].append(v)
        one_script = row["language"] != "zh" or to_script(lantai_text, "zh-Hans") == lantai_text
        if scores["lantai"] > scores["bare"] + 1e-9:
            worse.append(row["file"])
        note = "" if row["ref_quality"] != "UNVERIFIED_assumed" else "  (reference unverified)"
        print(
            f"{row['file']:50} {metric.__name__.upper():6} {scores['bare']:6.3f} {scores['lantai']:7.3f} "
            f"{t1 - t0:7.2f} {t2 - t1:8.2f}  {'yes' if one_script else 'NO'}{note}"
        )
    for k, v in totals.items():
        print(f"mean error rate {k}: {sum(v) / len(v):.3f}")
    print("clips where Lantai is worse than bare faster-whisper:", ", ".join(worse) or "none")


if __name__ == "__main__":
    main()
