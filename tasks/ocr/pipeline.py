"""The OCR pipeline: pages read one at a time from the file, prepared, recognised in
parallel by the chosen engine, handed back in page order as they finish.

Engines: Tesseract (:mod:`tasks.ocr.tesseract`) and PP-OCR (:mod:`tasks.ocr.ppocr`).
``auto`` gives Chinese (simplified, traditional, vertical; with English beside it) to
PP-OCR, which reads it far better, and every other language to Tesseract, which reads
Latin script as well as PP-OCR does and the scripts PP-OCR's model does not know
(Tibetan, Uyghur, Mongolian in Cyrillic…).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path

from configs.errors import BadInputError
from tasks import tools
from tasks.ocr.engines import ENGINES, REGISTRY
from tasks.ocr.model import OcrEngine, OcrResult, PageResult
from tasks.ocr.outputs import HocrWriter, merge_pdfs
from tasks.ocr.prepare import prepare_image
from tasks.ocr.sources import _image_pages, _pdf_pages, _Raster
from tasks.ocr.tesseract import TesseractEngine, check_languages, osd_rotation

OSD_BELOW_CONF = 60.0  # pages read with a lower mean word confidence get orientation detection
TURN_MARGIN = 5.0  # mean confidence (0-100) a turned reading may lose when it fixes the orientation
MAX_AHEAD = 64  # finished pages held back behind a slow one, at most


def choose_engine(choice: str, languages: str) -> str:
    """The engine that reads these languages for a setting of ``auto`` (the first engine of
    ``REGISTRY`` that prefers them) or of an engine's name (which must read them all)."""
    langs = frozenset(lang for lang in languages.split("+") if lang)
    if choice not in ENGINES:
        raise BadInputError(f"OCR engine {choice!r} is not one of {', '.join(ENGINES)}")
    if choice == "auto":
        return next(spec.name for spec in REGISTRY.values() if spec.preferred(langs))
    if not REGISTRY[choice].reads(langs):
        raise BadInputError(
            f"{choice} does not read {languages}: set the OCR engine to auto (or another engine) "
            "for these languages"
        )
    return choice


def make_engine(name: str, *, workers: int = 1) -> OcrEngine:
    if name not in REGISTRY:
        raise BadInputError(f"OCR engine {name!r} is not one of {', '.join(REGISTRY)}")
    return REGISTRY[name].make(workers)


def require(name: str, languages: str) -> None:
    """Check that the engine (and Tesseract, which also detects orientation) is installed."""
    tools.require("tesseract")
    REGISTRY[name].require(languages)


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
    engine: OcrEngine | str = "auto",
) -> Iterator[PageResult]:
    """OCR every page of an image or PDF, yielding results in page order as they finish.

    At most ``2 * workers`` pages are rendered ahead, so memory stays bounded however
    long the file. A page that fails or times out is yielded with ``status="failed"`` and
    its reason; the others go on. Raises OcrInputError when the file cannot be read at all.
    Work files (page images, hOCR, page PDFs) are written under ``workdir``.
    """
    if isinstance(engine, str):
        engine = make_engine(choose_engine(engine, languages), workers=workers)
    if isinstance(engine, TesseractEngine):  # a language without its model fails here, not per page
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
        """Read the page as it comes; only when that reads badly (or the engine saw the page
        upside down, or saw vertical lines where the languages are horizontal: a page fed
        in sideways), ask orientation detection and read it again turned upright. Most
        scans are upright, so most pages never pay for the extra run."""
        try:
            result = attempt(raster, 0)
            sideways = result.vertical and not vertical  # vertical lines, horizontal languages
            rotation = 0
            if osd and result.image is not None and sideways:
                # a quarter turn either way; OSD's guess first, however unsure (it is weak on
                # Han script), and the engine's own upside-down verdict corrects a wrong guess
                rotation = osd_rotation(result.image, page_timeout, min_conf=0)
                rotation = rotation if rotation in (90, 270) else 90
            elif osd and result.image is not None and (result.mean_conf or 0) < OSD_BELOW_CONF:
                rotation = osd_rotation(result.image, page_timeout)
            if not rotation and result.turn:
                rotation = result.turn
            if rotation:
                turned = attempt(raster, rotation)
                back = (rotation + turned.turn) % 360
                # still upside down: orientation detection was half a turn off (unless the
                # turn leads back to no turn, whose reading is ``result`` and owns its files)
                if turned.turn and back:
                    again = attempt(raster, back)
                    _discard(turned)
                    turned = again
                # the engine's verdict fixed by the turn: the turned reading is kept unless
                # it is much less confident; a truly vertical page turned sideways reads far
                # worse and stays
                fixed = (result.turn and not turned.turn) or (sideways and not turned.vertical)
                before, after = result.mean_conf or 0, turned.mean_conf or 0
                if (fixed and after >= before - TURN_MARGIN) or after > before:
                    result, turned = turned, result
                _discard(turned)
            return result
        finally:
            raster.image.close()

    pending: deque[Future[PageResult]] = deque()
    # pages rendered ahead (their images in memory): twice the workers keeps every core busy
    # behind a slow page; an engine that runs one page at a time asks for fewer
    ahead = engine.ahead or 2 * max(1, workers)
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
                if len(unfinished) < ahead and len(pending) < MAX_AHEAD:
                    break
                wait(unfinished or list(pending)[:1], return_when=FIRST_COMPLETED)
        while pending:
            yield pending.popleft().result()


def _discard(page: PageResult) -> None:
    for leftover in (page.image, page.hocr, page.pdf):
        if leftover is not None:
            leftover.unlink(missing_ok=True)


def options(
    languages: str, dpi: int, *, osd: bool = True, deskew: bool = True, engine: str = "tesseract"
) -> dict[str, object]:
    """The options that decide the result: part of the work key and of the provenance event."""
    return REGISTRY[engine].options(languages, dpi, osd, deskew)


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
    engine: OcrEngine | str = "auto",
) -> OcrResult:
    """All pages of a (small) file at once, with the merged searchable PDF and hOCR."""
    if isinstance(engine, str):
        engine = make_engine(choose_engine(engine, languages), workers=workers)
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
        options=options(languages, dpi, osd=osd, deskew=deskew, engine=engine.name),
        pdf=merge_pdfs(parts, workdir / "searchable.pdf") if parts else None,
        hocr=hocr_path.read_text("utf-8") if writer.count else "",
    )
