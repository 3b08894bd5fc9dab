"""Both OCR engines for real (Tesseract, PP-OCR from the rapidocr wheel), the engine choice,
reading order on a two-column page, a vertical right-to-left page and a two-page spread
with footnotes and running feet, and PP-OCR's hOCR and searchable PDF."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pypdfium2 as pdfium
import pytest
from PIL import Image
from rapidocr import RapidOCR

from configs.errors import BadInputError
from tasks.ocr import OcrResult, choose_engine, ocr_file, ppocr
from tasks.ocr.layout import body_first, reading_order
from tasks.ocr.model import Line, PageResult, Word
from tasks.ocr.render import write_hocr
from tests.conftest import RESOURCES, SAMPLES


def _ocr(path: Path, tmp_path: Path, engine: str, languages: str = "chi_sim+eng") -> OcrResult:
    return ocr_file(
        path, kind="image", languages=languages, workdir=tmp_path / engine, workers=2, engine=engine
    )


@pytest.mark.parametrize("engine", ["tesseract", "ppocr"])
def test_both_engines_read_a_chinese_page_with_boxes(tmp_path: Path, engine: str) -> None:
    result = _ocr(SAMPLES / "网络支付.png", tmp_path, engine)
    assert result.engine == engine
    page = result.pages[0]
    assert page.status == "ok" and "网络支付并无本质的区别" in page.text and "信用卡账户" in page.text
    assert page.lines[0].text.startswith("网络支付")
    for line in page.lines:
        x0, y0, x1, y1 = line.bbox
        assert 0 <= x0 < x1 <= page.width and 0 <= y0 < y1 <= page.height
        assert all(x0 - 2 <= w.bbox[0] < w.bbox[2] <= x1 + 2 for w in line.words)
        assert all(0 <= w.conf <= 100 for w in line.words)
    assert "ocrx_word" in result.hocr and result.pdf is not None


def _lines(name: str) -> list[str]:
    return (RESOURCES / f"{name}.txt").read_text("utf-8").split()


def test_two_columns_under_a_heading_are_read_column_by_column(tmp_path: Path) -> None:
    result = _ocr(RESOURCES / "two_columns.png", tmp_path, "ppocr")
    page = result.pages[0]
    assert [ln.text for ln in page.lines] == _lines("two_columns")
    assert not page.vertical
    # the stored order is the order of the hOCR and of the PDF's text
    hocr_order = [page.lines.index(ln) for ln in page.lines]
    assert hocr_order == sorted(hocr_order)
    pdf_text = pdfium.PdfDocument(result.pdf)[0].get_textpage().get_text_range()
    assert "".join(pdf_text.split()) == "".join(_lines("two_columns"))


def test_book_spread_is_read_body_across_the_pages_then_notes_then_running_feet(tmp_path: Path) -> None:
    # two facing pages in one scan: the sentence that breaks at the foot of the left page
    # runs on at the head of the right one; the left page's footnotes and both running feet
    # (with their page numbers) come after the body, in the stored lines, hOCR and PDF alike
    result = _ocr(RESOURCES / "book_spread.png", tmp_path, "ppocr")
    page = result.pages[0]
    expected = [
        "".join(line.split()) for line in (RESOURCES / "book_spread.txt").read_text("utf-8").splitlines()
    ]
    assert ["".join(ln.text.split()) for ln in page.lines] == expected
    hocr_lines = re.findall(r"<span class='ocr_line'[^>]*>(.*?)</span>\n", result.hocr)
    assert ["".join(re.sub(r"<[^>]+>", "", h).split()) for h in hocr_lines] == expected
    pdf_text = pdfium.PdfDocument(result.pdf)[0].get_textpage().get_text_range()
    assert "".join(pdf_text.split()) == "".join(expected)


def test_vertical_page_is_read_right_to_left(tmp_path: Path) -> None:
    result = _ocr(RESOURCES / "vertical_rtl.png", tmp_path, "ppocr", languages="chi_tra_vert+chi_tra")
    page = result.pages[0]
    assert [ln.text for ln in page.lines] == _lines("vertical_rtl")
    assert page.vertical and page.rotation == 0
    xs = [ln.bbox[0] for ln in page.lines]
    assert xs == sorted(xs, reverse=True)  # first column at the right
    assert "textangle 90" in result.hocr
    pdf_text = pdfium.PdfDocument(result.pdf)[0].get_textpage().get_text_range()
    assert "".join(pdf_text.split()) == "".join(_lines("vertical_rtl"))


def test_upside_down_page_is_turned_and_read_in_order(tmp_path: Path) -> None:
    turned = tmp_path / "turned.png"
    Image.open(RESOURCES / "two_columns.png").rotate(180).save(turned, dpi=(200, 200))
    page = _ocr(turned, tmp_path, "ppocr").pages[0]
    assert page.rotation == 180
    assert [ln.text for ln in page.lines] == _lines("two_columns")


def test_sideways_page_is_turned_upright(tmp_path: Path) -> None:
    sideways = tmp_path / "sideways.png"
    Image.open(RESOURCES / "two_columns.png").rotate(90, expand=True).save(sideways, dpi=(200, 200))
    page = _ocr(sideways, tmp_path, "ppocr").pages[0]
    assert page.rotation in (90, 270) and not page.vertical
    assert [ln.text for ln in page.lines] == _lines("two_columns")


def test_searchable_pdf_puts_each_word_over_its_box(tmp_path: Path) -> None:
    result = _ocr(SAMPLES / "phototest.tif", tmp_path, "ppocr", languages="eng")
    page = result.pages[0]
    doc = pdfium.PdfDocument(result.pdf)
    pdf_page = doc[0]
    k = pdf_page.get_width() / page.width  # points per page-image pixel
    height = pdf_page.get_height()
    text = pdf_page.get_textpage()
    words = [w for ln in page.lines for w in ln.words]
    assert len(words) > 40
    for word in words:
        x0, y0, x1, y1 = word.bbox
        inside = text.get_text_bounded(
            x0 * k + 0.5, height - y1 * k + 0.5, x1 * k - 0.5, height - y0 * k - 0.5
        )
        assert word.text.strip(" .,") in inside, (word, inside)
    assert "The quick brown dog jumped over the" in text.get_text_range()  # spaces kept


def test_hocr_escapes_recognised_text(tmp_path: Path) -> None:
    image = tmp_path / "p.jpg"
    Image.new("L", (100, 40), 255).save(image)
    word = Word("<script>&'\"", (1, 1, 50, 20), 90.0)
    page = PageResult(
        page_no=1, lines=[Line(word.text, word.bbox, 90.0, [word])], width=100, height=40, image=image
    )
    hocr = write_hocr(page, tmp_path / "p.hocr", system="x").read_text("utf-8")
    assert "<script>" not in hocr and "&lt;script&gt;&amp;" in hocr


def test_engine_choice() -> None:
    assert choose_engine("auto", "chi_sim+eng") == "ppocr"
    assert choose_engine("auto", "chi_tra_vert") == "ppocr"
    assert choose_engine("auto", "eng") == "tesseract"  # Latin script: Tesseract reads it as well
    for minority in ("bod", "uig", "mon", "chi_sim+bod"):  # scripts PP-OCR's model does not know
        assert choose_engine("auto", minority) == "tesseract"
        with pytest.raises(BadInputError, match="ppocr does not read"):
            choose_engine("ppocr", minority)
    assert choose_engine("tesseract", "chi_sim") == "tesseract"
    with pytest.raises(BadInputError):
        choose_engine("paddle", "chi_sim")


def test_bundled_models_are_verified(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert all(check.ok for check in ppocr.check_models())
    ppocr.require()
    # a model file that differs from the published hash is reported
    fake = tmp_path / "models"
    shutil.copytree(ppocr.model_dir(), fake)
    (fake / ppocr.MODELS["cls"][0]).write_bytes(b"not the model")
    monkeypatch.setattr(ppocr, "model_dir", lambda: fake)
    bad = [c for c in ppocr.check_models() if not c.ok]
    assert [c.role for c in bad] == ["cls"]
    with pytest.raises(ppocr.PpOcrUnavailable, match="SHA-256 differs"):
        ppocr.require()


def test_reading_order_heading_columns_caption_and_table_row() -> None:
    h = 20
    boxes = [(100, 0, 500, 30)]  # heading over both columns
    left = [(0, 50 + i * 30, 280, 50 + i * 30 + h) for i in range(4)]
    right = [(320, 50 + i * 30, 600, 50 + i * 30 + h) for i in range(4)]
    boxes += [b for pair in zip(left, right, strict=True) for b in pair]  # interleaved, as PP-OCR returns
    boxes += [(0, 200, 600, 220)]  # a full-width paragraph under the columns
    boxes += [(0, 240, 100, 260), (250, 240, 350, 260), (500, 240, 600, 260)]  # a table row
    order = reading_order(boxes)
    expected = [0, 1, 3, 5, 7, 2, 4, 6, 8, 9, 10, 11, 12]
    assert order == expected


def test_reading_order_vertical_columns_right_to_left_in_tiers() -> None:
    # two tiers of three vertical columns (a page cut by a horizontal rule)
    top = [(500 - i * 40, 0, 530 - i * 40, 200) for i in range(3)]
    bottom = [(500 - i * 40, 260, 530 - i * 40, 460) for i in range(3)]
    boxes = [bottom[2], top[0], bottom[0], top[2], top[1], bottom[1]]
    order = reading_order(boxes, vertical=True)
    assert [boxes[i] for i in order] == top + bottom


def test_reading_order_padded_lines_that_overlap_stay_top_to_bottom() -> None:
    # detector boxes are padded: each line's box overlaps its neighbours' by a few pixels;
    # short lines (a paragraph's last) must not be read before the longer lines above them
    boxes = [(30, 84 + i * 36, 600 - (300 if i == 2 else 0), 125 + i * 36) for i in range(8)]
    shuffled = [boxes[i] for i in (5, 1, 7, 0, 3, 2, 6, 4)]
    assert [shuffled[i] for i in reading_order(shuffled)] == boxes


def _page(rows: list[tuple[str, int, int, int]]) -> tuple[list[tuple[int, int, int, int]], list[str]]:
    """Lines as (text, x, y, character size): boxes as a detector draws them."""
    boxes = [(x, y, x + int(layout_ems(t) * size), y + size) for t, x, y, size in rows]
    return boxes, [t for t, *_ in rows]


def layout_ems(text: str) -> float:
    return sum(1.0 if "\u4e00" <= c <= "\u9fff" else 0.5 for c in text)


BODY = "档案工作体制机制不断完善档案资源建设成效显著"  # 22 characters


def test_body_first_moves_notes_and_numbered_running_heads_only() -> None:
    # two facing pages, given in reading order: on the left a running head with its page
    # number, a numbered heading, body and two notes in small type (26 px under 32) at the
    # foot; on the right more body
    rows = [("45", 100, 40, 24), ("第二章总体要求", 160, 40, 24), ("1 总体要求", 100, 120, 40)]
    rows += [(BODY, 100, 180 + k * 50, 32) for k in range(4)]
    rows += [("1 中共陕西省委办公厅二〇二一年印发", 100, 400, 26), ("2 全国档案事业发展规划", 100, 432, 26)]
    rows += [(BODY, 900, 180 + k * 50, 32) for k in range(3)]
    boxes, texts = _page(rows)
    assert body_first(boxes, texts) == [2, 3, 4, 5, 6, 9, 10, 11, 7, 8, 0, 1]
    # a note run on from the previous page opens the note area with no mark of its own
    rows[7] = ("出版社二〇二一年版第十二页", 100, 400, 26)
    boxes, texts = _page(rows)
    assert body_first(boxes, texts) == [2, 3, 4, 5, 6, 9, 10, 11, 7, 8, 0, 1]
    # a paragraph's last line, too short to measure, over the notes is still body
    rows[6] = ("研究工作。", 100, 330, 32)
    boxes, texts = _page(rows)
    assert body_first(boxes, texts) == [2, 3, 4, 5, 6, 9, 10, 11, 7, 8, 0, 1]
    # notes too short to measure any of: left where they are
    rows[7], rows[8] = ("研究。", 100, 400, 26), ("2 同上", 100, 432, 26)
    boxes, texts = _page(rows)
    assert body_first(boxes, texts) == [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0, 1]


def test_body_first_keeps_a_display_title_level_with_a_page_number() -> None:
    rows = [("第一章总体要求", 300, 40, 48), ("1", 900, 52, 24)] + [
        (BODY, 100, 140 + k * 50, 32) for k in range(3)
    ]
    boxes, texts = _page(rows)
    assert body_first(boxes, texts) == [0, 2, 3, 4, 1]


@pytest.mark.parametrize(
    "rows",
    [
        # a numbered list at the foot in body type: body, not notes
        [(BODY, 100, 100 + k * 50, 32) for k in range(4)]
        + [("1 " + BODY[:12], 100, 320, 32), ("2 " + BODY[:12], 100, 370, 32)],
        # a dateline in small type at the foot: a date, not a note mark
        [(BODY, 100, 100 + k * 50, 32) for k in range(4)]
        + [("12月3日陕西省档案馆供稿", 100, 320, 26)]
        + [(BODY, 900, 100 + k * 50, 32) for k in range(2)],
        # a caption in small type at the foot with no note mark
        [(BODY, 100, 100 + k * 50, 32) for k in range(4)]
        + [("图一档案馆库房外景二〇二一年摄", 100, 320, 26)],
        # a running head with no page number, and a page number that is not at the page's edge
        [("第二章总体要求", 100, 40, 24)]
        + [(BODY, 100, 100 + k * 50, 32) for k in range(3)]
        + [("12", 100, 260, 32), (BODY, 100, 310, 32)],
        # nothing but notes
        [("1 中共陕西省委办公厅二〇二一年印发", 100, 100, 26), ("2 全国档案事业发展规划", 100, 132, 26)],
    ],
    ids=["numbered-list", "dateline", "caption", "head-without-number", "only-notes"],
)
def test_body_first_leaves_the_body_alone(rows: list[tuple[str, int, int, int]]) -> None:
    boxes, texts = _page(rows)
    assert body_first(boxes, texts) == list(range(len(rows)))


def test_auto_leaves_minority_scripts_to_tesseract(tmp_path: Path) -> None:
    # Mongolian in Cyrillic, Tibetan, Uyghur: their Tesseract language data is installed
    for languages in ("mon", "bod+eng", "uig+eng"):
        result = ocr_file(
            SAMPLES / "phototest.tif", kind="image", languages=languages, workdir=tmp_path / languages[:3]
        )
        assert result.engine == "tesseract" and result.pages[0].status == "ok"


def test_large_scan_is_recognised_at_its_own_resolution(tmp_path: Path) -> None:
    """RapidOCR reduces a page to 2,000 pixels a side; detection may work there, but the
    lines are cut from the scan itself for recognition (as PaddleOCR's own pipeline does)."""
    page = _ocr(RESOURCES / "wide_small_print.png", tmp_path, "ppocr").pages[0]
    assert [ln.text for ln in page.lines] == _lines("wide_small_print")
    assert page.width == 6000
    assert page.lines[0].bbox[0] > 900 and page.lines[0].bbox[2] < 5100  # boxes in the scan's pixels
    # the same page read from RapidOCR's reduction: the small print is lost
    folder = ppocr.model_dir()
    paths = {f"{role.capitalize()}.model_path": str(folder / f) for role, (f, _) in ppocr.MODELS.items()}
    stock = RapidOCR(params={"Global.log_level": "error", **paths})
    reduced = stock(np.asarray(Image.open(RESOURCES / "wide_small_print.png").convert("RGB")))
    assert "".join(getattr(reduced, "txts", None) or ()) != "".join(_lines("wide_small_print"))


def test_no_line_is_turned_on_its_own_verdict() -> None:
    """The line classifier votes on the page's orientation but turns no line itself: one
    line's verdict is often wrong, and a line turned wrongly is read as nonsense."""
    engine = ppocr._engine(1)
    page = Image.open(RESOURCES / "wide_small_print.png").convert("RGB")
    line = np.asarray(page.crop((900, 50, 5100, 100)))
    upside_down = np.ascontiguousarray(line[::-1, ::-1])
    crops, verdicts = engine.cls_and_rotate([upside_down, line])
    assert [label for label, _ in verdicts.cls_res] == ["180", "0"]
    assert verdicts.cls_res[0][1] > engine.text_cls.cls_thresh  # sure enough that RapidOCR would turn it
    assert crops[0] is upside_down and crops[1] is line


@pytest.mark.parametrize("turn", [0, 180])
def test_a_long_thin_strip_is_read(tmp_path: Path, turn: int) -> None:
    """A 6,000 x 44 pixel strip (one ledger line, a cropped caption): RapidOCR's reduction
    alone would make it too thin to detect on (it fails with no message), and the line
    classifier's verdicts on it send the page back to the turn already read."""
    strip = tmp_path / "strip.png"
    band = Image.open(RESOURCES / "wide_small_print.png").crop((0, 50, 6000, 94))
    band.rotate(turn).save(strip, dpi=(200, 200))
    result = _ocr(strip, tmp_path, "ppocr")
    page = result.pages[0]
    assert page.status == "ok" and page.text == _lines("wide_small_print")[0]
    assert result.pdf is not None and result.pdf.is_file()
    blank = tmp_path / "blank.png"
    Image.new("L", (6000, 40), 255).save(blank)
    assert _ocr(blank, tmp_path / "blank", "ppocr").pages[0].status == "empty"


def test_one_registry_names_the_engines(monkeypatch: pytest.MonkeyPatch) -> None:
    """The engines are declared once (``tasks.ocr.engines``): the settings, the manifest's
    OCR引擎 column, ``auto``'s choice, the options and the provenance label all come from
    it, and a third engine is one more ``EngineSpec``."""
    from typing import get_args

    from catalog.manifest import OCR_ENGINES
    from configs.settings import OcrSettings
    from tasks.ocr import engines, pipeline
    from tasks.ocr.model import EngineSpec

    assert engines.ENGINES == ("auto", *engines.REGISTRY) == OCR_ENGINES
    assert get_args(OcrSettings.model_fields["engine"].annotation) == engines.ENGINES
    assert pipeline.choose_engine("auto", "eng") == "tesseract"
    for spec in engines.REGISTRY.values():
        assert spec.options("eng", 300, True, False)["languages"] == "eng"
        assert spec.label("5.3").endswith("5.3")
    # a third engine: one spec, and every place that chooses, makes or describes engines knows it
    made = []
    third = EngineSpec(name="kraken", reads=lambda langs: langs <= {"eng"},
                       preferred=lambda langs: langs == {"eng"},
                       make=lambda workers: made.append(workers) or pipeline.make_engine("tesseract"),
                       require=lambda languages: None, options=lambda *a: {"languages": a[0], "model": "x"},
                       label=lambda v: f"kraken {v}")  # fmt: skip
    monkeypatch.setattr(engines, "REGISTRY", {"kraken": third, **engines.REGISTRY})
    monkeypatch.setattr(pipeline, "REGISTRY", engines.REGISTRY)
    monkeypatch.setattr(pipeline, "ENGINES", ("auto", *engines.REGISTRY))
    assert pipeline.choose_engine("auto", "eng") == "kraken"
    assert pipeline.choose_engine("auto", "chi_sim") == "ppocr"
    pipeline.make_engine("kraken", workers=3)
    assert made == [3] and pipeline.options("eng", 300, engine="kraken") == {"languages": "eng", "model": "x"}
