"""OCR quality: character error rate per page and overall, Lantai against bare Tesseract
on the same pages in the same run.

Pages and references come from ../shared/data/ocr (see its MANIFEST.tsv). Bare Tesseract
is the plain CLI (`tesseract PAGE stdout -l LANG`); Lantai is `tasks.ocr.ocr_file` with
its defaults (orientation, deskew, DPI normalization, CJK spacing). CER is computed after
normalization (NFKC, no whitespace/punctuation, traditional → simplified).

    .venv/bin/python bench/ocr_quality.py [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from bench.textmetrics import cer, edit_distance, normalize  # noqa: E402
from tasks.ocr import ocr_file  # noqa: E402

LANGUAGES = {"zh": "chi_sim+eng", "zh_tra": "chi_tra+eng", "en": "eng"}


def bare(path: Path, languages: str) -> str:
    return subprocess.run(
        ["tesseract", str(path), "stdout", "-l", languages],
        capture_output=True,
        text=True,
        check=True,
        env={"OMP_THREAD_LIMIT": "1", "PATH": "/usr/bin:/bin"},
    ).stdout


def make_variants(data: Path, rows: list[dict[str, str]], folder: Path) -> list[dict[str, str]]:
    """Real pages as they often arrive: fed in sideways, upside down, or slightly skewed."""
    from PIL import Image

    extra = []
    for name in ("ocr/en/tesseract__phototest.tif", "ocr/zh/cnocr__multi-line_cn1.png"):
        row = next(r for r in rows if r["file"] == name)
        base = Image.open(data / name).convert("RGB")
        variants = {
            "rot90": base.rotate(90, expand=True),
            "rot180": base.rotate(180),
            "skew3": base.rotate(3, expand=True, fillcolor="white", resample=Image.Resampling.BICUBIC),
        }
        for label, image in variants.items():
            out = folder / f"{Path(name).stem}.{label}.png"
            image.save(out)
            extra.append({**row, "file": str(out), "variant": label})
    return extra


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    args = ap.parse_args()
    rows = [
        r
        for r in csv.DictReader((args.data / "MANIFEST.tsv").open(encoding="utf-8"), delimiter="\t")
        if r["kind"].startswith("ocr")
    ]
    rows += make_variants(args.data, rows, Path(tempfile.mkdtemp(prefix="lantai-ocr-variants-")))
    totals = {"bare": [0, 0], "lantai": [0, 0]}
    print(f"{'page':58} {'lang':12} {'bare CER':>9} {'lantai CER':>10} {'bare s':>7} {'lantai s':>8}")
    worse = []
    for row in rows:
        page = args.data / row["file"]  # variants have absolute paths
        label = f"variant {row['variant']}: {Path(row['file']).name}" if "variant" in row else row["file"]
        reference = (args.data / row["reference_text_file"]).read_text(encoding="utf-8")
        languages = LANGUAGES[row["language"]]
        t0 = time.perf_counter()
        bare_text = bare(page, languages)
        t1 = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            result = ocr_file(page, kind="image", languages=languages, workdir=Path(tmp), workers=2)
        t2 = time.perf_counter()
        lantai_text = "\n".join(p.text for p in result.pages)
        ref = normalize(reference)
        scores = {}
        for name, text in (("bare", bare_text), ("lantai", lantai_text)):
            errors = edit_distance(ref, normalize(text))
            totals[name][0] += errors
            totals[name][1] += len(ref)
            scores[name] = errors / max(1, len(ref))
        if scores["lantai"] > scores["bare"] + 1e-9:
            worse.append(label)
        print(
            f"{label:58} {languages:12} {scores['bare']:9.3f} {scores['lantai']:10.3f} "
            f"{t1 - t0:7.2f} {t2 - t1:8.2f}"
        )
    overall = {k: v[0] / max(1, v[1]) for k, v in totals.items()}
    print(f"{'overall (character-weighted)':58} {'':12} {overall['bare']:9.3f} {overall['lantai']:10.3f}")
    print("pages where Lantai is worse than bare Tesseract:", ", ".join(worse) or "none")
    assert cer("繁體", "繁体") == 0  # the normalization treats scripts alike


if __name__ == "__main__":
    main()
