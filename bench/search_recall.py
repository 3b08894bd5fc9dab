"""How often search finds what a researcher remembers, on pages read by real OCR.

Pages are rendered from the Chinese archive plans in ../shared/data/text (Noto CJK, lines
of 22–38 characters, with scan noise and a slight blur so the OCR makes real mistakes),
four pages an item, and read by the product's OCR (``tasks.ocr.ocr_pages``, engine
``auto``); the catalog is written through the product's path (pages, ``reindex_item``).
Queries are drawn from the *reference* text of each item:

- phrases of 4, 6 and 8 characters, anywhere (so some cross a line end or a page break);
- two words of 2–3 characters from different pages of the item.

Only queries whose text the OCR read correctly count (the phrase, or both words, occur
in the item's OCR text with the spaces OCR left removed): what search can be asked to
find. Found = the item is among the results. The baseline is the line-level index before
issue 31, computed on the same OCR lines: a phrase is found only inside one line, two
words only when one line holds both.

    .venv/bin/python bench/search_recall.py [--pages 24] [--queries 200] [--cache DIR] [--db-url URL]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
TEXTS = REPO.parent / "shared" / "data" / "text"
FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
LINES_PER_PAGE = 28
PAGES_PER_ITEM = 4


def paragraphs() -> list[str]:
    text = "\n".join(p.read_text(encoding="utf-8") for p in sorted(TEXTS.glob("*.txt")))
    return [p.strip() for p in text.split("\n") if len(p.strip()) >= 20]


def render(lines: list[str], path: Path, rnd: random.Random) -> None:
    """A page image of ``lines`` at about 200 dpi, with noise and a slight blur."""
    from PIL import Image, ImageDraw, ImageFilter, ImageFont

    font = ImageFont.truetype(FONT, 30)
    width, height = 1400, 80 + 46 * LINES_PER_PAGE
    img = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(img)
    for k, line in enumerate(lines):
        draw.text((60, 40 + 46 * k), line, font=font, fill=rnd.randint(0, 60))
    noise = Image.effect_noise((width, height), rnd.uniform(18, 30))
    img = Image.blend(img, noise, 0.12).filter(ImageFilter.GaussianBlur(rnd.uniform(0.6, 1.1)))
    img.save(path)


def pages(count: int, rnd: random.Random) -> list[list[str]]:
    """``count`` pages of lines, each line a slice of running paragraphs."""
    out: list[list[str]] = []
    paras = paragraphs()
    p, pos = rnd.randrange(len(paras)), 0
    width = rnd.randint(22, 38)
    while len(out) < count:
        page: list[str] = []
        while len(page) < LINES_PER_PAGE:
            para = paras[p % len(paras)]
            page.append(para[pos : pos + width])
            pos += width
            if pos >= len(para):
                p, pos = p + 1, 0
        out.append(page)
        if len(out) % PAGES_PER_ITEM == 0:
            width = rnd.randint(22, 38)  # items differ in measure
    return out


def ocr(pages_text: list[list[str]], cache: Path, rnd: random.Random) -> list[list[dict[str, Any]]]:
    """The OCR lines of every page (cached by page text: a re-run reads the cache)."""
    from flows.enrich.scans import _page_lines
    from tasks.ocr.pipeline import ocr_pages

    cache.mkdir(parents=True, exist_ok=True)
    out = []
    for n, lines in enumerate(pages_text):
        key = cache / f"page-{abs(hash(tuple(lines))) % 10**12}.json"
        if key.exists():
            out.append(json.loads(key.read_text()))
            continue
        image = cache / f"page-{n}.png"
        render(lines, image, rnd)
        with tempfile.TemporaryDirectory() as work:
            (result,) = list(ocr_pages(image, kind="image", languages="chi_sim", workdir=Path(work)))
        read = _page_lines(result)
        key.write_text(json.dumps(read, ensure_ascii=False))
        out.append(read)
        print(f"  OCR page {n + 1}/{len(pages_text)}", file=sys.stderr)
    return out


def flat(text: str) -> str:
    from tasks.text import fold

    return re.sub(r"\s+", "", fold(text))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", type=int, default=24)
    ap.add_argument("--queries", type=int, default=200, help="per kind of query")
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "lantai-search-recall")
    ap.add_argument("--db-url", default="")
    ap.add_argument("--seed", type=int, default=31)
    args = ap.parse_args()
    rnd = random.Random(args.seed)
    reference = pages(args.pages, rnd)
    read = ocr(reference, args.cache, rnd)

    from sqlmodel import Session

    from catalog.db import get_engine
    from catalog.models import Access, Asset, Collection, Item, Page
    from catalog.search import reindex_item, search

    with tempfile.TemporaryDirectory() as tmp:
        url = args.db_url or f"sqlite:///{tmp}/recall.db"
        engine = get_engine(url)
        items: list[tuple[int, list[list[str]], list[list[dict[str, Any]]]]] = []
        with Session(engine) as s:
            coll = Collection(code="RECALL", name="recall bench")
            s.add(coll)
            s.flush()
            for start in range(0, len(reference), PAGES_PER_ITEM):
                n = start // PAGES_PER_ITEM + 1
                item = Item(collection_id=coll.id or 0, reference_code=f"R-{n:03d}", title=f"文书 {n}",
                            kind="scan", access=Access.open)  # fmt: skip
                s.add(item)
                s.flush()
                asset = Asset(item_id=item.id or 0, role="master", key=f"m/{n}", sha256=str(n))
                s.add(asset)
                s.flush()
                for k, lines in enumerate(read[start : start + PAGES_PER_ITEM], 1):
                    s.add(Page(item_id=item.id or 0, asset_id=asset.id or 0, page_no=k, lines=lines,
                               text="\n".join(x["text"] for x in lines)))  # fmt: skip
                s.flush()
                reindex_item(s, item)
                items.append(
                    (
                        item.id or 0,
                        reference[start : start + PAGES_PER_ITEM],
                        read[start : start + PAGES_PER_ITEM],
                    )
                )
            s.commit()

        def found(q: str, item_id: int) -> bool:
            with Session(engine) as s:
                return item_id in [r.item_id for r in search(s, q, include_restricted=True, limit=50)]

        report: dict[str, tuple[int, int, int]] = {}
        for length in (4, 6, 8):
            asked = new = old = 0
            while asked < args.queries:
                item_id, ref, ocr_pages_ = rnd.choice(items)
                whole = flat("".join("".join(p) for p in ref))
                cjk = [m for m in re.finditer(rf"[\u4e00-\u9fff]{{{length},}}", whole)]
                run = rnd.choice(cjk).group()
                at = rnd.randrange(len(run) - length + 1)
                phrase = run[at : at + length]
                ocr_text = flat("\n".join(x["text"] for p in ocr_pages_ for x in p))
                if phrase not in ocr_text:
                    continue  # the OCR misread it: no index can be asked for it
                asked += 1
                new += found(phrase, item_id)
                old += any(phrase in flat(x["text"]) for p in ocr_pages_ for x in p)
            report[f"phrase of {length}"] = (asked, new, old)
        asked = new = old = 0
        while asked < args.queries:
            item_id, ref, ocr_pages_ = rnd.choice(items)
            a, b = rnd.sample(range(len(ref)), 2)
            words = []
            for page in (ref[a], ref[b]):
                run = rnd.choice(re.findall(r"[\u4e00-\u9fff]{3,}", flat("".join(page))))
                size = rnd.randint(2, 3)
                at = rnd.randrange(len(run) - size + 1)
                words.append(run[at : at + size])
            ocr_text = flat("\n".join(x["text"] for p in ocr_pages_ for x in p))
            if not all(w in ocr_text for w in words) or words[0] == words[1]:
                continue
            asked += 1
            new += found(" ".join(words), item_id)
            old += any(all(w in flat(x["text"]) for w in words) for p in ocr_pages_ for x in p)
        report["two words"] = (asked, new, old)

    print(f"{len(reference)} pages in {len(items)} items, {args.queries} queries of each kind "
          f"(read correctly by the OCR), {'PostgreSQL' if args.db_url else 'SQLite'}")  # fmt: skip
    print(f"{'query':14} {'found now':>12} {'line-level':>12} {'ratio':>7}")
    for name, (asked, new, old) in report.items():
        print(f"{name:14} {new / asked:>11.1%} {old / asked:>11.1%} {new / max(old, 1):>7.2f}")


if __name__ == "__main__":
    main()
