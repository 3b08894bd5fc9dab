"""The canary crawl with the screening corpus: every personal-data string of
``tests/resources/screening_corpus.json`` (written as records write it — grouped, broken by
line ends, with +86, Chinese numerals, invisible characters) is planted on two open items:
in every free-text public field, in the OCR lines of page images where it is printed, in
transcript segments and in speaker names. The items are screened and their public copies
made as the worker makes them, with every flag still undecided. Then the public surface is
read as a visitor and a harvester read it — item pages, text downloads, IIIF manifests, the
redacted page images, OAI-PMH in both formats, public search for every value — and no value
may be found, in any form; in the images every character of every value is blacked out."""

from __future__ import annotations

import io
import json
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont
from sqlmodel import Session

from catalog.db import get_engine
from catalog.fields import BY_NAME, PUBLIC
from catalog.models import Access, Asset, Collection, Item, ItemStatus, Page, Segment, Transcript
from catalog.review.screening import term_lists
from configs import get_settings
from flows.publish import public_copies as redact_item
from flows.publish import screen_and_index as screen_item
from storage import open_store
from tests.web.conftest import Browser
from web.app import create_app

pytestmark = pytest.mark.slow  # the fast tier: bash scripts/test -m "not slow"

CORPUS = Path(__file__).parents[1] / "resources" / "screening_corpus.json"
POSITIVES = json.loads(CORPUS.read_text(encoding="utf-8"))["positives"]
# the public fields an editor writes free text into (the others are checked codes and dates)
FREE_TEXT = tuple(name for name in PUBLIC if BY_NAME[name].check == "text")
CELL, ROW, ROWS_PER_PAGE = 16, 28, 40
NUMERALS = str.maketrans("〇零一二三四五六七八九", "00123456789")
SEPARATORS = re.compile(r"(?<=[0-9A-Za-z])[\s\-‐‑–—.·()（）+]+(?=[0-9A-Za-z])")


def _fold(text: str) -> str:
    """Text as a reader would read a number in it: full-width forms, Chinese numerals,
    invisible characters and the separators between digits taken away."""
    text = "".join(ch for ch in unicodedata.normalize("NFKC", text) if unicodedata.category(ch) != "Cf")
    return SEPARATORS.sub("", text.translate(NUMERALS))


def _core(category: str, value: str) -> str:
    """The part of a value that identifies the person: its digits (an e-mail address as
    written), without a +86 / 0086 country code."""
    if category == "email":
        return value
    digits = re.sub(r"[^0-9Xx]", "", _fold(value))
    if category in ("mobile", "landline"):
        digits = re.sub(r"^(0086|86)(?=\d{9,})", "", digits)
    return digits


VALUES = [(p["id"], _core(category, value)) for p in POSITIVES for category, value in p["expect"]]


def _leaks(text: str) -> list[str]:
    folded = _fold(text)
    return [f"{pid}:{core}" for pid, core in VALUES if core in folded]


@dataclass
class Planted:
    scan: int
    recording: int
    pages: list[tuple[int, int, list[dict]]]  # type: ignore[type-arg]  # page id, page no, lines


def _render(lines: list[str], path: Path) -> tuple[int, int, list[dict]]:  # type: ignore[type-arg]
    """A page image with each line printed at a known place, one fixed-width cell per
    character (the OCR word boxes: one per character, as PP-OCR's single-character words)."""
    width = CELL * (max(len(x) for x in lines) + 2)
    height = ROW * (len(lines) + 1)
    img = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default(size=18)
    out = []
    for r, text in enumerate(lines):
        y = ROW // 2 + r * ROW
        words = []
        for k, ch in enumerate(text):
            x = CELL + k * CELL
            draw.text((x + 1, y + 2), ch, font=font, fill=0)
            if not ch.isspace():
                words.append({"text": ch, "bbox": [x, y, x + CELL, y + ROW - 2], "conf": 90})
        out.append({"text": text, "bbox": [CELL, y, CELL * (len(text) + 1), y + ROW - 2], "conf": 90,
                    "words": words})  # fmt: skip
    img.save(path)
    return width, height, out


def _plant(s: Session, tmp: Path) -> Planted:
    store = open_store(get_settings())
    coll = Collection(code="CORPUS", name="screening corpus")
    s.add(coll)
    s.flush()
    texts = [p["text"] for p in POSITIVES]
    slots = [(kind, name) for kind in ("scan", "recording") for name in FREE_TEXT]
    chunks: dict[tuple[str, str], list[str]] = {slot: [] for slot in slots}
    for n, text in enumerate(texts):  # every positive in some public field, every field holds some
        chunks[slots[n % len(slots)]].append(text)
    items = {}
    for kind in ("scan", "recording"):
        fields = {name: "；".join(chunks[(kind, name)]) for name in FREE_TEXT}
        code = f"J009-LY·1990·Y-00{len(items) + 1}"
        item = Item(collection_id=coll.id or 0, reference_code=code, kind=kind, status=ItemStatus.enriched,
                    access=Access.open, date="19900101", **fields)  # fmt: skip
        s.add(item)
        s.flush()
        items[kind] = item
    scan, rec = items["scan"], items["recording"]
    master = Asset(item_id=scan.id, role="master", key="masters/corpus/scan.pdf", sha256="f" * 64)
    s.add(master)
    s.flush()
    # page images: every positive printed, its lines as OCR read them, a rule between two
    lines: list[str] = []
    for text in texts:
        lines += [*text.split("\n"), "——"]
    pages = []
    for n in range(0, len(lines), ROWS_PER_PAGE):
        page_no = n // ROWS_PER_PAGE + 1
        png = tmp / f"page-{page_no}.png"
        width, height, ocr = _render(lines[n : n + ROWS_PER_PAGE], png)
        key = f"derivatives/corpus/page-{page_no}.png"
        store.put_file(key, png, content_type="image/png")
        page = Page(item_id=scan.id or 0, asset_id=master.id, page_no=page_no, lines=ocr, width=width,
                    height=height, image_key=key, text="\n".join(x["text"] for x in ocr))  # fmt: skip
        s.add(page)
        s.flush()
        pages.append((page.id or 0, page_no, ocr))
    # the transcript: each positive a segment, some speaker names a positive too
    audio = Asset(item_id=rec.id, role="master", key="masters/corpus/talk.wav", sha256="e" * 64)
    s.add(audio)
    s.flush()
    tr = Transcript(item_id=rec.id or 0, asset_id=audio.id or 0, language="zh", duration=len(texts) * 4.0)
    s.add(tr)
    s.flush()
    for n, text in enumerate(texts):
        speaker = texts[(n * 7) % len(texts)][:64] if n % 5 == 0 else "口述者"
        s.add(Segment(transcript_id=tr.id or 0, seq=n, start=4.0 * n, end=4.0 * n + 3.5, text=text,
                      raw_text=text, speaker=speaker))  # fmt: skip
    s.flush()
    return Planted(scan.id or 0, rec.id or 0, pages)


