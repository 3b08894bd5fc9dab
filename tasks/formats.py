"""Identify a file's format from its content (magic bytes), never from its name."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from configs.errors import BadInputError


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
        (head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"),
         Format("image", "image/tiff", "TIFF")),
        (head.startswith(b"\xff\xd8\xff"), Format("image", "image/jpeg", "JPEG")),
        (head.startswith(b"\x89PNG\r\n\x1a\n"), Format("image", "image/png", "PNG")),
        (head.startswith(b"\x00\x00\x00\x0cjP  \r\n\x87\n") or head.startswith(b"\xffO\xffQ"),
         Format("image", "image/jp2", "JPEG 2000")),
        (head[:4] == b"RIFF" and head[8:12] == b"WAVE", Format("audio", "audio/wav", "WAVE")),
        (head[:4] == b"RIFF" and head[8:12] == b"AVI ", Format("video", "video/x-msvideo", "AVI")),
        (head.startswith(b"fLaC"), Format("audio", "audio/flac", "FLAC")),
        (head.startswith(b"ID3") or (head[0] == 0xFF and head[1] & 0xE0 == 0xE0 and head[1] & 0x06 != 0),
         Format("audio", "audio/mpeg", "MP3")),
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
