"""OCR of scanned records: images and PDFs in, pages with text, lines, word boxes,
confidences, hOCR, an upright page image and a searchable PDF page out.

The stages read top to bottom in :func:`ocr_pages`: open the file and yield its pages one
at a time (a born-digital PDF page has its text extracted instead), prepare each page
(EXIF and OSD orientation, deskew, greyscale, DPI), recognise pages in parallel, and hand
back results in page order as they finish. Everything large lives in files under the work
folder, so a 2,000-page PDF streams through in bounded memory. Engines sit behind
:class:`OcrEngine`; Tesseract is the default.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections import deque
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image, ImageOps

from configs.errors import BadInputError
from tasks import tools
from tasks.formats import MAX_PIXELS, PDF_HINT, pdf_open_error
from tasks.text import join_tokens

log = logging.getLogger(__name__)

TESSERACT_READS = {"PNG", "JPEG", "TIFF", "BMP"}  # formats Leptonica decodes itself
MIN_TEXT_CHARS = 20  # a PDF page with at least this much text is born-digital: no OCR
MIN_REAL_DPI = 100  # declared resolutions below this are not scanner resolutions
MAX_UPSCALE = 2.0
SMALL_TEXT_PX = 12  # lines lower than this (at the scan's resolution) are upsampled
MAX_SKEW = 5.0  # degrees searched by deskew
MIN_SKEW = 0.3  # smaller angles are left alone
OSD_BELOW_CONF = 60.0  # pages read with a lower mean word confidence get orientation detection
PAGE_IMAGE_QUALITY = 85
MERGE_CHUNK = 100  # page PDFs joined per pdfunite call
MAX_AHEAD = 64  # finished pages held back behind a slow one, at most


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
    """One page. Boxes are in the pixels of ``image``: the page upright, deskewed, at the
    scan's own resolution."""

    page_no: int  # 1-based within the file
    text: str = ""
    lines: list[Line] = field(default_factory=list)
    width: int = 0
    height: int = 0
    mean_conf: float | None = None
    status: str = "ok"  # ok | empty | failed
    error: str = ""
    method: str = "ocr"  # ocr | text-layer
    rotation: int = 0  # clockwise degrees applied to make the page upright
    skew: float = 0.0  # degrees of deskew applied
    hocr: Path | None = None
    pdf: Path | None = None  # this page as a searchable PDF
    image: Path | None = None  # the page image editors see (JPEG)


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
    image: Path  # the image the engine reads: the scan itself, or a corrected (upsampled) PNG
    view: Path  # the page image at the scan's resolution (JPEG)
    scale: float  # engine pixels per view pixel
    width: int  # view size
    height: int
    dpi: int | None  # None: let the engine estimate it
    rotation: int = 0
    skew: float = 0.0
    temporary: bool = True  # the engine's image is a work file (not the scan itself)


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


def estimate_skew(grey: Image.Image, *, vertical: bool = False) -> float:
    """The small rotation (degrees, counter-clockwise positive) that makes text lines level.

    Projection profiles: at the right angle the ink, summed along the lines, is most
    uneven (dense text rows, empty gaps). Searched coarse then fine within ±MAX_SKEW on a
    reduced copy. Columns instead of rows for vertical print.
    """
    small = grey.copy()
    small.thumbnail((1000, 1000))
    arr = np.asarray(small, dtype=np.uint8)
    if arr.size == 0 or arr.min() == arr.max():
        return 0.0
    ink = Image.fromarray(((arr <= _otsu(arr)) * 255).astype(np.uint8))  # class 0 = [0, t] = ink
    axis = 0 if vertical else 1

    def score(angle: float) -> float:
        rotated = np.asarray(ink.rotate(angle, resample=Image.Resampling.NEAREST, fillcolor=0))
        return float(np.var(rotated.sum(axis=axis, dtype=np.int64)))

    coarse = max(np.arange(-MAX_SKEW, MAX_SKEW + 0.01, 0.5), key=score)
    best = max(np.arange(coarse - 0.5, coarse + 0.51, 0.1), key=score)
    if score(best) <= score(0.0) * 1.01:  # no real gain: the page is level
        return 0.0
    return round(float(best), 2)


