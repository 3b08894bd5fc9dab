"""PP-OCR (PaddleOCR's PP-OCRv6 small detection and recognition models, Apache-2.0) through
RapidOCR on onnxruntime. The models ship inside the ``rapidocr`` wheel: nothing is
downloaded, and ``lantai models list`` checks their SHA-256 against the values RapidOCR
publishes in its MODEL_LICENSES.md (pinned here, so a changed file is noticed).

PP-OCR reads Chinese far better than Tesseract (handwriting, low-resolution print, photos:
docs/benchmarks.md) but returns lines without a reading order; :mod:`tasks.ocr.layout`
gives them one, and this module writes the hOCR and the searchable PDF page Tesseract
would have written, so both engines' outputs are alike downstream.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from tasks import tools
from tasks.hosted import EngineCrashed, EngineTimeout, Hosted
from tasks.ocr import layout
from tasks.ocr.model import EngineSpec, Line, PageResult, PreparedPage, Region, Word
from tasks.ocr.render import write_hocr, write_text_pdf

RAPIDOCR_VERSION = "3.10.0"
# (file in rapidocr/models, SHA-256 from RapidOCR's MODEL_LICENSES.md section 6)
MODELS = {
    "det": ("PP-OCRv6_det_small.onnx", "090f04abcd9d9a7498bc4ebf677e4cb9bdce1fe4197ddb7e529f1ef44e1ff94f"),
    "rec": ("PP-OCRv6_rec_small.onnx", "6f327246b50388f3c176ae304bd95767ea6dc0c9ae92153ef8cbe210b3c14884"),
    "cls": (
        "ch_ppocr_mobile_v2.0_cls_mobile.onnx",
        "e47acedf663230f8863ff1ab0e64dd2d82b838fceb5957146dab185a89d6215c",
    ),
}
TEXT_SCORE = 0.5  # RapidOCR's default: lines recognised with a lower score are dropped
# languages PP-OCR's Chinese recognition model reads (it reads Latin letters and digits too)
READS = {"chi_sim", "chi_tra", "chi_sim_vert", "chi_tra_vert", "eng"}


class PpOcrUnavailable(tools.MissingDependencyError):
    """PP-OCR (rapidocr with onnxruntime) or its bundled models are missing."""


def model_dir() -> Path:
    try:
        import rapidocr
    except ImportError as e:
        raise PpOcrUnavailable(
            "PP-OCR (the rapidocr package)", hint="run: bash scripts/setup   (it installs requirements.lock)"
        ) from e
    return Path(rapidocr.__file__).parent / "models"


@dataclass
class ModelCheck:
    role: str
    path: Path
    expected: str
    actual: str

    @property
    def ok(self) -> bool:
        return self.actual == self.expected


def check_models(*, hash_files: bool = True) -> list[ModelCheck]:
    """The bundled models with their expected and actual SHA-256 ('' when missing)."""
    folder = model_dir()
    checks = []
    for role, (name, expected) in MODELS.items():
        path = folder / name
        actual = ""
        if path.is_file():
            actual = _sha256(path) if hash_files else expected
        checks.append(ModelCheck(role, path, expected, actual))
    return checks


@lru_cache(maxsize=8)
def _sha256(path: Path) -> str:
    from tasks.models import file_sha256

    return file_sha256(path)


def version() -> str:
    try:
        installed = metadata.version("rapidocr")
    except metadata.PackageNotFoundError as e:
        raise PpOcrUnavailable(
            "PP-OCR (the rapidocr package)", hint="run: bash scripts/setup   (it installs requirements.lock)"
        ) from e
    return f"rapidocr {installed} PP-OCRv6 small"


def require() -> None:
    """Fail with one clear message when the engine or its models are not installed intact."""
    version()
    bad = [c for c in check_models() if not c.ok]
    if bad:
        names = ", ".join(f"{c.path.name} ({'missing' if not c.actual else 'SHA-256 differs'})" for c in bad)
        raise PpOcrUnavailable(
            f"intact PP-OCR models: {names}",
            hint="reinstall: .venv/bin/pip install --force-reinstall rapidocr==3.10.0",
        )


_lock = threading.Lock()
_engines: dict[int, Any] = {}


@lru_cache(maxsize=1)
def _libc() -> Any:
    """glibc, to keep the resident set near what the model really uses: a detection pass
    frees several hundred MB, which glibc would otherwise keep in per-thread arenas."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(-8, 2)  # M_ARENA_MAX: two arenas, not eight per core
        return libc
    except (OSError, AttributeError):
        return None


