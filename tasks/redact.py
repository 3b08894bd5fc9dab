"""Redacted access copies for the public: page images with boxes blacked out, recordings
with spans silenced. Files in, files out."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageDraw

from tasks import tools

PAD = 2  # pixels around each box, so anti-aliased glyph edges are covered too


def black_out(image: Path, boxes: Sequence[Sequence[int]], dest: Path) -> Path:
    """Copy ``image`` to ``dest`` (PNG) with each [x0, y0, x1, y1] box filled black."""
    with Image.open(image) as im:
        im.load()
        page = im.convert("RGB")
    draw = ImageDraw.Draw(page)
    for x0, y0, x1, y1 in boxes:
        draw.rectangle([x0 - PAD, y0 - PAD, x1 + PAD, y1 + PAD], fill=(0, 0, 0))
    page.save(dest, format="PNG", optimize=True)
    return dest


def silence(media: Path, spans: Sequence[tuple[float, float]], dest: Path, *, video: bool = False) -> Path:
    """Copy an access copy with the audio muted during each (start, end) span, re-encoding
    the audio only (video is copied as is)."""
    enable = "+".join(f"between(t,{max(0.0, s):.3f},{e:.3f})" for s, e in spans) or "0"
    args = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(media)]
    args += ["-af", f"volume=enable='{enable}':volume=0", "-c:a", "aac", "-b:a", "64k"]
    args += ["-c:v", "copy"] if video else ["-vn"]
    args += ["-movflags", "+faststart", "-f", "mp4", str(dest)]
    tools.run(args, timeout=3600, what="silencing redacted spans")
    return dest
