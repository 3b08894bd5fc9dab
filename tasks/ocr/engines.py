"""The OCR engines, each declared once in its own module (``SPEC``): what it reads, which
pages ``auto`` gives it, how it is made and checked, the options that decide its result,
and how provenance names its runs. ``REGISTRY`` holds them in order of preference for
``auto``; the settings, the manifest's ``OCR引擎`` column and the web's labels are checked
against it (``tests/tasks/test_ocr_engines.py``). A third engine is one module with a
``SPEC`` and its name in the line below."""

from __future__ import annotations

from tasks.ocr import ppocr, tesseract
from tasks.ocr.model import EngineSpec

REGISTRY: dict[str, EngineSpec] = {spec.name: spec for spec in (ppocr.SPEC, tesseract.SPEC)}
ENGINES: tuple[str, ...] = ("auto", *REGISTRY)