def text_lines(grey: Image.Image) -> tuple[float, int] | None:
    """Median height in pixels of the page's text lines (runs of inked rows) and how many
    there are, or None for a blank page."""
    small = grey.copy()
    small.thumbnail((1000, 1000))
    arr = np.asarray(small, dtype=np.uint8)
    if arr.size == 0 or arr.min() == arr.max():
        return None
    inked = (arr <= _otsu(arr)).mean(axis=1) > 0.01
    runs, run = [], 0
    for row in inked:
        if row:
            run += 1
        elif run:
            runs.append(run)
            run = 0
    runs = [r for r in [*runs, run] if r >= 2]
    return (float(np.median(runs)) * grey.width / small.width, len(runs)) if runs else None


def _otsu(arr: np.ndarray) -> int:
    hist = np.bincount(arr.ravel(), minlength=256).astype(np.float64)
    total = arr.size
    weights = np.cumsum(hist)
    means = np.cumsum(hist * np.arange(256))
    between = (means[-1] * weights / total - means) ** 2 / np.maximum(weights * (total - weights), 1)
    return int(np.argmax(between))


def _to_view(img: Image.Image) -> Image.Image:
    """An 8-bit RGB or greyscale image with transparency flattened onto white paper."""
    img = ImageOps.exif_transpose(img)
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        img = img.point(lambda v: v / 256).convert("L")  # 16-bit greyscale to 8-bit
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        background = Image.new("RGBA", img.size, "white")
        img = Image.alpha_composite(background, img.convert("RGBA"))
    if img.mode in ("1", "L", "I", "F"):
        return img.convert("L")
    rgb = img.convert("RGB")
    return rgb if _is_colour(rgb) else rgb.convert("L")


def _is_colour(rgb: Image.Image) -> bool:
    """True when the page has real colour: at least 1 % of it clearly saturated. Many
    greyscale scans arrive as RGB JPEGs; Tesseract reads those faster as greyscale (about
    10 % on a book page) with the same result."""
    small = rgb.copy()
    small.thumbnail((400, 400))
    saturation = np.asarray(small.convert("HSV"))[..., 1]
    return bool((saturation > 40).mean() >= 0.01)


def prepare_image(
    img: Image.Image,
    *,
    page_no: int,
    dpi_hint: float | None,
    target_dpi: int,
    workdir: Path,
    deskew: bool,
    vertical: bool,
    rotation: int = 0,
    original: Path | None = None,
) -> PreparedPage:
    """Upright and level page image (JPEG, for people) and a greyscale copy of at least
    ``target_dpi`` (PNG, for the engine)."""
    view = _to_view(img)
    # Below 100 the declared value is a screen default (72/96) or a JFIF aspect ratio (1x1),
    # not a scanning resolution: treat it as unknown, like an absent one.
    dpi = int(dpi_hint) if dpi_hint and dpi_hint >= MIN_REAL_DPI else 300
    if rotation:
        view = view.rotate(-rotation, expand=True)
    skew = estimate_skew(view.convert("L"), vertical=vertical) if deskew else 0.0
    if abs(skew) >= MIN_SKEW:
        fill = 255 if view.mode == "L" else (255, 255, 255)
        view = view.rotate(skew, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=fill)
    else:
        skew = 0.0
    stem = f"page-{page_no:05d}" + (f"-r{rotation}" if rotation else "")
    view_path = workdir / f"{stem}.jpg"
    view.save(view_path, quality=PAGE_IMAGE_QUALITY, dpi=(dpi, dpi))
    # The engine gets the page in its own colours: Tesseract's binarization of a colour
    # page reads coloured backgrounds better than a luma greyscale does (CER 0.39 against
    # 0.56 on the PPT page of bench/ocr_speed.py). Greyscale is for the analysis above.
    engine_image = view
    scale = 1.0
    # DPI normalization: a page scanned below target_dpi is upsampled when its text is
    # small; large print at a low resolution reads better as it is.
    lines = text_lines(view.convert("L"))
    if dpi < target_dpi and lines is not None and lines[0] < SMALL_TEXT_PX:
        scale = min(target_dpi / dpi, MAX_UPSCALE)
        size = (round(view.width * scale), round(view.height * scale))
        engine_image = view.resize(size, Image.Resampling.LANCZOS)
    engine_dpi = round(dpi * scale)
    if original is not None and scale == 1.0 and not rotation and not skew and _unchanged(img):
        # Nothing to correct: the engine reads the scan itself, not a re-encoded copy.
        # Its own DPI stands. With none declared, Tesseract estimates one from the text, as
        # it would alone, except on a crop of a line or two, too little to estimate from.
        few_lines = lines is None or lines[1] < 3
        declared = int(dpi_hint) if dpi_hint and dpi_hint >= MIN_REAL_DPI else (dpi if few_lines else None)
        return PreparedPage(
            page_no, original, view_path, 1.0, view.width, view.height, declared, 0, 0.0, temporary=False
        )
    path = workdir / f"{stem}.png"
    engine_image.save(path, dpi=(engine_dpi, engine_dpi), compress_level=1)  # a work file: speed over size
    return PreparedPage(page_no, path, view_path, scale, view.width, view.height, engine_dpi, rotation, skew)


