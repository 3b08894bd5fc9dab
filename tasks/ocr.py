"""OCR of scanned records: images and PDFs in, pages with text, lines, word boxes,
confidences, hOCR and a searchable PDF out.

The stages read top to bottom in :func:`ocr_file`: rasterize (or extract born-digital PDF
text), prepare each page (orientation, greyscale, DPI), recognise pages in parallel, merge
hOCR and PDF pages. Engines sit behind :class:`OcrEngine`; Tesseract is the default.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import pypdfium2 as pdfium
from PIL import Image, ImageOps

from configs.errors import BadInputError
from tasks import tools
from tasks.formats import MAX_PIXELS, PDF_HINT, pdf_open_error
from tasks.text import join_tokens

log = logging.getLogger(__name__)

MIN_TEXT_CHARS = 20
MIN_REAL_DPI = 100  # declared resolutions below this are not scanner resolutions
MAX_UPSCALE = 2.0  # a PDF page with at least this much text is born-digital: no OCR


class OcrInputError(BadInputError):
    """The scan cannot be read as an image or PDF."""


BBox = tuple[int, int, int, int]


@dataclass
class Word:
    text: str
    bbox: BBox
    conf: float


@dataclass
class Line:
    text: str
    bbox: BBox
    conf: float
    words: list[Word] = field(default_factory=list)


@dataclass
class PageResult:
    page_no: int  # 1-based within the file
    text: str = ""
    lines: list[Line] = field(default_factory=list)
    width: int = 0
    height: int = 0
    mean_conf: float | None = None
    status: str = "ok"  # ok | empty | failed
    error: str = ""
    method: str = "ocr"  # ocr | text-layer
    hocr: str = ""
    pdf: Path | None = None  # this page as a searchable PDF


@dataclass
class OcrResult:
    pages: list[PageResult]
    engine: str
    engine_version: str
    options: dict[str, object]
    pdf: Path | None = None  # all pages, searchable
    hocr: str = ""

    @property
    def failed_pages(self) -> list[PageResult]:
        return [p for p in self.pages if p.status == "failed"]


@dataclass
class PreparedPage:
    page_no: int
    image: Path
    scale: float  # prepared pixels per original pixel
    width: int  # original size
    height: int
    dpi: int


class OcrEngine(Protocol):
    name: str

    def version(self) -> str: ...

    def recognize(
        self, page: PreparedPage, *, languages: str, timeout: float, out_base: Path
    ) -> PageResult: ...


# ---------------------------------------------------------------- Tesseract


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
                "--dpi",
                str(page.dpi),
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
        return PageResult(
            page_no=page.page_no,
            text=text,
            lines=lines,
            width=page.width,
            height=page.height,
            mean_conf=round(sum(confs) / len(confs), 2) if confs else None,
            status="ok" if text.strip() else "empty",
            hocr=out_base.with_suffix(".hocr").read_text("utf-8"),
            pdf=out_base.with_suffix(".pdf"),
        )


def _parse_tsv(tsv: str, factor: float) -> list[Line]:
    """Lines of words from Tesseract's TSV, boxes scaled back to the original page pixels."""
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


# ---------------------------------------------------------------- preparing pages


def _osd_rotation(image: Path, timeout: float) -> int:
    """Clockwise degrees to rotate the page upright, when OSD is confident; else 0."""
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
    if rotate and conf and float(conf.group(1)) >= 5.0:
        return int(rotate.group(1))
    return 0


def prepare_image(
    img: Image.Image,
    *,
    page_no: int,
    dpi_hint: float | None,
    target_dpi: int,
    workdir: Path,
    osd: bool,
    timeout: float,
) -> PreparedPage:
    """Greyscale, upright, at least ``target_dpi``; saved as PNG for the engine."""
    img = ImageOps.exif_transpose(img)
    width, height = img.size
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        img = img.point(lambda v: v / 256).convert("L")  # 16-bit greyscale to 8-bit
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        background = Image.new("RGBA", img.size, "white")  # transparent areas are paper, not ink
        img = Image.alpha_composite(background, img.convert("RGBA"))
    img = img.convert("L")
    # Below 100 the declared value is a screen default (72/96) or a JFIF aspect ratio (1x1),
    # not a scanning resolution: treat it as unknown, like an absent one.
    dpi = int(dpi_hint) if dpi_hint and dpi_hint >= MIN_REAL_DPI else 300
    scale = 1.0
    if dpi < target_dpi:
        scale = min(target_dpi / dpi, MAX_UPSCALE)
        img = img.resize((round(width * scale), round(height * scale)), Image.Resampling.LANCZOS)
        dpi = round(dpi * scale)
    path = workdir / f"page-{page_no:05d}.png"
    img.save(path, dpi=(dpi, dpi))
    if osd:
        rotation = _osd_rotation(path, timeout)
        if rotation:
            img.rotate(-rotation, expand=True).save(path, dpi=(dpi, dpi))
            if rotation in (90, 270):
                width, height = height, width
    return PreparedPage(page_no, path, scale, width, height, dpi)


def _image_pages(path: Path) -> Iterator[tuple[int, Image.Image, float | None]]:
    try:
        img = Image.open(path)
        if img.width * img.height > MAX_PIXELS:
            raise OcrInputError(f"image too large to decode safely: {img.width} x {img.height} px")
        for index in range(getattr(img, "n_frames", 1)):
            img.seek(index)
            frame = img.copy()
            frame.load()
            dpi = img.info.get("dpi", (None,))[0]
            yield index + 1, frame, float(dpi) if dpi else None
    except Image.DecompressionBombError as e:
        raise OcrInputError(f"image too large to decode safely: {e}") from e
    except (OSError, SyntaxError, ValueError) as e:
        raise OcrInputError(f"cannot decode image {path.name}: {e}") from e


