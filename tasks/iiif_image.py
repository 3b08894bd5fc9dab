"""IIIF Image API 3.0 requests on one source image: parsing, validation and rendering.

Level 1 (regions by pixels and ``square``, sizes ``w,``, ``,h``, ``w,h``, ``max``) plus
regions and sizes by percent, ``!w,h``, rotation by 90° steps, the ``color`` and ``gray``
qualities and PNG output.

Memory stays bounded by the request, not by the scan: the source is a baseline JPEG (a
PNG is converted once, when it enters the cache), the region is cut out of it by
``jpegtran -crop`` without decoding the rest, and the cut is decoded at the smallest
power-of-two reduction that still covers the requested size (libjpeg's scaled decoding,
PIL ``draft``). Rendered tiles are cached by the caller.
"""

from __future__ import annotations

import io
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from configs.errors import BadInputError
from tasks.formats import MAX_PIXELS

MAX_SIDE = 4096  # largest width or height served (info.json maxWidth/maxHeight)
TILE = 512
QUALITIES = ("default", "color", "gray")
FORMATS = {"jpg": ("JPEG", "image/jpeg"), "png": ("PNG", "image/png")}
# nine digits are more than any image has pixels; longer numbers are refused before they are
# read (int() of 5,000 digits raises, float() of them is inf)
_NUM = r"\d{1,9}(?:\.\d{1,9})?"
_INT = r"\d{1,9}"


