"""hOCR and a searchable PDF page from recognised lines, for engines that do not write them
(Tesseract writes its own). Both follow what Tesseract writes, so downstream readers
(HocrWriter, pdfunite, the page view, search) cannot tell the engines apart:

- hOCR 1.2: ``ocr_page`` > ``ocr_line`` > ``ocrx_word`` with ``bbox`` and ``x_wconf``;
  every text escaped for HTML.
- PDF: the page image (the JPEG people see, embedded as it is) under an invisible text
  layer (text render mode 3) in Tesseract's GlyphLessFont (``pdf.ttf`` from its tessdata:
  every glyph blank, 500 units wide, Unicode in and out through an identity ToUnicode
  map). Each word is stretched (``Tz``) over its own box, so selecting, searching and
  copying land where the word is printed; vertical lines are set top to bottom.
"""

from __future__ import annotations

import glob
import html
import os
import zlib
from functools import lru_cache
from pathlib import Path

from PIL import Image

from tasks import tools
from tasks.ocr.model import Line, PageResult, Word

_HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"
    "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">
 <head>
  <title></title>
  <meta http-equiv="Content-Type" content="text/html;charset=utf-8"/>
  <meta name='ocr-system' content='{system}'/>
  <meta name='ocr-capabilities' content='ocr_page ocr_line ocrx_word ocrp_wconf'/>
 </head>
<body>
"""


def _b(box: tuple[int, int, int, int]) -> str:
    return "bbox {} {} {} {}".format(*box)


def write_hocr(page: PageResult, path: Path, *, system: str) -> Path:
    """One page of hOCR (ids ``page_1``, ``line_1_N``, ``word_1_N`` as Tesseract numbers
    them, so HocrWriter renumbers both alike)."""
    name = page.image.name if page.image is not None else ""
    out = [_HEAD.format(system=html.escape(system, quote=True))]
    out.append(
        f"  <div class='ocr_page' id='page_1' title='image \"{html.escape(name, quote=True)}\"; "
        f"{_b((0, 0, page.width, page.height))}; ppageno 0'>\n"
    )
    n_word = 0
    for n_line, line in enumerate(page.lines, 1):
        angle = "; textangle 90" if page.vertical else ""
        out.append(
            f"   <span class='ocr_line' id='line_1_{n_line}' title='{_b(line.bbox)}{angle}; "
            f"x_wconf {round(line.conf)}'>"
        )
        for word in line.words:
            n_word += 1
            out.append(
                f"<span class='ocrx_word' id='word_1_{n_word}' title='{_b(word.bbox)}; "
                f"x_wconf {round(word.conf)}'>{html.escape(word.text, quote=False)}</span> "
            )
        out.append("</span>\n")
    out.append("  </div>\n</body>\n</html>\n")
    path.write_text("".join(out), "utf-8")
    return path


@lru_cache(maxsize=1)
def glyphless_font() -> bytes:
    """Tesseract's GlyphLessFont (pdf.ttf), installed with its language data."""
    candidates = [os.environ.get("TESSDATA_PREFIX", "")]
    candidates += sorted(glob.glob("/usr/share/tesseract-ocr/*/tessdata"), reverse=True)
    candidates += ["/usr/share/tessdata", "/usr/local/share/tessdata"]
    for folder in candidates:
        if folder and (Path(folder) / "pdf.ttf").is_file():
            return (Path(folder) / "pdf.ttf").read_bytes()
    raise tools.MissingDependencyError(
        "Tesseract's pdf.ttf (its GlyphLessFont, for the searchable PDF)",
        hint="run: bash scripts/setup   (apt-get install tesseract-ocr)",
    )


_TO_UNICODE = b"""/CIDInit /ProcSet findresource begin
12 dict begin
begincmap
/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def
/CMapName /Adobe-Identify-UCS def
/CMapType 2 def
1 begincodespacerange
<0000> <FFFF>
endcodespacerange
1 beginbfrange
<0000> <FFFF> <0000>
endbfrange
endcmap
CMapName currentdict /CMap defineresource pop
end
end
"""


def _hex(text: str) -> str:
    return text.encode("utf-16-be").hex().upper()


def _num(v: float) -> str:
    return f"{v:.3f}".rstrip("0").rstrip(".") or "0"