def _engine(threads: int) -> Any:
    """One RapidOCR instance per process (and thread count): the models load once, ~0.5 GB."""
    with _lock:
        if threads not in _engines:
            _libc()
            from rapidocr import RapidOCR
            from rapidocr.utils.process_img import map_boxes_to_original

            class _Recorder(RapidOCR):
                """RapidOCR reading lines from the page as given, and keeping the line
                classifier's verdicts of the last call (per thread).

                RapidOCR shrinks a page to at most 2,000 pixels a side before anything else,
                so its recogniser reads lines cut from the shrunken page: a 200-dpi book
                spread is read at ~140 dpi, a skewed one that deskew enlarged at less.
                PaddleOCR's own pipeline (``TextSystem``) detects on a reduced page but
                cuts the lines it recognises from the original image; so does this one.
                Detection memory stays that of the reduced page."""

                local = threading.local()

                def preprocess_img(self, ori_img: np.ndarray) -> Any:
                    padded = _thick_enough(ori_img, self.max_side_len)
                    img, op_record = super().preprocess_img(padded)
                    reduced = img.shape[0] < padded.shape[0]
                    self.local.detect_on = (img, padded.shape[:2]) if reduced else None
                    if reduced:  # detection alone gets the reduced page
                        return ori_img, {"preprocess": {"ratio_h": 1.0, "ratio_w": 1.0}}
                    return img, op_record

                def detect_and_crop(self, img: np.ndarray, op_record: dict[str, Any]) -> Any:
                    reduced, self.local.detect_on = self.local.detect_on, None
                    if reduced is None:
                        return super().detect_and_crop(img, op_record)
                    small, (before_h, before_w) = reduced
                    height, width = img.shape[:2]
                    ratios = {"ratio_h": before_h / small.shape[0], "ratio_w": before_w / small.shape[1]}
                    record = {"preprocess": ratios}
                    _, det = super().detect_and_crop(small, record)
                    boxes = np.asarray(det.boxes, np.float32)  # never None: RapidOCR raises then
                    det.boxes = map_boxes_to_original(boxes, record, height, width)
                    op_record["padding_1"] = {"top": 0, "left": 0}
                    return self.crop_text_regions(img, det.boxes), det

                def cls_and_rotate(self, img: list[np.ndarray]) -> Any:
                    """The classifier votes; no line is turned on its own verdict. The
                    page is turned as a whole when most lines say it is upside down
                    (:func:`tasks.ocr.pipeline`), because one line's verdict is often wrong:
                    PaddleOCR states 95.5-98.9 % accuracy for its line orientation models,
                    and on an upright book spread this one turned a body line over (score
                    0.94, above its 0.9 threshold) and read it as a single character."""
                    _, verdicts = super().cls_and_rotate(img)
                    return img, verdicts

                def run_ocr_steps(self, img: np.ndarray, op_record: dict[str, Any]) -> Any:
                    det, cls, rec, crops = super().run_ocr_steps(img, op_record)
                    self.local.cls = list(cls.cls_res or [])
                    return det, cls, rec, crops

            folder = model_dir()
            _engines[threads] = _Recorder(
                params={
                    "Global.log_level": "error",
                    "Global.return_word_box": True,
                    "Global.text_score": 0.0,  # filtered here, keeping lines and words aligned
                    "Det.model_path": str(folder / MODELS["det"][0]),
                    "Rec.model_path": str(folder / MODELS["rec"][0]),
                    "Cls.model_path": str(folder / MODELS["cls"][0]),
                    "EngineConfig.onnxruntime.intra_op_num_threads": threads,
                    "EngineConfig.onnxruntime.inter_op_num_threads": 1,
                }
            )
        return _engines[threads]