def _unchanged(img: Image.Image) -> bool:
    """True when the decoded scan needs no conversion: 8-bit, no alpha, upright by EXIF."""
    orientation = img.getexif().get(0x0112, 1)
    return img.mode in ("1", "L", "RGB", "P") and orientation == 1 and "transparency" not in img.info


# ---------------------------------------------------------------- reading files page by page


@dataclass
class _Raster:
    page_no: int
    image: Image.Image
    dpi: float | None
    original: Path | None = None  # the file itself, when it holds just this one page


def _image_pages(path: Path) -> Iterator[_Raster]:
    try:
        img = Image.open(path)
        if img.width * img.height > MAX_PIXELS:
            raise OcrInputError(f"image too large to decode safely: {img.width} x {img.height} px")
        frames = getattr(img, "n_frames", 1)
        for index in range(frames):
            img.seek(index)
            frame = img.copy()
            frame.load()
            dpi = img.info.get("dpi", (None,))[0]
            single = path if frames == 1 and img.format in TESSERACT_READS else None
            yield _Raster(index + 1, frame, float(dpi) if dpi else None, single)
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
        pdf.close()
        raise OcrInputError("the PDF has no pages")
    return pdf


def _text_layer(pdf: pdfium.PdfDocument, index: int, dpi: int, workdir: Path) -> PageResult | None:
    """A born-digital page: its text with line boxes, its image and itself as the PDF page."""
    page = pdf[index]
    try:
        textpage = page.get_textpage()
        full = textpage.get_text_range().strip()
        if len(full) < MIN_TEXT_CHARS:
            return None
        scale = dpi / 72
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
        view = workdir / f"page-{index + 1:05d}.jpg"
        image = page.render(scale=scale).to_pil()
        image.save(view, quality=PAGE_IMAGE_QUALITY, dpi=(dpi, dpi))
        single = pdfium.PdfDocument.new()
        single.import_pages(pdf, [index])
        part = workdir / f"page-{index + 1:05d}.pdf"
        single.save(part)
        single.close()
        return PageResult(
            page_no=index + 1,
            text="\n".join(ln.text for ln in lines) or full,
            lines=lines,
            width=image.width,
            height=image.height,
            mean_conf=100.0,
            method="text-layer",
            pdf=part,
            image=view,
        )
    finally:
        page.close()


def native_dpi(page: pdfium.PdfPage, default: int) -> int:
    """The resolution of the scan a PDF page carries: pixels per inch of its largest image,
    so the page is rendered at the scan's own resolution, neither blurred nor blown up."""
    best: tuple[float, int] | None = None
    for obj in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=2):
        left, bottom, right, top = obj.get_bounds()
        width_px, _ = obj.get_px_size()
        area = (right - left) * (top - bottom)
        if right - left > 0 and (best is None or area > best[0]):
            best = (area, round(width_px / ((right - left) / 72)))
    if best is None:
        return default
    return max(MIN_REAL_DPI, min(600, best[1]))


def _stored_scan(page: pdfium.PdfPage, index: int, workdir: Path) -> Path | None:
    """The scan a page consists of, extracted as stored (a JPEG stays the same JPEG), when the
    page is just one upright image covering it; rendering would resample and re-encode it."""
    images = list(page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=1))
    if len(images) != 1:
        return None
    image = images[0]
    matrix = image.get_matrix()
    left, bottom, right, top = image.get_bounds()
    covered = (right - left) * (top - bottom) / max(page.get_width() * page.get_height(), 1)
    if matrix.b or matrix.c or matrix.a <= 0 or matrix.d <= 0 or covered < 0.95:
        return None
    if image.get_filters() not in (["DCTDecode"], ["FlateDecode"], []):
        return None
    base = workdir / f"stored-{index + 1:05d}"
    try:
        image.extract(base)
    except (pdfium.PdfiumError, OSError, ValueError):
        return None
    found = sorted(workdir.glob(base.name + ".*"))
    return found[0] if found else None


