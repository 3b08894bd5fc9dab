from __future__ import annotations

from pathlib import Path

import pytest

from tasks.formats import UnsupportedFormat, check_readable, identify
from tests.conftest import RESOURCES, SAMPLES


@pytest.mark.parametrize(
    ("name", "kind", "mime"),
    [
        ("phototest.tif", "image", "image/tiff"),
        ("网络支付.png", "image", "image/png"),
        ("jfk 1961 inaugural.flac", "audio", "audio/flac"),
        ("房地产中介协会.wav", "audio", "audio/wav"),
    ],
)
def test_samples(name: str, kind: str, mime: str) -> None:
    fmt = identify(SAMPLES / name)
    assert (fmt.kind, fmt.mime) == (kind, mime)


def test_content_not_extension(tmp_path: Path) -> None:
    fake = tmp_path / "interview.wav"
    fake.write_text("this is a text file with a .wav name")
    with pytest.raises(UnsupportedFormat, match="unsupported"):
        identify(fake)
    renamed = tmp_path / "scan.mp3"
    renamed.write_bytes((SAMPLES / "网络支付.png").read_bytes())
    assert identify(renamed).mime == "image/png"
    assert identify(RESOURCES / "born_digital.pdf").kind == "pdf"


def test_empty_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.tif"
    empty.touch()
    with pytest.raises(UnsupportedFormat, match="empty"):
        identify(empty)


def _image(path: Path, fmt: str) -> Path:
    from PIL import Image, ImageDraw

    img = Image.new("L", (800, 600), 255)
    draw = ImageDraw.Draw(img)
    for y in range(0, 600, 20):
        draw.text((10, y), f"line {y}: structure, not every pixel", fill=0)
    img.save(path, format=fmt)
    return path


@pytest.mark.parametrize(("fmt", "suffix"), [("PNG", "png"), ("JPEG", "jpg"), ("TIFF", "tif")])
def test_cut_images_are_refused_whole_ones_pass(tmp_path: Path, fmt: str, suffix: str) -> None:
    """The cheap structure check still catches a file cut short, in every format it reads
    without a full decode; complete files pass."""
    whole = _image(tmp_path / f"whole.{suffix}", fmt)
    check_readable(whole, identify(whole))
    data = whole.read_bytes()
    for keep in (len(data) // 2, len(data) - 20):
        cut = tmp_path / f"cut-{keep}.{suffix}"
        cut.write_bytes(data[:keep])
        with pytest.raises(UnsupportedFormat, match=r"truncated|corrupt"):
            check_readable(cut, identify(cut))


def test_png_without_image_data(tmp_path: Path) -> None:
    whole = _image(tmp_path / "whole.png", "PNG")
    data = whole.read_bytes()
    start = data.index(b"IDAT") - 4  # length field of the first IDAT chunk
    end = data.index(b"IEND") - 4
    hollow = tmp_path / "hollow.png"
    hollow.write_bytes(data[:start] + data[end:])
    with pytest.raises(UnsupportedFormat, match=r"no image data|corrupt"):
        check_readable(hollow, identify(hollow))
