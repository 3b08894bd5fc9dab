from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="session", autouse=True)
def prefect_backend() -> Iterator[None]:
    """Flows run against a temporary Prefect backend, as in production but throw-away."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


INTERVIEW = "J019-LY·2019·Y-007"


def case_files(folder: Path) -> Path:
    """A batch with a manifest grouping files into items: three page images of one record
    (件号 A1, 题名 会议记录) and the two parts of one interview (档号 ``INTERVIEW``)."""
    from tests.conftest import SAMPLES

    folder.mkdir()
    page = (SAMPLES / "phototest.tif").read_bytes()
    for n in (1, 2, 3):
        (folder / f"p{n}.tif").write_bytes(page + bytes([n]))  # distinct content, same image
    shutil.copy(SAMPLES / "寄语.wav", folder / "part1.wav")
    shutil.copy(SAMPLES / "房地产中介协会.wav", folder / "part2.wav")
    (folder / "manifest.csv").write_text(
        "文件名,件号,档号,题名\n"
        "p1.tif,A1,,会议记录\np2.tif,A1,,\np3.tif,A1,,\n"
        f"part1.wav,,{INTERVIEW},访谈\npart2.wav,,{INTERVIEW},\n",
        encoding="utf-8",
    )
    return folder