def _pdf_pages(path: Path, dpi: int, workdir: Path) -> Iterator[_Raster | PageResult]:
    pdf = _open_pdf(path)
    try:
        for index in range(len(pdf)):
            layer = _text_layer(pdf, index, dpi, workdir)
            if layer is not None:
                yield layer
                continue
            page = pdf[index]
            try:
                page_dpi = native_dpi(page, dpi)
                stored = _stored_scan(page, index, workdir)
                if stored is not None:
                    image = Image.open(stored)
                    image.load()
                    usable = image.format in TESSERACT_READS and image.mode in ("L", "RGB", "1")
                    yield _Raster(index + 1, image, float(page_dpi), stored if usable else None)
                    continue
                bitmap = page.render(scale=page_dpi / 72, grayscale=False)
                yield _Raster(index + 1, bitmap.to_pil(), float(page_dpi))
            finally:
                page.close()
    finally:
        pdf.close()


# ---------------------------------------------------------------- the pipeline


def ocr_pages(
    path: Path,
    *,
    kind: str,
    languages: str,
    workdir: Path,
    dpi: int = 300,
    page_timeout: float = 300,
    workers: int = 1,
    osd: bool = True,
    deskew: bool = True,
    engine: OcrEngine | None = None,
) -> Iterator[PageResult]:
    """OCR every page of an image or PDF, yielding results in page order as they finish.

    At most ``2 * workers`` pages are rendered ahead, so memory stays bounded however
    long the file. A page that fails or times out is yielded with ``status="failed"`` and
    its reason; the others go on. Raises OcrInputError when the file cannot be read at all.
    Work files (page images, hOCR, page PDFs) are written under ``workdir``.
    """
    engine = engine or TesseractEngine()
    check_languages(languages)
    workdir.mkdir(parents=True, exist_ok=True)
    vertical = any(lang.endswith("_vert") for lang in languages.split("+"))
    sources = _pdf_pages(path, dpi, workdir) if kind == "pdf" else _image_pages(path)

    def attempt(raster: _Raster, rotation: int) -> PageResult:
        try:
            prepared = prepare_image(
                raster.image,
                page_no=raster.page_no,
                dpi_hint=raster.dpi,
                target_dpi=dpi,
                workdir=workdir,
                deskew=deskew,
                vertical=vertical,
                rotation=rotation,
                original=raster.original,
            )
        except (OSError, ValueError) as e:
            return PageResult(page_no=raster.page_no, status="failed", error=f"cannot prepare page: {e}")
        try:
            return engine.recognize(
                prepared,
                languages=languages,
                timeout=page_timeout,
                out_base=prepared.view.with_suffix(""),
            )
        except tools.ToolError as e:
            return PageResult(
                page_no=prepared.page_no,
                width=prepared.width,
                height=prepared.height,
                status="failed",
                error=str(e),
                image=prepared.view,
                rotation=rotation,
            )
        finally:
            if prepared.temporary:
                prepared.image.unlink(missing_ok=True)  # the engine's copy is no longer needed

    def work(raster: _Raster) -> PageResult:
        """Read the page as it comes; only when that reads badly, ask orientation detection
        and read it again turned upright. Most scans are upright, so most pages never pay
        for the extra Tesseract run."""
        try:
            result = attempt(raster, 0)
            if osd and result.image is not None and (result.mean_conf or 0) < OSD_BELOW_CONF:
                rotation = _osd_rotation(result.image, page_timeout)
                if rotation:
                    turned = attempt(raster, rotation)
                    keep, drop = (
                        (turned, result)
                        if (turned.mean_conf or 0) > (result.mean_conf or 0)
                        else (result, turned)
                    )
                    for leftover in (drop.image, drop.hocr, drop.pdf):
                        if leftover is not None:
                            leftover.unlink(missing_ok=True)
                    result = keep
            return result
        finally:
            raster.image.close()

    pending: deque[Future[PageResult]] = deque()
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for source in sources:
            if isinstance(source, PageResult):
                done: Future[PageResult] = Future()
                done.set_result(source)
                pending.append(done)
            else:
                pending.append(pool.submit(work, source))
            # Render ahead while fewer than 2 x workers pages are in the works (their images
            # are in memory); finished pages wait, light, behind a slow one so that results
            # still come out in page order without leaving a core idle.
            while True:
                while pending and pending[0].done():
                    yield pending.popleft().result()
                unfinished = [f for f in pending if not f.done()]
                if len(unfinished) < 2 * max(1, workers) and len(pending) < MAX_AHEAD:
                    break
                wait(unfinished or list(pending)[:1], return_when=FIRST_COMPLETED)
        while pending:
            yield pending.popleft().result()


