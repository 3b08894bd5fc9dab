"""What every OCR engine hands back: pages of lines of words with boxes and confidences,
and the interface an engine implements."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from configs.errors import BadInputError


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
class Region:
    """Text the detector found that recognition left unread: no characters, or a reading
    below the engine's own score threshold. Its text (if any) is not trusted and not
    indexed; screening asks a reviewer about it, since it is still printed on the image."""

    bbox: BBox
    score: float  # the recognizer's score, 0..1
    text: str = ""


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
    vertical: bool = False  # the lines are vertical (CJK columns, read right to left)
    turn: int = 0  # clockwise degrees the engine found the page still needs (upside down: 180)
    unread: list[Region] = field(default_factory=list)  # detected text regions not read


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
    ahead: int  # pages in the works at once; 0: two per worker

    def version(self) -> str: ...

    def recognize(
        self, page: PreparedPage, *, languages: str, timeout: float, out_base: Path
    ) -> PageResult: ...


@dataclass(frozen=True)
class EngineSpec:
    """What an OCR engine module declares about its engine (``tasks.ocr.engines``)."""

    name: str
    reads: Callable[[frozenset[str]], bool]  # whether it reads every one of these languages
    preferred: Callable[[frozenset[str]], bool]  # whether ``auto`` gives it these languages
    make: Callable[[int], OcrEngine]  # the engine for this many page workers
    require: Callable[[str], None]  # raises MissingDependencyError when it cannot read these
    options: Callable[[str, int, bool, bool], dict[str, object]]  # languages, dpi, osd, deskew
    label: Callable[[str], str]  # its version → how a page's provenance names the engine
