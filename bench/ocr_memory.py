"""Peak memory of OCR on long scanned PDFs: it must not grow with the page count.

Builds image-only PDFs of N pages (one real page scan, referenced by every page, so the
file stays small) and runs Lantai's page-by-page OCR over each in a fresh process,
reporting the process's peak resident set (VmHWM) and the pages per minute.

    .venv/bin/python bench/ocr_memory.py [--pages 50 500 2000]
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parents[1]
PAGE = REPO / "samples" / "demo" / "phototest.tif"

CHILD = """
import os, sys, time
from pathlib import Path
sys.path.insert(0, {repo!r})
from tasks import ocr
work = Path(sys.argv[2]); parts = []; n = 0
with ocr.HocrWriter(work / "item.hocr") as hocr:
    src = Path(sys.argv[1])
    pages = ocr.ocr_pages(src, kind="pdf", languages="eng", workdir=work, workers=os.cpu_count())
    for page in pages:
        n += 1; hocr.add(page)
        if page.pdf: parts.append(page.pdf)
        if page.image: page.image.unlink()
        if page.hocr: page.hocr.unlink()
ocr.merge_pdfs(parts, work / "searchable.pdf")
status = Path("/proc/self/status").read_text()
print(n, next(l for l in status.splitlines() if l.startswith("VmHWM")).split()[1])
"""


def build_pdf(path: Path, pages: int) -> None:
    """An image-only PDF whose every page shows the same JPEG (one image object)."""
    img = Image.open(PAGE).convert("L")
    jpeg = io.BytesIO()
    img.save(jpeg, "JPEG", quality=90)
    data = jpeg.getvalue()
    w, h = img.size
    pw, ph = w * 72 / 200, h * 72 / 200  # 200 dpi
    objects: list[bytes] = []
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(pages))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode())
    objects.append(
        f"<< /Type /XObject /Subtype /Image /Width {w} /Height {h} /ColorSpace /DeviceGray "
        f"/BitsPerComponent 8 /Filter /DCTDecode /Length {len(data)} >>\nstream\n".encode()
        + data
        + b"\nendstream"
    )
    content = f"q {pw:.2f} 0 0 {ph:.2f} 0 0 cm /Im0 Do Q".encode()
    for i in range(pages):
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {pw:.2f} {ph:.2f}] "
            f"/Resources << /XObject << /Im0 3 0 R >> >> /Contents {5 + 2 * i} 0 R >>".encode()
        )
        objects.append(f"<< /Length {len(content)} >>\nstream\n".encode() + content + b"\nendstream")
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    out.write(b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets))
    out.write(f"trailer << /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    path.write_bytes(out.getvalue())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", type=int, nargs="+", default=[50, 500, 2000])
    args = ap.parse_args()
    print(f"{'pages':>6} {'peak RSS MB':>12} {'pages/min':>10}")
    for n in args.pages:
        with tempfile.TemporaryDirectory(prefix="lantai-ocr-mem-") as tmp:
            pdf = Path(tmp) / "long.pdf"
            build_pdf(pdf, n)
            work = Path(tmp) / "work"
            work.mkdir()
            start = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-c", CHILD.format(repo=str(REPO)), str(pdf), str(work)],
                capture_output=True,
                text=True,
                check=True,
            )
            seconds = time.perf_counter() - start
            count, hwm_kb = done.stdout.split()
            assert int(count) == n, done.stdout
            print(f"{n:6d} {int(hwm_kb) / 1024:12.0f} {60 * n / seconds:10.1f}")


if __name__ == "__main__":
    main()
