"""Stand-ins for engines in a child process (tests of ``tasks.hosted``)."""

from __future__ import annotations

import os
import time
from typing import Any

from tasks.ocr.ppocr import Reader


class Sleepy:
    name = "sleepy"

    def __init__(self, *args: Any) -> None:
        self.calls = 0

    def work(self, seconds: float) -> int:
        time.sleep(seconds)
        self.calls += 1
        return os.getpid()

    def fail(self) -> None:
        raise ValueError("bad page")

    def die(self) -> None:
        os._exit(9)


class StuckOnPageTwo(Reader):
    """PP-OCR's reader, except that a page whose file name says ``stuck`` never finishes."""

    def read(self, image: str) -> dict[str, Any]:
        if "stuck" in image:
            while True:
                time.sleep(0.1)
        return super().read(image)