def _word_ops(word: Word, text: str, k: float, page_h: float, *, vertical: bool) -> str:
    x0, y0, x1, y1 = (v * k for v in word.bbox)
    units = len(text.encode("utf-16-be")) // 2
    if units == 0 or x1 <= x0 or y1 <= y0:
        return ""
    if vertical:  # set downwards: the advance runs along −y, glyphs face right
        size = x1 - x0
        stretch = 100 * (y1 - y0) / (units * size * 0.5)
        matrix = f"0 -1 1 0 {_num(x0)} {_num(page_h - y0)} Tm"
    else:
        size = y1 - y0
        stretch = 100 * (x1 - x0) / (units * size * 0.5)
        matrix = f"1 0 0 1 {_num(x0)} {_num(page_h - y1)} Tm"
    return f"/F1 {_num(size)} Tf {_num(stretch)} Tz {matrix} <{_hex(text)}> Tj\n"


def _line_ops(line: Line, k: float, page_h: float, *, vertical: bool) -> str:
    ops = []
    for n, word in enumerate(line.words):
        text = word.text
        # a space after a word the line text separates from the next (Latin script), so a
        # copy or a search over the PDF sees the words apart
        if n + 1 < len(line.words) and f"{word.text} {line.words[n + 1].text}" in line.text:
            text += " "
        ops.append(_word_ops(word, text, k, page_h, vertical=vertical))
    return "".join(ops)


def write_text_pdf(page: PageResult, path: Path, *, dpi: int) -> Path | None:
    """The page as a one-page PDF: its image with the recognised text invisible on top."""
    if page.image is None or not page.image.exists():
        return None
    jpeg = page.image.read_bytes()
    with Image.open(page.image) as img:
        w_px, h_px, mode = img.width, img.height, img.mode
    colour = {"L": "/DeviceGray", "RGB": "/DeviceRGB", "CMYK": "/DeviceCMYK"}.get(mode)
    if colour is None:
        raise ValueError(f"page image mode {mode} cannot be embedded")
    k = 72 / dpi
    page_w, page_h = w_px * k, h_px * k
    text_ops = "".join(_line_ops(ln, k, page_h, vertical=page.vertical) for ln in page.lines)
    content = (
        f"q {_num(page_w)} 0 0 {_num(page_h)} 0 0 cm /Im1 Do Q\n"
        + (f"BT 3 Tr\n{text_ops}ET\n" if text_ops else "")
    ).encode("ascii")
    font = glyphless_font()
    cid_to_gid = zlib.compress(b"\x00\x01" * 65536)
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        (
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {_num(page_w)} {_num(page_h)}] "
            "/Contents 4 0 R /Resources << /XObject << /Im1 5 0 R >> /Font << /F1 6 0 R >> >> >>"
        ).encode(),
        _stream(b"", zlib.compress(content), b"/Filter /FlateDecode"),
        _stream(
            f"/Type /XObject /Subtype /Image /Width {w_px} /Height {h_px} /ColorSpace {colour} "
            "/BitsPerComponent 8".encode(),
            jpeg,
            b"/Filter /DCTDecode",
        ),
        b"<< /Type /Font /Subtype /Type0 /BaseFont /GlyphLessFont /Encoding /Identity-H "
        b"/DescendantFonts [7 0 R] /ToUnicode 8 0 R >>",
        b"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /GlyphLessFont /CIDToGIDMap 9 0 R "
        b"/CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> "
        b"/FontDescriptor 10 0 R /DW 500 >>",
        _stream(b"", _TO_UNICODE, b""),
        _stream(b"", cid_to_gid, b"/Filter /FlateDecode"),
        b"<< /Type /FontDescriptor /FontName /GlyphLessFont /Flags 5 /FontBBox [0 0 500 1000] "
        b"/ItalicAngle 0 /Ascent 1000 /Descent 0 /CapHeight 1000 /StemV 80 /FontFile2 11 0 R >>",
        _stream(f"/Length1 {len(font)}".encode(), zlib.compress(font), b"/Filter /FlateDecode"),
    ]
    out = bytearray(b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for n, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{n} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    path.write_bytes(bytes(out))
    return path


def _stream(entries: bytes, data: bytes, filters: bytes) -> bytes:
    head = b"<< " + b" ".join(x for x in (entries, filters) if x) + f" /Length {len(data)} >>".encode()
    return head + b"\nstream\n" + data + b"\nendstream"
