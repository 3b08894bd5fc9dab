"""OCR quality: character error rate per page and overall, Lantai's engines against bare
Tesseract on the same pages in the same run.

Pages and references come from ../shared/data/ocr (see its MANIFEST.tsv), plus every
Chinese page and the English photo test fed in sideways, upside down and 3° skewed. Bare
Tesseract is the plain CLI (`tesseract PAGE stdout -l LANG`); the Lantai columns are
`tasks.ocr.ocr_file` with its defaults (orientation, deskew, DPI normalization, reading
order) and the engine forced to Tesseract, to PP-OCR, or left to `auto` (what Lantai
runs); a last column, for comparison only, puts Lantai's Tesseract lines through the
body-first step PP-OCR's lines get (`tasks.ocr.layout.body_first`). CER is computed after
normalization (NFKC, no whitespace/punctuation, traditional → simplified). The figures of
issue #17 are checked at the end.

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
from bench.textmetrics import bag_errors, cer, edit_distance, normalize  # noqa: E402
from tasks.ocr import ocr_file  # noqa: E402
from tasks.ocr.layout import body_first  # noqa: E402

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
    names = ["ocr/en/tesseract__phototest.tif"] + [r["file"] for r in rows if r["language"].startswith("zh")]
    for name in names:
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


ENGINES = ("tesseract", "ppocr", "auto")


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
    names = ("bare", *ENGINES, "tess+body")
    totals: dict[tuple[str, str], list[int]] = {}
    scores_by_page = []
    print(f"{'page':62} {'lang':12} " + " ".join(f"{n:>9}" for n in names) + "   seconds (bare/tess/pp/auto)")
    for row in rows:
        page = args.data / row["file"]  # variants have absolute paths
        label = f"{row['variant']}: {Path(row['file']).name}" if "variant" in row else row["file"]
        reference = (args.data / row["reference_text_file"]).read_text(encoding="utf-8")
        languages = LANGUAGES[row["language"]]
        script = "en" if row["language"] == "en" else "zh"
        texts, seconds = {}, []
        t0 = time.perf_counter()
        texts["bare"] = bare(page, languages)
        seconds.append(time.perf_counter() - t0)
        for engine in ENGINES:
            t0 = time.perf_counter()
            with tempfile.TemporaryDirectory() as tmp:
                result = ocr_file(
                    page, kind="image", languages=languages, workdir=Path(tmp), workers=2, engine=engine
                )
            seconds.append(time.perf_counter() - t0)
            texts[engine] = "\n".join(p.text for p in result.pages)
            if engine == "tesseract":  # for comparison only: Lantai keeps Tesseract's own order
                texts["tess+body"] = "\n".join(
                    "\n".join(
                        p.lines[i].text
                        for i in body_first([ln.bbox for ln in p.lines], [ln.text for ln in p.lines])
                    )
                    for p in result.pages
                )
        ref = normalize(reference)
        scores = {}
        for name in names:
            errors = edit_distance(ref, normalize(texts[name]))
            unordered = bag_errors(ref, normalize(texts[name]))
            for group in (script, "all"):
                total = totals.setdefault((name, group), [0, 0, 0])
                total[0] += errors
                total[1] += len(ref)
                total[2] += unordered
            scores[name] = errors / max(1, len(ref))
        scores_by_page.append((label, script, scores))
        print(
            f"{label:62} {languages:12} "
            + " ".join(f"{scores[n]:9.3f}" for n in names)
            + "   "
            + "/".join(f"{s:.1f}" for s in seconds)
        )
    overall = {k: v[0] / max(1, v[1]) for k, v in totals.items()}
    for group, title in (("zh", "Chinese pages"), ("en", "English pages"), ("all", "all pages")):
        print(
            f"{'overall, ' + title + ' (character-weighted)':62} {'':12} "
            + " ".join(f"{overall[(n, group)]:9.3f}" for n in names)
        )
    free = {k: v[2] / max(1, v[1]) for k, v in totals.items()}
    print(
        f"{'overall, Chinese pages, order-free (bag of characters)':62} {'':12} "
        + " ".join(f"{free[(n, 'zh')]:9.3f}" for n in names)
    )
    zh_auto, zh_bare = overall[("auto", "zh")], overall[("bare", "zh")]
    zh_tess = overall[("tesseract", "zh")]
    free_auto = free[("auto", "zh")]
    print(
        "Chinese: auto / Lantai's Tesseract with the same body-first order (not what Lantai runs) = "
        f"{zh_auto / overall[('tess+body', 'zh')]:.2f}"
    )
    print(
        f"Chinese: auto / bare Tesseract = {zh_auto / zh_bare:.2f}, auto / Lantai's Tesseract = "
        f"{zh_auto / zh_tess:.2f} (target <= 0.50); order-free: "
        f"{free_auto / free[('bare', 'zh')]:.2f} and {free_auto / free[('tesseract', 'zh')]:.2f}"
    )
    worse = [
        f"{label} (+{s['auto'] - min(s['bare'], s['tesseract']):.3f})"
        for label, script, s in scores_by_page
        if script == "zh" and s["auto"] > min(s["bare"], s["tesseract"]) + 0.02
    ]
    print("Chinese pages where auto is worse than Tesseract by more than 0.02:", ", ".join(worse) or "none")
    en_worse = [
        label
        for label, script, s in scores_by_page
        if script == "en" and s["auto"] > min(s["bare"], s["tesseract"]) + 1e-9
    ]
    print("English pages where auto is worse than Tesseract:", ", ".join(en_worse) or "none")
    assert cer("繁體", "繁体") == 0  # the normalization treats scripts alike


if __name__ == "__main__":
    main()
