"""Tesseract 5 through its CLI: one run per page writes hOCR, TSV and a searchable PDF page;
also orientation detection (OSD) for the pipeline."""

from __future__ import annotations

import csv
import io
import re
from functools import lru_cache
from pathlib import Path

from tasks import tools
from tasks.ocr.model import EngineSpec, Line, PageResult, PreparedPage, Word
from tasks.text import join_tokens


@lru_cache(maxsize=1)
def tesseract_version() -> str:
    out = tools.run(["tesseract", "--version"], timeout=30, what="tesseract version").stdout
    return out.decode().splitlines()[0].split()[-1]


@lru_cache(maxsize=1)
def tesseract_languages() -> frozenset[str]:
    out = tools.run(["tesseract", "--list-langs"], timeout=30, what="tesseract languages").stdout
    return frozenset(line.strip() for line in out.decode().splitlines()[1:] if line.strip())


def check_languages(languages: str) -> None:
    missing = [lang for lang in languages.split("+") if lang not in tesseract_languages()]
    if missing:
        pkgs = " ".join("tesseract-ocr-" + m.replace("_", "-") for m in missing)
        raise tools.MissingDependencyError(
            f"Tesseract language data {', '.join(missing)}",
            hint=f"run: bash scripts/setup   (or apt-get install {pkgs})",
        )


class TesseractEngine:
    """Tesseract CLI: one run per page writes hOCR, TSV (words, boxes, confidences) and a
    one-page searchable PDF at once; OMP_THREAD_LIMIT=1 because pages run in parallel."""

    name = "tesseract"
    ahead = 0  # one process per page: two pages per worker in the works

    def version(self) -> str:
        return tesseract_version()

    def recognize(self, page: PreparedPage, *, languages: str, timeout: float, out_base: Path) -> PageResult:
        tools.run(
            [
                "tesseract",
                str(page.image),
                str(out_base),
                "-l",
                languages,
                *(["--dpi", str(page.dpi)] if page.dpi else []),
                "--psm",
                "3",
                "-c",
                "hocr_font_info=0",
                "hocr",
                "tsv",
                "pdf",
            ],
            timeout=timeout,
            env={"OMP_THREAD_LIMIT": "1"},
            what=f"OCR of page {page.page_no}",
        )
        lines = _parse_tsv(out_base.with_suffix(".tsv").read_text("utf-8"), 1 / page.scale)
        confs = [w.conf for ln in lines for w in ln.words]
        text = "\n".join(ln.text for ln in lines)
        hocr = out_base.with_suffix(".hocr")
        _rescale_hocr(hocr, 1 / page.scale, page.view.name)
        return PageResult(
            page_no=page.page_no,
            text=text,
            lines=lines,
            width=page.width,
            height=page.height,
            mean_conf=round(sum(confs) / len(confs), 2) if confs else None,
            status="ok" if text.strip() else "empty",
            rotation=page.rotation,
            skew=page.skew,
            hocr=hocr,
            pdf=out_base.with_suffix(".pdf"),
            image=page.view,
        )


def _parse_tsv(tsv: str, factor: float) -> list[Line]:
    """Lines of words from Tesseract's TSV, boxes scaled back to page-image pixels."""
    grouped: dict[tuple[int, int, int], list[Word]] = {}
    for row in csv.DictReader(io.StringIO(tsv), delimiter="\t", quoting=csv.QUOTE_NONE):
        if row["level"] != "5" or not (row.get("text") or "").strip():
            continue
        left, top, w, h = (int(row[k]) for k in ("left", "top", "width", "height"))
        box = (
            round(left * factor),
            round(top * factor),
            round((left + w) * factor),
            round((top + h) * factor),
        )
        key = (int(row["block_num"]), int(row["par_num"]), int(row["line_num"]))
        grouped.setdefault(key, []).append(Word(row["text"].strip(), box, round(float(row["conf"]), 2)))
    lines = []
    for words in grouped.values():
        box = (
            min(w.bbox[0] for w in words),
            min(w.bbox[1] for w in words),
            max(w.bbox[2] for w in words),
            max(w.bbox[3] for w in words),
        )
        conf = round(sum(w.conf for w in words) / len(words), 2)
        lines.append(Line(join_tokens(w.text for w in words), box, conf, words))
    return lines


_HOCR_BBOX = re.compile(r"bbox (\d+) (\d+) (\d+) (\d+)")


def _rescale_hocr(path: Path, factor: float, image_name: str) -> None:
    """Put hOCR boxes in page-image pixels and point it at the page image."""
    text = path.read_text("utf-8")
    if factor != 1:
        text = _HOCR_BBOX.sub(
            lambda m: "bbox " + " ".join(str(round(int(v) * factor)) for v in m.groups()), text
        )
    text = re.sub(r'image "[^"]*"', f'image "{image_name}"', text, count=1)
    path.write_text(text, "utf-8")


def osd_rotation(image: Path, timeout: float, *, min_conf: float = 5.0) -> int:
    """Clockwise degrees to rotate the page upright, when OSD is at least ``min_conf``
    confident; else 0."""
    try:
        out = tools.run(
            ["tesseract", str(image), "-", "--psm", "0"],
            timeout=timeout,
            env={"OMP_THREAD_LIMIT": "1"},
            what="orientation detection",
        ).stdout.decode()
    except tools.ToolError:
        return 0  # too little text to tell: leave the page as it is
    rotate = re.search(r"Rotate: (\d+)", out)
    conf = re.search(r"Orientation confidence: ([\d.]+)", out)
    if rotate and conf and float(conf.group(1)) >= min_conf:
        return int(rotate.group(1))
    return 0


def _options(languages: str, dpi: int, osd: bool, deskew: bool) -> dict[str, object]:
    return {"languages": languages, "dpi": dpi, "osd": osd, "deskew": deskew, "psm": 3}


SPEC = EngineSpec(
    name="tesseract",
    reads=lambda langs: True,  # every language with an installed model (checked by require)
    preferred=lambda langs: True,  # every language PP-OCR's model does not know
    make=lambda workers: TesseractEngine(),
    require=check_languages,
    options=_options,
    label=lambda version: f"tesseract {version}",
)
