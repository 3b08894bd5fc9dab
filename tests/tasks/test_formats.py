from __future__ import annotations

from pathlib import Path

import pytest

from tasks.formats import UnsupportedFormat, identify
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