def options(languages: str, dpi: int, *, osd: bool = True, deskew: bool = True) -> dict[str, object]:
    """The options that decide the result: part of the work key and of the provenance event."""
    return {"languages": languages, "dpi": dpi, "osd": osd, "deskew": deskew, "psm": 3}


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
    deskew: bool = True,
    engine: OcrEngine | None = None,
) -> OcrResult:
    """All pages of a (small) file at once, with the merged searchable PDF and hOCR."""
    engine = engine or TesseractEngine()
    pages = list(
        ocr_pages(
            path,
            kind=kind,
            languages=languages,
            workdir=workdir,
            dpi=dpi,
            page_timeout=page_timeout,
            workers=workers,
            osd=osd,
            deskew=deskew,
            engine=engine,
        )
    )
    hocr_path = workdir / "ocr.hocr"
    with HocrWriter(hocr_path) as writer:
        for page in pages:
            writer.add(page)
    parts = [p.pdf for p in pages if p.pdf is not None]
    return OcrResult(
        pages=pages,
        engine=engine.name,
        engine_version=engine.version(),
        options=options(languages, dpi, osd=osd, deskew=deskew),
        pdf=merge_pdfs(parts, workdir / "searchable.pdf") if parts else None,
        hocr=hocr_path.read_text("utf-8") if writer.count else "",
    )


# ---------------------------------------------------------------- merging the outputs


def merge_pdfs(parts: list[Path], dest: Path, *, timeout_per_page: float = 10) -> Path:
    """Join one-page PDFs into ``dest`` with poppler's pdfunite, in chunks so that neither
    memory nor open files grow with the page count."""
    if len(parts) == 1:
        dest.write_bytes(parts[0].read_bytes())
        return dest
    level, round_no = list(parts), 0
    while len(level) > 1:
        merged = []
        for start in range(0, len(level), MERGE_CHUNK):
            chunk = level[start : start + MERGE_CHUNK]
            if len(chunk) == 1:
                merged.append(chunk[0])
                continue
            out = dest.with_name(f".merge-{round_no}-{start}.pdf")
            tools.run(
                ["pdfunite", *map(str, chunk), str(out)],
                timeout=60 + timeout_per_page * len(chunk),
                what="joining PDF pages",
            )
            merged.append(out)
        level, round_no = merged, round_no + 1
    level[0].replace(dest)
    for leftover in dest.parent.glob(".merge-*.pdf"):
        leftover.unlink()
    return dest


class HocrWriter:
    """One hOCR document written page by page to a file (page numbers and ids made unique)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = 0
        self._fh: io.TextIOWrapper | None = None

    def __enter__(self) -> HocrWriter:
        self._fh = self.path.open("w", encoding="utf-8")
        return self

    def add(self, page: PageResult) -> None:
        if page.hocr is None or not page.hocr.exists() or self._fh is None:
            return
        text = page.hocr.read_text("utf-8")
        if self.count == 0:
            self._fh.write(text.split("<body>", 1)[0] + "<body>\n")
        body = text.split("<body>", 1)[-1].rsplit("</body>", 1)[0]
        body = body.replace("ppageno 0", f"ppageno {page.page_no - 1}")
        body = re.sub(
            r"id='(page|block|par|line|word|carea|photo|separator)_1(\b|_)",
            rf"id='\g<1>_{page.page_no}\g<2>",
            body,
        )
        self._fh.write(body)
        self.count += 1

    def __exit__(self, *exc: object) -> None:
        if self._fh is not None:
            if self.count:
                self._fh.write("</body>\n</html>\n")
            self._fh.close()
