"""Real Tesseract on real pages, and every kind of bad scan."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from PIL import Image

from tasks.ocr import OcrInputError, ocr_file
from tests.conftest import RESOURCES, SAMPLES


def _ocr(path: Path, tmp_path: Path, *, kind: str = "image", languages: str = "chi_sim+eng", **kw):  # type: ignore[no-untyped-def]
    return ocr_file(path, kind=kind, languages=languages, workdir=tmp_path / "work", workers=2, **kw)


def test_chinese_page_without_spaces_between_characters(tmp_path: Path) -> None:
    result = _ocr(SAMPLES / "网络支付.png", tmp_path)
    page = result.pages[0]
    assert page.status == "ok"
    assert "网络支付并无本质的区别" in page.text
    assert "信用卡账户" in page.text
    assert " " not in page.text.replace("\n", "")  # Tesseract's CJK spaces are gone
    assert page.mean_conf and page.mean_conf > 80
    first = page.lines[0]
    assert first.text.startswith("网络支付")
    x0, y0, x1, y1 = first.bbox
    assert 0 <= x0 < x1 <= page.width and 0 <= y0 < y1 <= page.height
    assert all(w.bbox[0] >= x0 and w.bbox[2] <= x1 for w in first.words)


def test_english_page_keeps_word_spaces_and_makes_hocr_and_pdf(tmp_path: Path) -> None:
    result = _ocr(SAMPLES / "phototest.tif", tmp_path, languages="eng")
    page = result.pages[0]
    assert "The quick brown dog jumped over the" in page.text
    assert "ocr_page" in result.hocr and "ocrx_word" in result.hocr
    assert result.pdf is not None
    doc = pdfium.PdfDocument(result.pdf)
    assert len(doc) == 1
    assert "quick brown dog" in doc[0].get_textpage().get_text_range()  # searchable


def test_traditional_chinese(tmp_path: Path) -> None:
    page = _ocr(SAMPLES / "繁體中文測試.png", tmp_path, languages="chi_tra").pages[0]
    assert page.text == "繁體中文測試"


def test_low_dpi_page_is_upsampled_and_boxes_stay_in_original_pixels(tmp_path: Path) -> None:
    img = Image.open(SAMPLES / "phototest.tif")
    low = tmp_path / "low.png"
    img.save(low, dpi=(150, 150))
    page = _ocr(low, tmp_path, languages="eng").pages[0]
    assert (page.width, page.height) == img.size
    assert max(ln.bbox[2] for ln in page.lines) <= img.size[0]
    assert "quick brown dog" in page.text


def test_rotated_page_is_turned_upright(tmp_path: Path) -> None:
    rotated = tmp_path / "rotated.png"
    Image.open(SAMPLES / "phototest.tif").rotate(90, expand=True).save(rotated)
    page = _ocr(rotated, tmp_path, languages="eng").pages[0]
    assert "quick brown dog" in page.text


def test_multipage_tiff_and_16_bit(tmp_path: Path) -> None:
    img = Image.open(SAMPLES / "phototest.tif").convert("L")
    multi = tmp_path / "multi.tif"
    img.save(multi, save_all=True, append_images=[img], compression="tiff_lzw")
    result = _ocr(multi, tmp_path, languages="eng")
    assert [p.page_no for p in result.pages] == [1, 2]
    deep = tmp_path / "deep.tif"
    img.convert("I;16").point(lambda v: v * 256).save(deep)
    assert "quick brown" in _ocr(deep, tmp_path / "d", languages="eng").pages[0].text


def test_scanned_pdf_is_rasterized_and_born_digital_text_extracted(tmp_path: Path) -> None:
    scanned = _ocr(RESOURCES / "scanned_2p.pdf", tmp_path, kind="pdf", languages="eng")
    assert len(scanned.pages) == 2 and all(p.method == "ocr" for p in scanned.pages)
    assert "quick brown dog" in scanned.pages[1].text
    digital = _ocr(RESOURCES / "born_digital.pdf", tmp_path / "b", kind="pdf", languages="eng")
    assert digital.pages[0].method == "text-layer"
    assert "reservoir survey files" in digital.pages[0].text
    assert digital.pages[0].lines[0].bbox[2] > 0


def test_encrypted_pdf(tmp_path: Path) -> None:
    with pytest.raises(OcrInputError, match="encrypted"):
        _ocr(RESOURCES / "encrypted.pdf", tmp_path, kind="pdf")


def test_zero_page_pdf(tmp_path: Path) -> None:
    with pytest.raises(OcrInputError, match="PDF"):
        _ocr(RESOURCES / "zero_pages.pdf", tmp_path, kind="pdf")


def test_truncated_image(tmp_path: Path) -> None:
    data = (SAMPLES / "网络支付.png").read_bytes()
    cut = tmp_path / "cut.png"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(OcrInputError, match="cannot decode"):
        _ocr(cut, tmp_path)


def test_decompression_bomb_is_refused_without_decoding(tmp_path: Path) -> None:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", 50_000, 50_000, 1, 0, 0, 0, 0)  # 50,000 x 50,000 px, 1 bit
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 1000))
        + chunk(b"IEND", b"")
    )
    with pytest.raises(OcrInputError, match="too large"):
        _ocr(bomb, tmp_path)


def test_a_failing_page_does_not_stop_the_others(tmp_path: Path) -> None:
    result = _ocr(RESOURCES / "scanned_2p.pdf", tmp_path, kind="pdf", languages="eng", page_timeout=0.001)
    assert [p.status for p in result.pages] == ["failed", "failed"]
    assert "did not finish" in result.pages[0].error


def test_skewed_page_is_levelled_and_reads_better(tmp_path: Path) -> None:
    skewed = tmp_path / "skewed.png"
    Image.open(SAMPLES / "phototest.tif").convert("L").rotate(3, expand=True, fillcolor=255).save(skewed)
    page = _ocr(skewed, tmp_path, languages="eng").pages[0]
    assert page.skew == pytest.approx(-3, abs=0.3)
    assert "The quick brown dog jumped over the" in page.text
    plain = _ocr(SAMPLES / "phototest.tif", tmp_path / "plain", languages="eng").pages[0]
    assert plain.skew == 0.0


def test_page_image_and_hocr_share_the_boxes_coordinates(tmp_path: Path) -> None:
    img = Image.open(SAMPLES / "phototest.tif")
    low = tmp_path / "low.png"
    img.save(low, dpi=(150, 150))  # upsampled 2x for the engine
    result = _ocr(low, tmp_path, languages="eng")
    page = result.pages[0]
    assert page.image is not None and Image.open(page.image).size == (page.width, page.height)
    import re

    boxes = [tuple(map(int, m)) for m in re.findall(r"bbox (\d+) (\d+) (\d+) (\d+)", result.hocr)]
    assert boxes and max(b[2] for b in boxes) <= page.width and max(b[3] for b in boxes) <= page.height
    assert 'image "page-00001.jpg"' in result.hocr


def test_colour_scan_keeps_a_colour_page_image(tmp_path: Path) -> None:
    page_rgb = Image.open(SAMPLES / "phototest.tif").convert("RGB")
    tinted = Image.blend(page_rgb, Image.new("RGB", page_rgb.size, (250, 230, 160)), 0.4)  # yellowed paper
    colour = tmp_path / "colour.jpg"
    tinted.save(colour)
    page = _ocr(colour, tmp_path, languages="eng").pages[0]
    assert page.image is not None and Image.open(page.image).mode == "RGB"
    assert "quick brown dog" in page.text
    grey_rgb = tmp_path / "grey-as-rgb.jpg"  # a greyscale scan stored as RGB stays greyscale
    page_rgb.save(grey_rgb)
    page = _ocr(grey_rgb, tmp_path / "g", languages="eng").pages[0]
    assert page.image is not None and Image.open(page.image).mode == "L"


def test_pages_stream_in_order(tmp_path: Path) -> None:
    from tasks.ocr import ocr_pages

    pages = ocr_pages(RESOURCES / "scanned_2p.pdf", kind="pdf", languages="eng", workdir=tmp_path, workers=2)
    first = next(pages)  # results arrive one at a time, in page order
    assert first.page_no == 1 and "quick brown" in first.text
    assert [p.page_no for p in pages] == [2]


def test_jpeg2000_master(tmp_path: Path) -> None:
    jp2 = tmp_path / "page.jp2"
    Image.open(SAMPLES / "phototest.tif").convert("L").save(jp2, dpi=(300, 300))
    from tasks.formats import identify

    assert identify(jp2).mime == "image/jp2"
    page = _ocr(jp2, tmp_path, languages="eng").pages[0]
    assert "quick brown dog" in page.text