def _open_pdf(path: Path) -> pdfium.PdfDocument:
    try:
        pdf = pdfium.PdfDocument(path)
    except pdfium.PdfiumError as e:
        raise OcrInputError(pdf_open_error(path), hint=PDF_HINT) from e
    if len(pdf) == 0:
        raise OcrInputError("the PDF has no pages")
    return pdf


def _text_layer(page: pdfium.PdfPage, page_no: int, scale: float) -> PageResult | None:
    """Born-digital text with line boxes (in pixels at the rendering scale), or None."""
    textpage = page.get_textpage()
    full = textpage.get_text_range().strip()
    if len(full) < MIN_TEXT_CHARS:
        return None
    height = page.get_height()
    lines = []
    for i in range(textpage.count_rects()):
        left, bottom, right, top = textpage.get_rect(i)
        text = textpage.get_text_bounded(left, bottom, right, top).strip()
        if text:
            box = (
                round(left * scale),
                round((height - top) * scale),
                round(right * scale),
                round((height - bottom) * scale),
            )
            lines.append(Line(text, box, 100.0, [Word(text, box, 100.0)]))
    return PageResult(
        page_no=page_no,
        text="\n".join(ln.text for ln in lines) or full,
        lines=lines,
        width=round(page.get_width() * scale),
        height=round(height * scale),
        mean_conf=100.0,
        method="text-layer",
    )


# ---------------------------------------------------------------- the pipeline


def ocr_file(
    path: Path,
    *,
    kind: str,
    languages: str,
    workdir: Path,
    dpi: int = 300,
    page_timeout: float = 300,
    workers: int = 1,
    osd: bool = True,
    engine: OcrEngine | None = None,
) -> OcrResult:
    """OCR every page of an image or PDF file. A page that fails is recorded as failed with
    its reason and the others go on. Writes its work files and the searchable PDF under
    ``workdir``. Raises OcrInputError when the file as a whole cannot be read."""
    engine = engine or TesseractEngine()
    check_languages(languages)
    workdir.mkdir(parents=True, exist_ok=True)
    options: dict[str, object] = {"languages": languages, "dpi": dpi, "osd": osd, "psm": 3}
    pages: list[PageResult] = []
    prepared: list[PreparedPage] = []

    def prepare(page_no: int, img: Image.Image, dpi_hint: float | None) -> None:
        try:
            prepared.append(
                prepare_image(
                    img,
                    page_no=page_no,
                    dpi_hint=dpi_hint,
                    target_dpi=dpi,
                    workdir=workdir,
                    osd=osd,
                    timeout=page_timeout,
                )
            )
        except (OSError, ValueError, tools.ToolError) as e:
            pages.append(PageResult(page_no=page_no, status="failed", error=f"cannot prepare page: {e}"))

    if kind == "pdf":
        pdf = _open_pdf(path)
        render_scale = dpi / 72
        for index in range(len(pdf)):
            page = pdf[index]
            layer = _text_layer(page, index + 1, render_scale)
            if layer is not None:
                pages.append(layer)
                continue
            bitmap = page.render(scale=render_scale, grayscale=True)
            prepare(index + 1, bitmap.to_pil(), dpi)
            page.close()
        pdf.close()
    else:
        for page_no, img, dpi_hint in _image_pages(path):
            prepare(page_no, img, dpi_hint)

    def recognize(page: PreparedPage) -> PageResult:
        try:
            return engine.recognize(
                page, languages=languages, timeout=page_timeout, out_base=page.image.with_suffix("")
            )
        except tools.ToolError as e:
            return PageResult(
                page_no=page.page_no, width=page.width, height=page.height, status="failed", error=str(e)
            )

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        pages.extend(pool.map(recognize, prepared))
    pages.sort(key=lambda p: p.page_no)
    return OcrResult(
        pages=pages,
        engine=engine.name,
        engine_version=engine.version(),
        options=options,
        pdf=_merge_pdf(pages, workdir / "searchable.pdf"),
        hocr=merge_hocr(pages),
    )


def _merge_pdf(pages: list[PageResult], dest: Path) -> Path | None:
    parts = [p.pdf for p in pages if p.pdf is not None and p.pdf.exists()]
    if not parts:
        return None
    out = pdfium.PdfDocument.new()
    for part in parts:
        src = pdfium.PdfDocument(part)
        out.import_pages(src)
        src.close()
    out.save(dest)
    out.close()
    return dest


_HOCR_ID = re.compile(r"((?:id|title)='[^']*?)\b(page|block|par|line|word|carea|photo|separator)_1\b")


def merge_hocr(pages: list[PageResult]) -> str:
    """One hOCR document with each page's body, page numbers and ids made unique."""
    bodies, head = [], ""
    for page in pages:
        if not page.hocr:
            continue
        if not head:
            head = page.hocr.split("<body>", 1)[0]
        body = page.hocr.split("<body>", 1)[-1].rsplit("</body>", 1)[0]
        body = body.replace("ppageno 0", f"ppageno {page.page_no - 1}")
        body = re.sub(
            r"id='(page|block|par|line|word|carea|photo|separator)_1(\b|_)",
            rf"id='\g<1>_{page.page_no}\g<2>",
            body,
        )
        bodies.append(body)
    return f"{head}<body>{''.join(bodies)}</body>\n</html>\n" if bodies else ""
