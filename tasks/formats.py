"""Identify a file's format from its content (magic bytes), never from its name."""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from configs.errors import BadInputError

MAX_PIXELS = 175_000_000  # e.g. 50,000 x 50,000 px is refused before decoding (PIL refuses beyond ~179 M)


class UnsupportedFormat(BadInputError):
    """The content is empty, unknown or of a type Lantai does not process."""


@dataclass(frozen=True)
class Format:
    kind: str  # image | pdf | audio | video
    mime: str
    name: str


def _mp4_family(head: bytes) -> Format:
    brand = head[8:12]
    if brand in (b"M4A ", b"M4B ", b"M4P "):
        return Format("audio", "audio/mp4", "MPEG-4 audio")
    if brand == b"qt  ":
        return Format("video", "video/quicktime", "QuickTime")
    return Format("video", "video/mp4", "MPEG-4")


def identify(path: Path) -> Format:
    """The format of ``path`` from its first bytes. Raises UnsupportedFormat with the reason."""
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            head = fh.read(64)
    except OSError as e:
        raise UnsupportedFormat(f"cannot read {path.name}: {e.strerror}") from e
    if size == 0:
        raise UnsupportedFormat("empty file (0 bytes)")
    checks: list[tuple[bool, Format]] = [
        (head.startswith(b"%PDF-"), Format("pdf", "application/pdf", "PDF")),
        (head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"), Format("image", "image/tiff", "TIFF")),
        (head.startswith(b"\xff\xd8\xff"), Format("image", "image/jpeg", "JPEG")),
        (head.startswith(b"\x89PNG\r\n\x1a\n"), Format("image", "image/png", "PNG")),
        (
            head.startswith(b"\x00\x00\x00\x0cjP  \r\n\x87\n") or head.startswith(b"\xffO\xffQ"),
            Format("image", "image/jp2", "JPEG 2000"),
        ),
        (head[:4] == b"RIFF" and head[8:12] == b"WAVE", Format("audio", "audio/wav", "WAVE")),
        (head[:4] == b"RIFF" and head[8:12] == b"AVI ", Format("video", "video/x-msvideo", "AVI")),
        (head.startswith(b"fLaC"), Format("audio", "audio/flac", "FLAC")),
        (
            head.startswith(b"ID3") or (head[0] == 0xFF and head[1] & 0xE0 == 0xE0 and head[1] & 0x06 != 0),
            Format("audio", "audio/mpeg", "MP3"),
        ),
        (head.startswith(b"OggS"), Format("audio", "audio/ogg", "Ogg")),
        (head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"), Format("audio", "audio/aiff", "AIFF")),
        (head.startswith(b"\x1aE\xdf\xa3"), Format("video", "video/x-matroska", "Matroska/WebM")),
        (head.startswith(b"0&\xb2u\x8ef\xcf\x11"), Format("video", "video/x-ms-asf", "ASF/WMV")),
    ]
    for matched, fmt in checks:
        if matched:
            return fmt
    if head[4:8] == b"ftyp":
        return _mp4_family(head)
    if head.startswith(b"BM"):
        return Format("image", "image/bmp", "BMP")
    raise UnsupportedFormat(
        f"unsupported or unrecognised format (first bytes {head[:8].hex()})",
        hint="Lantai takes TIFF, JPEG, PNG, JPEG 2000, BMP, PDF and common audio/video formats",
    )


MIN_BITS_PER_SECOND = 1000  # below any speech or music codec's lowest rate


def check_readable(path: Path, fmt: Format) -> None:
    """Cheaply prove the content decodes (first image frame, PDF pages, media streams).

    Raises UnsupportedFormat with the reason: truncated or corrupt files are caught at
    ingest and quarantined instead of failing later in enrichment.
    """
    if fmt.kind == "image":
        _check_image(path)
    elif fmt.kind == "pdf":
        _check_pdf(path)
    else:
        _check_media(path, fmt)


def _check_image(path: Path) -> None:
    """Header and layout, not every pixel: a PNG's chunks are walked to its end, a JPEG is
    decoded at 1/8 scale (every compressed byte is still read, so a cut file fails), a
    TIFF's strips or tiles must lie inside the file; other formats are decoded. Damage
    inside compressed data that leaves the layout intact surfaces at enrichment instead."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            if img.width * img.height > MAX_PIXELS:
                raise UnsupportedFormat(f"image of {img.width} x {img.height} px is too large to process")
            if img.format == "PNG":
                _check_png_layout(path)
            elif img.format == "TIFF":
                _check_tiff_layout(img, path.stat().st_size)
            else:
                if img.format == "JPEG":
                    img.draft(img.mode, (max(1, img.width // 8), max(1, img.height // 8)))
                img.load()
    except UnsupportedFormat:
        raise
    except Image.DecompressionBombError as e:
        raise UnsupportedFormat(f"image too large to decode safely: {e}") from e
    except (OSError, SyntaxError, ValueError, struct.error) as e:
        raise UnsupportedFormat(f"corrupt or truncated image: {e}") from e


def _check_png_layout(path: Path) -> None:
    """Every chunk whole, image data present, and the closing IEND chunk reached."""
    size = path.stat().st_size
    seen_data = False
    with path.open("rb") as fh:
        fh.seek(8)  # the signature, checked by PIL
        while True:
            header = fh.read(8)
            if len(header) < 8:
                raise UnsupportedFormat("truncated PNG: it ends before its IEND chunk")
            length, kind = struct.unpack(">I4s", header)
            end = fh.tell() + length + 4  # data and CRC
            if end > size:
                raise UnsupportedFormat(f"truncated PNG: its {kind.decode('latin-1')} chunk is cut short")
            seen_data = seen_data or kind == b"IDAT"
            if kind == b"IEND":
                break
            fh.seek(end)
    if not seen_data:
        raise UnsupportedFormat("corrupt PNG: no image data")


def _check_tiff_layout(img: Any, size: int) -> None:
    """The first page's strips (or tiles) lie inside the file."""
    tags = img.tag_v2
    offsets = tags.get(273) or tags.get(324)  # StripOffsets, TileOffsets
    counts = tags.get(279) or tags.get(325)  # StripByteCounts, TileByteCounts
    if not offsets or not counts:
        img.load()  # an unusual layout: decode it
        return
    offsets = offsets if isinstance(offsets, tuple | list) else (offsets,)
    counts = counts if isinstance(counts, tuple | list) else (counts,)
    if len(offsets) != len(counts) or any(o + c > size for o, c in zip(offsets, counts, strict=True)):
        raise UnsupportedFormat("truncated TIFF: its image data runs past the end of the file")


PDF_HINT = "deposit an unencrypted, undamaged copy"


def pdf_open_error(path: Path) -> str:
    """Why PDFium could not open ``path``. PDFium's own error code can be stale from an
    earlier document, so encryption is read from the file: an /Encrypt entry in its trailer."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        head = fh.read(1 << 20)
        fh.seek(max(0, size - (1 << 20)))
        tail = fh.read()
    if b"/Encrypt" in head or b"/Encrypt" in tail:
        return "encrypted PDF (password required)"
    page_tree = re.search(rb"/Type\s*/Pages\b", head) and not re.search(rb"/Type\s*/Page\b", head)
    if size < (2 << 20) and page_tree and re.search(rb"/Count\s+0\b", head):
        return "the PDF has no pages (its page tree is empty)"
    return "corrupt or unreadable PDF"


def _check_pdf(path: Path) -> None:
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(path)
    except pdfium.PdfiumError as e:
        raise UnsupportedFormat(pdf_open_error(path), hint=PDF_HINT) from e
    try:
        if len(pdf) == 0:
            raise UnsupportedFormat("the PDF has no pages")
    finally:
        pdf.close()


def _check_media(path: Path, fmt: Format) -> None:
    from tasks.media import MediaInputError, probe

    try:
        info = probe(path)
    except MediaInputError as e:
        raise UnsupportedFormat(e.message) from e
    if not info.audio and not info.video:
        raise UnsupportedFormat(f"{fmt.name} file without audio or video streams")
    if info.duration <= 0:
        raise UnsupportedFormat(f"{fmt.name} file with no duration (truncated?)")
    size = path.stat().st_size
    if info.duration > 1 and size * 8 / info.duration < MIN_BITS_PER_SECOND:
        # the header declares far more audio than the bytes can hold: no codec in use
        # stores speech in under 1 kbit/s, so the file was cut short
        raise UnsupportedFormat(
            f"truncated {fmt.name} file: {size:,} bytes for the {info.duration:.1f} s its header declares",
            hint="deposit the complete file",
        )
