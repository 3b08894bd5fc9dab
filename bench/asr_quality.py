"""ASR quality: CER (Chinese) and WER (English) per clip and overall, in the same run:

- bare: ``faster_whisper.WhisperModel.transcribe`` with its defaults, ``beam_size=5``, the
  clip's language given (the baseline);
- Lantai sequential (``tasks.asr``, faster-whisper, the language given, as the enrich
  flow runs it for a collection with a language);
- Lantai batched (VAD windows in batches, re-segmented);
- Lantai with the openai-whisper engine and the checkpoint rebuilt from the same
  CTranslate2 model (float32 on the CPU), when the PyTorch extra is installed;

and a check that Lantai's stored Chinese is in one script.

    .venv/bin/python bench/asr_quality.py [--data ../shared/data] [--model base]
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
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

    models_dir = get_settings().models_path
    model_dir = models.resolve(models_dir, args.model)
    bare = WhisperModel(str(model_dir), device="cpu", compute_type="int8", local_files_only=True)
    engine = asr.load_engine("faster-whisper", model_dir, "cpu", "int8")
    runs: dict[str, tuple[asr.AsrEngine, bool]] = {"lantai": (engine, False), "batched": (engine, True)}
    try:
        checkpoint = models.install_openai(models_dir, args.model)
        runs["openai-whisper"] = (asr.load_engine("openai-whisper", checkpoint, "cpu", "auto"), False)
    except Exception as e:  # the PyTorch extra is optional
        print(f"openai-whisper engine skipped: {e}")
    rows = [
        r
        for r in csv.DictReader((args.data / "MANIFEST.tsv").open(encoding="utf-8"), delimiter="\t")
        if r["kind"] == "asr"
    ]
    names = ["bare", *runs]
    print(f"{'clip':50} {'metric':6} " + " ".join(f"{n:>14}" for n in names) + "  one script")
    totals: dict[str, dict[str, list[float]]] = {lang: {n: [] for n in names} for lang in ("zh", "en")}
    worse: dict[str, list[str]] = {n: [] for n in runs}
    for row in rows:
        clip = args.data / row["file"]
        reference = (args.data / row["reference_text_file"]).read_text(encoding="utf-8")
        language = row["language"]
        metric = cer if language == "zh" else wer
        joiner = "" if language == "zh" else " "
        segments, _ = bare.transcribe(str(clip), beam_size=5, language=language)
        scores = {"bare": metric(reference, "".join(s.text for s in segments))}
        one_script = True
        with tempfile.TemporaryDirectory() as tmp:
            wav = media.to_asr_wav(clip, Path(tmp) / "a.wav", media.probe(clip))
            for name, (run, batched) in runs.items():
                _, stream = run.transcribe(
                    wav, asr.AsrOptions.shipped(get_settings().asr, language=language, batched=batched)
                )
                text = joiner.join(s.text for s in stream)
                scores[name] = metric(reference, text)
                if language == "zh" and to_script(text, "zh-Hans") != text:
                    one_script = False
        for name, value in scores.items():
            totals[language][name].append(value)
            if name != "bare" and value > scores["bare"] + 1e-9:
                worse[name].append(row["file"])
        note = "" if row["ref_quality"] != "UNVERIFIED_assumed" else "  (reference unverified)"
        print(
            f"{row['file']:50} {metric.__name__.upper():6} "
            + " ".join(f"{scores[n]:14.3f}" for n in names)
            + f"  {'yes' if one_script else 'NO'}{note}",
            flush=True,
        )
    for language, by_name in totals.items():
        means = " ".join(f"{n}={sum(v) / len(v):.3f}" for n, v in by_name.items() if v)
        print(f"mean error rate ({language}): {means}")
    for name, clips in worse.items():
        print(f"clips where {name} is worse than bare faster-whisper:", ", ".join(clips) or "none")


if __name__ == "__main__":
    main()
