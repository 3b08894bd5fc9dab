"""Preparing a page for an engine: upright (EXIF), level (deskew), flattened to 8 bits, at a
resolution the engine reads well; the page image people see is made here too."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from tasks.ocr.model import PreparedPage

MIN_REAL_DPI = 100  # declared resolutions below this are not scanner resolutions
MAX_UPSCALE = 2.0
SMALL_TEXT_PX = 12  # lines lower than this (at the scan's resolution) are upsampled
MAX_SKEW = 5.0  # degrees searched by deskew
MIN_SKEW = 0.3  # smaller angles are left alone
PAGE_IMAGE_QUALITY = 85


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
