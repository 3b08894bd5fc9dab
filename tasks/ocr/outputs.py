"""Outputs of a whole file: the pages' searchable PDFs joined, their hOCR in one document."""

from __future__ import annotations

import io
import re
from pathlib import Path

from tasks import tools
from tasks.ocr.model import PageResult

MERGE_CHUNK = 100  # page PDFs joined per pdfunite call


def merge_pdfs(parts: list[Path], dest: Path, *, timeout_per_page: float = 10) -> Path:
    """Join one-page PDFs into ``dest`` with poppler's pdfunite, in chunks so that neither
    memory nor open files grow with the page count."""
    if len(parts) == 1:
        dest.write_bytes(parts[0].read_bytes())
        return dest
    level, round_no = list(parts), 0
    while len(level) > 1:
        merged = []
        for start in range(0, len(level), MERGE_CHUNK):
            chunk = level[start : start + MERGE_CHUNK]
            if len(chunk) == 1:
                merged.append(chunk[0])
                continue
            out = dest.with_name(f".merge-{round_no}-{start}.pdf")
            tools.run(
                ["pdfunite", *map(str, chunk), str(out)],
                timeout=60 + timeout_per_page * len(chunk),
                what="joining PDF pages",
            )
            merged.append(out)
        level, round_no = merged, round_no + 1
    level[0].replace(dest)
    for leftover in dest.parent.glob(".merge-*.pdf"):
        leftover.unlink()
    return dest


class HocrWriter:
    """One hOCR document written page by page to a file (page numbers and ids made unique)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = 0
        self._fh: io.TextIOWrapper | None = None

    def __enter__(self) -> HocrWriter:
        self._fh = self.path.open("w", encoding="utf-8")
        return self

    def add(self, page: PageResult) -> None:
        if page.hocr is None or not page.hocr.exists() or self._fh is None:
            return
        text = page.hocr.read_text("utf-8")
        if self.count == 0:
            self._fh.write(text.split("<body>", 1)[0] + "<body>\n")
        body = text.split("<body>", 1)[-1].rsplit("</body>", 1)[0]
        body = body.replace("ppageno 0", f"ppageno {page.page_no - 1}")
        body = re.sub(
            r"id='(page|block|par|line|word|carea|photo|separator)_1(\b|_)",
            rf"id='\g<1>_{page.page_no}\g<2>",
            body,
        )
        self._fh.write(body)
        self.count += 1

    def __exit__(self, *exc: object) -> None:
        if self._fh is not None:
            if self.count:
                self._fh.write("</body>\n</html>\n")
            self._fh.close()
