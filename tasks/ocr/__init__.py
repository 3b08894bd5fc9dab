"""OCR of scanned records: images and PDFs in, pages with text, lines, word boxes,
confidences, hOCR, an upright page image and a searchable PDF page out.

Where things live:

- :mod:`~tasks.ocr.pipeline` — :func:`ocr_pages` / :func:`ocr_file`, the engine choice;
- :mod:`~tasks.ocr.sources` — files read page by page (image frames, PDF pages, text layers);
- :mod:`~tasks.ocr.prepare` — orientation, deskew, greyscale, resolution, the page image;
- :mod:`~tasks.ocr.tesseract`, :mod:`~tasks.ocr.ppocr` — the engines;
- :mod:`~tasks.ocr.layout` — reading order (XY-cut, columns, vertical right to left);
- :mod:`~tasks.ocr.render` — hOCR and the invisible-text PDF for engines that write neither;
- :mod:`~tasks.ocr.outputs` — a file's pages joined (PDF, hOCR).

Everything large lives in files under the work folder, so a 2,000-page PDF streams through
in bounded memory.
"""

from tasks.ocr.engines import REGISTRY
from tasks.ocr.model import (
    EngineSpec,
    Line,
    OcrEngine,
    OcrInputError,
    OcrResult,
    PageResult,
    PreparedPage,
    Word,
)
from tasks.ocr.outputs import HocrWriter, merge_pdfs
from tasks.ocr.pipeline import (
    ENGINES,
    choose_engine,
    make_engine,
    ocr_file,
    ocr_pages,
    options,
    require,
)
from tasks.ocr.tesseract import TesseractEngine, check_languages, tesseract_version

__all__ = [
    "ENGINES",
    "REGISTRY",
    "EngineSpec",
    "HocrWriter",
    "Line",
    "OcrEngine",
    "OcrInputError",
    "OcrResult",
    "PageResult",
    "PreparedPage",
    "TesseractEngine",
    "Word",
    "check_languages",
    "choose_engine",
    "make_engine",
    "merge_pdfs",
    "ocr_file",
    "ocr_pages",
    "options",
    "require",
    "tesseract_version",
]