MIN_REDUCED_SIDE = 48  # pixels: RapidOCR rounds reduced sides to 32s and refuses a 0


def _thick_enough(img: np.ndarray, max_side: float) -> np.ndarray:
    """The page, with white added below (or to the right of) a long thin strip — a ledger
    line, a cropped caption — that RapidOCR's reduction to ``max_side`` would make thinner
    than it can round to (it fails with no message). Added at the far edge, the padding
    moves no coordinate, and it is only seen by detection."""
    height, width = img.shape[:2]
    long, short = max(height, width), min(height, width)
    needed = -(-long * MIN_REDUCED_SIDE // int(max_side))  # ceiling
    if long <= max_side or short >= needed:
        return img
    pad = ((0, needed - height), (0, 0)) if width >= height else ((0, 0), (0, needed - width))
    return np.pad(img, (*pad, (0, 0))[: img.ndim], constant_values=255)


def _bbox(quad: Any, factor: float, width: int, height: int) -> tuple[int, int, int, int]:
    pts = np.asarray(quad, dtype=np.float64).reshape(-1, 2) * factor
    x0, y0 = pts.min(axis=0)
    x1, y1 = pts.max(axis=0)
    return (
        max(0, round(x0)),
        max(0, round(y0)),
        min(width, max(round(x1), round(x0) + 1)),
        min(height, max(round(y1), round(y0) + 1)),
    )


def _squash(text: str) -> str:
    return "".join(text.split())


class Reader:
    """PP-OCR's models in the engine's child process (``tasks.hosted``): one pass over a
    page image, answered as plain lists (text, score, quadrilateral per line; the words of
    each line; the orientation classifier's verdicts)."""

    def __init__(self, threads: int) -> None:
        self.engine = _engine(threads)

    def read(self, image: str) -> dict[str, Any]:
        with Image.open(image) as img:
            rgb = np.asarray(img.convert("RGB"))[:, :, ::-1]  # RapidOCR works in BGR
        result = self.engine(np.ascontiguousarray(rgb))
        del rgb
        verdicts = [(str(label), float(score)) for label, score in getattr(self.engine.local, "cls", [])]
        libc = _libc()
        if libc is not None:
            libc.malloc_trim(0)  # give the pass's memory back before the next page

        def points(quad: Any) -> list[list[float]] | None:
            return None if quad is None else np.asarray(quad, dtype=np.float64).reshape(-1, 2).tolist()

        return {
            "txts": [str(t) for t in result.txts or ()],
            "scores": [float(x) for x in result.scores or ()],
            "boxes": [points(q) for q in (result.boxes if result.boxes is not None else [])],
            "words": [
                [
                    (str(w[0]), float(w[1]), points(w[2]))
                    for w in group
                    if isinstance(w, tuple | list) and len(w) == 3
                ]
                for group in (result.word_results or () if result.txts else ())
                if isinstance(group, tuple | list)
            ],
            "verdicts": verdicts,
        }


_hosts: dict[int, Hosted] = {}


class PpOcrEngine:
    """PP-OCRv6 small on onnxruntime. Pages run in parallel for everything around the model
    (rendering, deskew, page images, hOCR, PDF), but the model runs one page at a time on
    ``workers`` threads (at most the cores): the same throughput as pages side by side, and
    the memory of one inference instead of one per page (a detection pass on a large scan
    takes several hundred MB)."""

    name = "ppocr"

    def __init__(self, workers: int = 1) -> None:
        self.threads = max(1, min(os.cpu_count() or 1, workers))
        # pages in the works at once: one in the model, one being prepared beside it
        self.ahead = 2

    def version(self) -> str:
        return version()

    def recognize(self, page: PreparedPage, *, languages: str, timeout: float, out_base: Path) -> PageResult:
        """One page, read by the models in their child process within ``timeout`` seconds:
        past it the child is stopped (onnxruntime cannot be interrupted) and the page fails
        with the reason; the next page starts a fresh child."""
        with _lock:
            host = _hosts.setdefault(
                self.threads, Hosted("PP-OCR", "tasks.ocr.ppocr:Reader", (self.threads,))
            )
        try:
            result = host.call("read", str(page.image), seconds=timeout, doing=f"reading page {page.page_no}")
        except EngineTimeout as e:
            raise tools.ToolError(
                f"PP-OCR of page {page.page_no} timed out after {timeout:.0f} s: stopped"
            ) from e
        except EngineCrashed as e:  # onnxruntime and OpenCV raise their own types
            raise tools.ToolError(f"PP-OCR of page {page.page_no} failed: {e.message}") from e
        factor = 1 / page.scale
        texts = result["txts"]
        scores = result["scores"]
        quads = result["boxes"]
        word_groups = result["words"]
        verdicts = result["verdicts"]
        lines: list[Line] = []
        unread: list[Region] = []
        g = 0
        for text, score, quad in zip(texts, scores, quads, strict=False):
            group = None
            if g < len(word_groups) and _squash("".join(w[0] for w in word_groups[g])) == _squash(text):
                group, g = word_groups[g], g + 1
            box = _bbox(quad, factor, page.width, page.height)
            if score < TEXT_SCORE or not text.strip():
                # detected and not read: a stamp, a number printed sideways in a margin,
                # handwriting. Not text of the page, but a reviewer must look at it.
                if box[2] > box[0] and box[3] > box[1]:
                    unread.append(Region(box, round(float(score), 3), text.strip()))
                continue
            words = [
                Word(
                    w_text.strip(),
                    _bbox(w_box, factor, page.width, page.height),
                    round(float(w_score) * 100, 2),
                )
                for w_text, w_score, w_box in (group or ())
                if w_text.strip() and w_box is not None
            ] or [Word(text.strip(), box, round(float(score) * 100, 2))]
            lines.append(Line(text.strip(), box, round(float(score) * 100, 2), words))
        vertical = layout.is_vertical([ln.bbox for ln in lines], [ln.text for ln in lines])
        order = layout.page_order([ln.bbox for ln in lines], [ln.text for ln in lines], vertical=vertical)
        lines = [lines[i] for i in order]
        confs = [w.conf for ln in lines for w in ln.words]
        # each line votes with the classifier's label, however sure (it turns a line itself
        # only above its threshold; a page is judged by most of its lines)
        turned = sum(1 for label, _ in verdicts if str(label) == "180")
        result_page = PageResult(
            page_no=page.page_no,
            text="\n".join(ln.text for ln in lines),
            lines=lines,
            width=page.width,
            height=page.height,
            mean_conf=round(sum(confs) / len(confs), 2) if confs else None,
            status="ok" if lines else "empty",
            rotation=page.rotation,
            skew=page.skew,
            image=page.view,
            vertical=vertical,
            # most lines had to be turned over to be read: the page is upside down
            turn=180 if verdicts and turned * 2 > len(verdicts) else 0,
            unread=unread,
        )
        dpi = round((page.dpi or 300) / page.scale)
        result_page.hocr = write_hocr(result_page, out_base.with_suffix(".hocr"), system=self.version())
        result_page.pdf = write_text_pdf(result_page, out_base.with_suffix(".pdf"), dpi=dpi)
        return result_page


def _options(languages: str, dpi: int, osd: bool, deskew: bool) -> dict[str, object]:
    return {
        "languages": languages, "dpi": dpi, "osd": osd, "deskew": deskew,
        "text_score": TEXT_SCORE, "reading_order": "xy-cut 1, body first",
    }  # fmt: skip


CHINESE = frozenset({"chi_sim", "chi_tra", "chi_sim_vert", "chi_tra_vert"})


SPEC = EngineSpec(
    name="ppocr",
    reads=lambda langs: langs <= READS,
    # Chinese in any script or direction, with English beside it: read far better than
    # Tesseract reads it (docs/benchmarks.md)
    preferred=lambda langs: bool(langs & CHINESE) and langs <= READS,
    make=PpOcrEngine,
    require=lambda languages: require(),
    options=_options,
    label=lambda version: version,
)