class IiifRequestError(BadInputError):
    """A request the Image API refuses: 400 (syntax) or 501 (not supported), per request."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status
        self.http_status = status


@dataclass(frozen=True)
class Request:
    region: tuple[int, int, int, int]  # x, y, w, h in source pixels
    size: tuple[int, int]  # output before rotation
    rotation: int
    quality: str
    fmt: str


def parse(
    region: str,
    size: str,
    rotation: str,
    quality: str,
    fmt: str,
    width: int,
    height: int,
    *,
    upscale: bool = True,
) -> Request:
    """The request for a source of ``width`` × ``height``; raises IiifRequestError.
    Without ``upscale`` (public visitors) no output is larger than the region it shows:
    an upscaled image tells nothing new and costs CPU for every new size asked."""
    x, y, w, h = _region(region, width, height)
    out = _size(size, w, h)
    if not upscale and (out[0] > w or out[1] > h):
        raise IiifRequestError("sizes larger than the source are not served here", 400)
    if rotation.startswith("!"):
        raise IiifRequestError("mirroring is not supported", 501)
    if rotation not in ("0", "90", "180", "270"):
        status = 501 if re.fullmatch(_NUM, rotation) and float(rotation) < 360 else 400
        raise IiifRequestError("rotation must be 0, 90, 180 or 270", status)
    if quality not in QUALITIES:
        raise IiifRequestError(f"quality {quality!r} is not one of {', '.join(QUALITIES)}")
    if fmt not in FORMATS:
        raise IiifRequestError(f"format {fmt!r} is not jpg or png", 400)
    return Request((x, y, w, h), out, int(rotation), quality, fmt)


def _region(region: str, width: int, height: int) -> tuple[int, int, int, int]:
    if region == "full":
        return 0, 0, width, height
    if region == "square":
        side = min(width, height)
        return (width - side) // 2, (height - side) // 2, side, side
    pct = region.startswith("pct:")
    parts = region[4:].split(",") if pct else region.split(",")
    if len(parts) != 4 or not all(re.fullmatch(_NUM if pct else _INT, p) for p in parts):
        raise IiifRequestError(f"region {region!r} is not full, square, x,y,w,h or pct:x,y,w,h")
    values = [float(p) for p in parts]
    if pct:
        scale = (width / 100, height / 100, width / 100, height / 100)
        values = [v * k for v, k in zip(values, scale, strict=True)]
    x, y, w, h = (round(v) for v in values)
    if w <= 0 or h <= 0 or x >= width or y >= height:
        raise IiifRequestError("the region is empty or outside the image")
    return x, y, min(w, width - x), min(h, height - y)


def _size(size: str, w: int, h: int) -> tuple[int, int]:
    up = size.startswith("^")
    spec = size[1:] if up else size
    if spec == "max":
        scale = min(1.0, MAX_SIDE / max(w, h)) if not up else MAX_SIDE / max(w, h)
        out = (max(1, round(w * scale)), max(1, round(h * scale)))
    elif spec.startswith("pct:") and re.fullmatch(_NUM, spec[4:]):
        scale = float(spec[4:]) / 100
        out = (max(1, round(w * scale)), max(1, round(h * scale)))
    else:
        confined = spec.startswith("!")
        body = spec[1:] if confined else spec
        m = re.fullmatch(r"(\d{0,9}),(\d{0,9})", body)
        if not m or (not m[1] and not m[2]) or (confined and not (m[1] and m[2])):
            raise IiifRequestError(f"size {size!r} is not max, w,, ,h, w,h, !w,h or pct:n")
        if confined:
            scale = min(int(m[1]) / w, int(m[2]) / h)
            out = (max(1, round(w * scale)), max(1, round(h * scale)))
        elif m[1] and m[2]:
            out = (int(m[1]), int(m[2]))
        elif m[1]:
            out = (int(m[1]), max(1, round(h * int(m[1]) / w)))
        else:
            out = (max(1, round(w * int(m[2]) / h)), int(m[2]))
    if out[0] <= 0 or out[1] <= 0:
        raise IiifRequestError("the size is empty")
    if not up and (out[0] > w or out[1] > h):
        raise IiifRequestError("upscaling needs ^ before the size")
    if max(out) > MAX_SIDE:
        raise IiifRequestError(f"sizes above {MAX_SIDE} pixels are not served")
    return out


def jpeg_source(path: Path, dest: Path) -> tuple[int, int]:
    """A baseline JPEG of the source for cutting (a JPEG is used as it is); its size."""
    with Image.open(path) as img:
        if img.width * img.height > MAX_PIXELS:
            raise BadInputError(f"image too large to serve: {img.width} x {img.height} px")
        if img.format == "JPEG" and img.mode in ("L", "RGB") and not img.info.get("progressive"):
            if dest != path:
                dest.write_bytes(path.read_bytes())
            return img.width, img.height
        converted = img.convert("L" if img.mode in ("1", "L", "LA", "I", "I;16") else "RGB")
        converted.save(dest, "JPEG", quality=90)
        return converted.width, converted.height


def render(source: Path, req: Request) -> bytes:
    """The requested image from a baseline JPEG ``source``."""
    x, y, w, h = req.region
    with Image.open(source) as probe:
        full = (x, y, w, h) == (0, 0, probe.width, probe.height)
    if full:
        data = source.read_bytes()
    else:
        # jpegtran cuts on the JPEG's block grid, starting up to one block (8 or 16 px) early
        done = subprocess.run(
            ["jpegtran", "-crop", f"{w}x{h}+{x}+{y}", "-copy", "none", str(source)],
            capture_output=True,
            timeout=60,
            check=False,
        )
        if done.returncode != 0:
            raise BadInputError(f"cannot cut the region: {done.stderr.decode(errors='replace')[:200]}")
        data = done.stdout
    with Image.open(io.BytesIO(data)) as img:
        ox, oy = img.width - w, img.height - h  # how far the cut started before the region
        reduce = 1
        while reduce < 8 and w / (reduce * 2) >= req.size[0] and h / (reduce * 2) >= req.size[1]:
            reduce *= 2
        full_width = img.width
        if reduce > 1:
            img.draft(img.mode, (max(1, img.width // reduce), max(1, img.height // reduce)))
        factor = img.width / full_width
        box = (round(ox * factor), round(oy * factor), img.width, img.height)
        cut = img.crop(box) if box != (0, 0, img.width, img.height) else img
        out = cut.resize(req.size, Image.Resampling.LANCZOS) if cut.size != req.size else cut.copy()
    if req.rotation:
        out = out.rotate(-req.rotation, expand=True)
    if req.quality == "gray":
        out = out.convert("L")
    elif req.quality == "color" and out.mode != "RGB":
        out = out.convert("RGB")
    buffer = io.BytesIO()
    pil_format = FORMATS[req.fmt][0]
    out.save(buffer, pil_format, **({"quality": 85} if pil_format == "JPEG" else {}))
    return buffer.getvalue()
