"""Reading files page by page: the frames of an image, the pages of a PDF (a born-digital
page's own text layer instead of OCR; a page that is one stored scan extracted as stored)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image

from tasks.formats import MAX_PIXELS, PDF_HINT, pdf_open_error
from tasks.ocr.model import Line, OcrInputError, PageResult, Word
from tasks.ocr.prepare import MIN_REAL_DPI, PAGE_IMAGE_QUALITY

TESSERACT_READS = {"PNG", "JPEG", "TIFF", "BMP"}  # formats Leptonica decodes itself
MIN_TEXT_CHARS = 20  # a PDF page with at least this much text is born-digital: no OCR


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
