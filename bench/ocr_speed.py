"""OCR throughput: pages per minute for Lantai's engines and OCRmyPDF on the same input,
same run.

Inputs are built from the real page scans in ../shared/data/ocr (cycled to 20 pages):
(1) one 20-page image-only PDF, (2) with ``--tiffs``, a folder of 20 single-page TIFFs.
Lantai runs its full per-page work (orientation, deskew, OCR, reading order, hOCR, page
image, searchable PDF) with the engine forced to Tesseract, to PP-OCR, and left to
``auto``, each in a fresh process whose peak resident set (with its children: Tesseract
runs as child processes) is reported; OCRmyPDF runs with the same languages, ``--jobs`` =
cores and ``--output-type pdf``. CER of each output against the references is printed
next to the speed.

Needs OCRmyPDF and Ghostscript (``pip install ocrmypdf``; ``apt-get install ghostscript``).

    .venv/bin/python bench/ocr_speed.py [--pages 20] [--tiffs] [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from bench.textmetrics import edit_distance, normalize  # noqa: E402
from tasks import ocr  # noqa: E402

LANGS = "chi_sim+eng"
PAGES = [  # (file under data/, resolution to declare when the file has none)
    ("ocr/zh/omnidocbench__book_60599898.pdf_30.jpg", 200),
    ("ocr/zh/omnidocbench__yanbaopptmerge_yanbaoPPT_145.jpg", 200),
    ("ocr/en/tesseract__phototest.tif", 200),
    ("ocr/zh/cnocr__multi-line_cn1.png", 100),
    ("ocr/en/tesseractjs__testocr.png", 100),
]


def build_inputs(data: Path, n: int, root: Path) -> tuple[Path, Path, list[str]]:
    refs = {
        r["file"]: r["reference_text_file"]
        for r in csv.DictReader((data / "MANIFEST.tsv").open(encoding="utf-8"), delimiter="\t")
    }
    images, references = [], []
    tiffs = root / "tiffs"
    tiffs.mkdir()
    for i in range(n):
        name, dpi = PAGES[i % len(PAGES)]
        img = Image.open(data / name).convert("RGB")
        images.append((img, dpi))
        img.save(tiffs / f"page-{i + 1:03d}.tif", dpi=(dpi, dpi), compression="tiff_lzw")
        references.append((data / refs[name]).read_text(encoding="utf-8"))
    pdf = root / "scanned.pdf"
    first, *rest = [im for im, _ in images]
    first.save(pdf, save_all=True, append_images=rest, resolution=200)
    return pdf, tiffs, references


def line(name: str, seconds: float, n: int, cer: float, extra: str = "") -> str:
    return f"    {name:32}: {60 * n / seconds:6.1f} pages/min  ({seconds:5.1f} s)  CER {cer:.3f}{extra}"


def cer_of(texts: list[str], references: list[str]) -> float:
    errors = sum(edit_distance(normalize(r), normalize(t)) for r, t in zip(references, texts, strict=True))
    return errors / sum(len(normalize(r)) for r in references)


def lantai_pdf(pdf: Path, work: Path, engine: str = "auto") -> list[str]:
    texts, parts = [], []
    work.mkdir(parents=True)
    with ocr.HocrWriter(work / "item.hocr") as hocr:
        for page in ocr.ocr_pages(
            pdf, kind="pdf", languages=LANGS, workdir=work, workers=os.cpu_count() or 1, engine=engine
        ):
            texts.append(page.text)
            hocr.add(page)
            if page.pdf:
                parts.append(page.pdf)
    ocr.merge_pdfs(parts, work / "searchable.pdf")
    return texts


def lantai_tiffs(folder: Path, work: Path) -> list[str]:
    texts = []
    for i, tif in enumerate(sorted(folder.iterdir())):
        result = ocr.ocr_file(
            tif, kind="image", languages=LANGS, workdir=work / str(i), workers=os.cpu_count() or 1
        )
        texts.extend(p.text for p in result.pages)
    return texts


def lantai_process(pdf: Path, work: Path, engine: str) -> tuple[list[str], float, float]:
    """Lantai on the PDF in a fresh process: its texts, seconds and peak RSS in MB (the
    largest of the process and its children)."""
    out = work.with_suffix(".json")
    t = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, __file__, "--child", engine, str(pdf), str(work), str(out)],
        env={**os.environ, "OMP_THREAD_LIMIT": "1"},
    )
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t
    if status != 0:
        raise SystemExit(f"Lantai ({engine}) failed")
    return json.loads(out.read_text("utf-8")), seconds, usage.ru_maxrss / 1024


def ocrmypdf(src: Path, out: Path, *extra: str) -> list[str]:
    """Run OCRmyPDF; its text per page from the sidecar (Tesseract's own text output, in
    Tesseract's reading order, as Lantai's is), not re-extracted from the PDF layout."""
    sidecar = out.with_suffix(".txt")
    cmd = [
        sys.executable,
        "-m",
        "ocrmypdf",
        "-l",
        LANGS,
        "--jobs",
        str(os.cpu_count() or 1),
        "--output-type",
        "pdf",
        "--quiet",
        "--sidecar",
        str(sidecar),
    ]
    subprocess.run(
        [*cmd, *extra, str(src), str(out)], check=True, env={**os.environ, "OMP_THREAD_LIMIT": "1"}
    )
    return sidecar.read_text(encoding="utf-8").split("\f")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", type=int, default=20)
    ap.add_argument("--tiffs", action="store_true", help="also the folder of single-page TIFFs")
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        engine, pdf, work, out = args.child
        Path(out).write_text(json.dumps(lantai_pdf(Path(pdf), Path(work), engine)), "utf-8")
        return
    if shutil.which("gs") is None:
        raise SystemExit("Ghostscript is needed by OCRmyPDF: apt-get install ghostscript")
    with tempfile.TemporaryDirectory(prefix="lantai-ocr-speed-") as tmp:
        root = Path(tmp)
        pdf, tiffs, refs = build_inputs(args.data, args.pages, root)
        n = args.pages
        print(f"{n} pages, languages {LANGS}, {os.cpu_count()} cores")

        t = time.perf_counter()
        omp_texts = ocrmypdf(pdf, root / "ocrmypdf.pdf")[:n]
        omp_s = time.perf_counter() - t
        t = time.perf_counter()
        full_texts = ocrmypdf(pdf, root / "ocrmypdf-full.pdf", "--rotate-pages", "--deskew")[:n]
        full_s = time.perf_counter() - t
        print(f"(1) {n}-page scanned PDF")
        print(line("OCRmyPDF", omp_s, n, cer_of(omp_texts, refs)))
        print(line("OCRmyPDF --rotate-pages --deskew", full_s, n, cer_of(full_texts, refs)))
        for engine in ("tesseract", "ppocr", "auto"):
            texts, seconds, rss = lantai_process(pdf, root / f"lantai-{engine}", engine)
            print(
                line(
                    f"Lantai {engine}",
                    seconds,
                    n,
                    cer_of(texts, refs),
                    f"  speed ratio {omp_s / seconds:.2f} of OCRmyPDF  peak RSS {rss:.0f} MB",
                )
            )
        if not args.tiffs:
            return
        t = time.perf_counter()
        lantai_texts = lantai_tiffs(tiffs, root / "lantai-tif")
        lantai_s = time.perf_counter() - t
        t = time.perf_counter()
        omp_texts = []
        for i, tif in enumerate(sorted(tiffs.iterdir())):
            omp_texts += ocrmypdf(tif, root / f"omp-{i}.pdf")[:1]
        omp_s = time.perf_counter() - t
        print(f"(2) folder of {n} TIFFs (one file after another)")
        print(line("OCRmyPDF", omp_s, n, cer_of(omp_texts, refs)))
        print(
            line("Lantai", lantai_s, n, cer_of(lantai_texts, refs), f"  speed ratio {omp_s / lantai_s:.2f}")
        )


if __name__ == "__main__":
    main()