@pytest.fixture
def planted(home: Path, tmp_path: Path) -> Planted:
    settings = get_settings()
    with Session(get_engine(settings.db_url)) as s:
        out = _plant(s, tmp_path)
        s.commit()
    with Session(get_engine(settings.db_url)) as s:
        for item_id in (out.scan, out.recording):
            item = s.get(Item, item_id)
            assert item is not None
            screen_item(s, item, term_lists(settings, None))
        s.commit()
    for item_id in (out.scan, out.recording):
        redact_item(item_id)
    return out


def _value_chars(lines: list[str], core: str) -> list[list[tuple[int, int]]]:
    """Where a value stands in the page's lines: for each occurrence, the (line, column) of
    each of its characters, read as ``_fold`` reads (separators, line ends skipped)."""
    flat = [(r, k, ch) for r, line in enumerate(lines) for k, ch in enumerate(line)]
    found = []
    for i in range(len(flat)):
        taken, pos, j = [], 0, i
        while j < len(flat) and pos < len(core):
            ch = _fold(flat[j][2]) or ""
            if ch == core[pos] or (ch.upper() == core[pos].upper() and ch.isalpha()):
                taken.append(flat[j][:2])
                pos += 1
            elif taken and (ch == "" or ch in " -‐‑–—.·()（）+" or flat[j][2] == "\n"):
                pass
            else:
                break
            j += 1
        if pos == len(core):
            found.append(taken)
    return found


def test_no_corpus_value_leaks_anywhere(planted: Planted) -> None:
    public = Browser(create_app())
    urls = []
    for item_id in (planted.scan, planted.recording):
        urls += [f"/public/items/{item_id}", f"/public/items/{item_id}/text.txt", f"/iiif/manifest/{item_id}"]
    urls += [f"/oai?verb=ListRecords&metadataPrefix={prefix}" for prefix in ("oai_dc", "lantai_dat")]
    urls += ["/public/search?q=电话", "/public/search?q=身份证", "/public/"]
    for url in urls:
        r = public.get(url)
        assert r.status_code == 200, (url, r.status_code)
        assert not _leaks(r.text), f"{url} shows {_leaks(r.text)[:5]}"
    assert "█" in public.get(f"/public/items/{planted.scan}").text
    # public search for every value, as written and as digits, exact and error-tolerant (the
    # pages are indexed as running text, so a value split over two lines is one phrase there):
    # no item answers
    for p in POSITIVES:
        for category, value in p["expect"]:
            for q in {value, _core(category, value)}:
                for fuzzy in ("false", "true"):
                    r = public.get("/public/search", params={"q": q, "fuzzy": fuzzy})
                    page = r.text
                    assert r.status_code == 200 and not re.findall(r'href="/public/items/\d+', page), (
                        f"search for {q!r} ({p['id']}, fuzzy={fuzzy}) found it"
                    )
                # and IIIF Content Search within each item (2.0 and 1.0): no annotation answers
                for item_id in (planted.scan, planted.recording):
                    for service in ("search", "search1"):
                        found = public.get(f"/iiif/{service}/{item_id}", params={"q": q}).json()
                        assert not found.get("items") and not found.get("resources"), (service, q, p["id"])
    # the page images: every character of every value blacked out, the rest left as it was
    checked = 0
    for page_id, _page_no, ocr in planted.pages:
        r = public.get(f"/iiif/image/{page_id}/full/max/0/default.png")
        assert r.status_code == 200
        img = Image.open(io.BytesIO(r.content)).convert("L")
        texts = [x["text"] for x in ocr]
        for _pid, core in VALUES:
            for chars in _value_chars(texts, core):
                for r_, k in chars:
                    x, y = CELL + k * CELL, ROW // 2 + r_ * ROW
                    cell = img.crop((x + 2, y + 2, x + CELL - 2, y + ROW - 4))
                    assert max(cell.getdata()) < 60, (
                        f"page {page_id} line {r_} column {k} of {core} is visible"
                    )
                    checked += 1
        assert min(img.getdata()) < 60 and max(img.getdata()) > 200  # text left, not a blank page
    assert checked >= sum(len(core) for _pid, core in VALUES) * 0.95
