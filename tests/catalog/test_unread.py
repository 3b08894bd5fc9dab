"""Text that OCR did not read is visible to the reviewer (issue 30, part 6): PP-OCR keeps the
regions its detector found and its recognizer could not read (below the engine's own score
threshold), screening flags each such page as "unread", the regions are blacked out on the
public image while the flag is undecided, and the item cannot open until a reviewer has
decided it.

The page is real PP-OCR (through the whole OCR pipeline) on a rendered page: body text, and
below it a form's label showing through from the back of the sheet (mirrored), which the
detector finds and the recognizer cannot read. (PP-OCR reads some mirrored strips as
confident nonsense instead: those are not caught here; see the closing note of issue 30.)"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, ImageOps
from sqlmodel import Session, select

from catalog.db import get_engine
from catalog.models import Access, Asset, Collection, Flag, Item, ItemStatus, Page
from catalog.review.openreview import decide_flag, open_items
from catalog.review.redaction import masks_for, page_boxes
from catalog.review.screening import screen_item, term_lists
from configs import get_settings
from tasks.ocr import ocr_file

FONT = "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc"
BODY = [
    "关于水库工程竣工验收的报告",
    "经过两年的建设，灞河水库工程已经全部完成。",
    "现将验收情况报告如下，请审阅。",
]


def _page_with_show_through(path: Path) -> tuple[int, int, int, int]:
    """A page of body text, and the mirror image of ``身份证号码及家庭住址`` below it (ink of
    the back of the sheet seen through it); returns where the mirrored strip is."""
    img = Image.new("RGB", (1700, 2200), "white")
    draw = ImageDraw.Draw(img)
    for i, line in enumerate(BODY):
        draw.text((200, 300 + i * 90), line, font=ImageFont.truetype(FONT, 40), fill="black")
    strip = Image.new("RGB", (528, 74), "white")
    ImageDraw.Draw(strip).text(
        (5, 5), "身份证号码及家庭住址", font=ImageFont.truetype(FONT, 44), fill="black"
    )
    img.paste(ImageOps.mirror(strip), (200, 900))
    img.save(path)
    return 200, 900, 728, 974


def test_unread_regions_are_flagged_masked_and_must_be_decided(tmp_path: Path, home: Path) -> None:
    where = _page_with_show_through(tmp_path / "page.png")
    result = ocr_file(
        tmp_path / "page.png", kind="image", languages="chi_sim", workdir=tmp_path / "w", engine="ppocr"
    )
    page = result.pages[0]
    assert all(line in page.text for line in BODY)
    assert len(page.lines) == len(BODY)  # the strip is not text of the page
    assert page.unread, "the detector found the mirrored strip and recognition did not read it"
    x0, y0, x1, y1 = page.unread[0].bbox
    assert x0 < where[2] and where[0] < x1 and y0 < where[3] and where[1] < y1  # on the strip
    assert page.unread[0].score < 0.5

    settings = get_settings()
    with Session(get_engine(settings.db_url)) as s:
        coll = Collection(code="U", name="测试")
        s.add(coll)
        s.flush()
        item = Item(collection_id=coll.id or 0, reference_code="J001-WS·1990·Y-001", title="竣工报告",
                    kind="scan", status=ItemStatus.in_review)  # fmt: skip
        s.add(item)
        s.flush()
        asset = Asset(item_id=item.id or 0, role="master", key="k/page.png", sha256="0" * 64)
        s.add(asset)
        s.flush()
        lines = [{"text": ln.text, "bbox": list(ln.bbox), "conf": ln.conf, "words": []} for ln in page.lines]
        unread = [{"bbox": list(r.bbox), "score": r.score, "text": r.text} for r in page.unread]
        row = Page(item_id=item.id or 0, asset_id=asset.id or 0, page_no=1, text=page.text, lines=lines,
                   unread=unread, width=page.width, height=page.height)  # fmt: skip
        s.add(row)
        s.flush()
        summary = screen_item(s, item, term_lists(settings, coll))
        [flag] = s.exec(select(Flag).where(Flag.item_id == item.id, Flag.kind == "unread")).all()
        assert flag.status == "open" and flag.page_no == 1 and summary["open"] == 1
        # blacked out on the public image while undecided
        boxes = page_boxes(row, masks_for(s, item.id or 0))
        assert any(b[0] <= x0 and b[1] <= y0 and b[2] >= x1 and b[3] >= y1 for b in boxes), boxes
        # the item cannot open while it is undecided
        refused = open_items(s, reason="批量开放", who="ops", item_id=item.id)
        assert refused["opened"] == [] and refused["refused"]
        # screening again (an edit elsewhere) keeps the one flag, not a second one
        screen_item(s, item, term_lists(settings, coll))
        assert len(s.exec(select(Flag).where(Flag.item_id == item.id, Flag.kind == "unread")).all()) == 1
        # a reviewer looked: nothing personal there (or it would be confirmed and stay black)
        decide_flag(s, flag_id=flag.id or 0, decision="dismiss", reason="背面透印的装订标记", reviewer="rev")
        assert page_boxes(row, masks_for(s, item.id or 0)) == []
        opened = open_items(s, reason="批量开放", who="ops", item_id=item.id)
        assert [e["item_id"] for e in opened["opened"]] == [item.id]
        s.refresh(item)
        assert item.access == Access.open
