"""Screening (开放审核) through the product: quality on the corpus and what it costs.

1. Quality. Each text of ``tests/resources/screening_corpus.json`` becomes an item in a
   fresh catalog, in three places at once — a description field, the OCR lines of a page,
   a transcript segment — and the item is screened as enrichment screens it
   (``catalog.review.screening.screen_item``). An item is *found* when every value the
   corpus expects is flagged in all three places (compared by digits); a negative is a
   *false positive* when anything is flagged. Baseline in the same run: the plain regular
   expressions of ``bench/screen_quality.py`` on the same texts.
2. Cost. Screening a page of 1,000 characters (Chinese record text with a number in it),
   an hour of transcript (Chinese speech runs about 220 characters a minute: 660 segments
   of 20 characters), and a 3-hour interview after one segment edit — the save as an
   editor makes it (``edit_segment``: the whole transcript screened in the edit's
   transaction). Baseline in the same run: the naive regular expressions over the same text.

    .venv/bin/python bench/screening.py [--db-url postgresql+psycopg://…]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
CORPUS = REPO / "tests" / "resources" / "screening_corpus.json"
FILLER = "档案馆藏资料记录会议纪要工作同志单位地址街道社区县城乡村年月日的了和在是有为对经办人情况说明"


def _digits(value: str) -> str:
    import unicodedata

    numerals = str.maketrans("〇零一二三四五六七八九", "00123456789")
    folded = unicodedata.normalize("NFKC", value).translate(numerals)
    return re.sub(r"[^0-9A-Za-z@.]", "", folded).upper()


def _timed(fn: Callable[[], object], repeat: int) -> float:
    """Median seconds of ``repeat`` calls."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def quality() -> None:
    from sqlmodel import Session, col, select

    from bench.screen_quality import NAIVE
    from catalog.db import get_engine
    from catalog.models import SCREENING_KINDS, Asset, Collection, Flag, Item, Page, Segment, Transcript
    from catalog.review.screening import screen_item, term_lists
    from configs import get_settings

    corpus = json.loads(CORPUS.read_text(encoding="utf-8"))
    settings = get_settings()
    cases = [(c, True) for c in corpus["positives"]] + [(c, False) for c in corpus["negatives"]]
    found = missed = fp = naive_found = naive_fp = 0
    misses: list[str] = []
    with Session(get_engine(settings.db_url)) as s:
        coll = Collection(code="BENCH", name="bench")
        s.add(coll)
        s.flush()
        lists = term_lists(settings, coll)
        for n, (case, positive) in enumerate(cases):
            text = case["text"]
            item = Item(collection_id=coll.id or 0, reference_code=f"B-{n}", kind="scan", abstract=text)
            s.add(item)
            s.flush()
            asset = Asset(item_id=item.id or 0, role="master", key=f"m/{n}", sha256=f"{n:064d}")
            s.add(asset)
            s.flush()
            lines = [{"text": t, "bbox": [0, 30 * k, 600, 30 * k + 28], "words": []}
                     for k, t in enumerate(text.split("\n"))]  # fmt: skip
            s.add(Page(item_id=item.id or 0, asset_id=asset.id, page_no=1, text=text, lines=lines))
            tr = Transcript(item_id=item.id or 0, asset_id=asset.id or 0, language="zh")
            s.add(tr)
            s.flush()
            s.add(Segment(transcript_id=tr.id or 0, seq=0, start=0, end=3, text=text, raw_text=text))
            s.flush()
            screen_item(s, item, lists)
            query = select(Flag).where(Flag.item_id == item.id, col(Flag.kind).in_(SCREENING_KINDS))
            flags = s.exec(query).all()
            where: dict[str, set[str]] = {"field": set(), "page": set(), "segment": set()}
            for f in flags:
                place = "page" if f.page_no is not None else "field" if f.segment_id is None else "segment"
                where[place].add(_digits(str(f.detail.get("value", ""))))
            naive = {_digits(m.group()) for rx in NAIVE.values() for m in rx.finditer(text)}
            if positive:
                want = [_digits_core(v) for _, v in case["expect"]]
                ok = all(any(v in _digits_core(g) for g in got) for v in want for got in where.values())
                found += ok
                missed += not ok
                if not ok:
                    misses.append(f"{case['id']} {where}")
                naive_found += all(any(v in _digits_core(x) for x in naive) for v in want)
            else:
                fp += bool(flags)
                naive_fp += bool(naive)
        s.rollback()
    positives, negatives = len(corpus["positives"]), len(corpus["negatives"])
    print(f"corpus: {positives} positives, {negatives} negatives; each in a field, a page and a segment")
    print(f"{'detector':10} {'recall by item':>15} {'false positives':>16}")
    print(f"{'naive':10} {naive_found / positives:15.3f} {naive_fp / negatives:16.3f}")
    print(f"{'lantai':10} {found / positives:15.3f} {fp / negatives:16.3f}")
    if misses:
        print("missed:", ", ".join(misses))


def _digits_core(value: str) -> str:
    digits = _digits(value)
    return re.sub(r"^\+?(0086|86)(?=\d{9,})", "", digits.lstrip("(+)").replace("(", "").replace(")", ""))


def cost() -> None:
    from sqlmodel import Session

    from bench.screen_quality import NAIVE
    from catalog.db import get_engine
    from catalog.models import Asset, Collection, Item, ItemStatus, Segment, Transcript
    from catalog.review.editing import Editor, edit_segment
    from catalog.review.screening import screen_item, term_lists
    from configs import get_settings
    from tasks import screen

    rng = random.Random(7)
    settings = get_settings()

    def chinese(n: int) -> str:
        return "".join(rng.choice(FILLER) for _ in range(n))

    page = chinese(480) + " 联系电话 138 0013 8000 " + chinese(500)
    page = "\n".join(page[k : k + 40] for k in range(0, 1000, 40))[:1000]
    lists = term_lists(settings, None)

    def naive(text: str) -> None:
        for rx in NAIVE.values():
            list(rx.finditer(text))

    t_page = _timed(lambda: screen.screen_text(page, lists), 50)
    t_page_naive = _timed(lambda: naive(page), 50)
    print(f"page of {len(page)} characters: {t_page * 1000:.2f} ms (naive {t_page_naive * 1000:.3f} ms, "
          f"×{t_page / t_page_naive:.0f})")  # fmt: skip

    with Session(get_engine(settings.db_url)) as s:
        coll = Collection(code="COST", name="cost")
        s.add(coll)
        s.flush()
        for hours in (1, 3):
            item = Item(collection_id=coll.id or 0, reference_code=f"C-{hours}", kind="recording",
                        status=ItemStatus.enriched)  # fmt: skip
            s.add(item)
            s.flush()
            asset = Asset(item_id=item.id or 0, role="master", key=f"c/{hours}", sha256=f"{hours:064d}")
            s.add(asset)
            s.flush()
            tr = Transcript(
                item_id=item.id or 0, asset_id=asset.id or 0, language="zh", duration=3600 * hours
            )
            s.add(tr)
            s.flush()
            segs = []
            for k in range(660 * hours):
                text = chinese(20) if k % 97 else f"我的电话是{rng.randrange(13000000000, 13999999999)}"
                seg = Segment(transcript_id=tr.id or 0, seq=k, start=k * 5.45, end=k * 5.45 + 5, text=text,
                              raw_text=text, speaker="口述者" if k % 2 else "采访者")  # fmt: skip
                s.add(seg)
                segs.append(seg)
            s.flush()
            text = "\n".join(x.text for x in segs)
            screen_item(s, item, lists)  # first pass: the flags exist, as after enrichment
            t_item = _timed(lambda item=item: screen_item(s, item, lists), 5)
            t_naive = _timed(lambda text=text: naive(text), 5)
            print(
                f"transcript of {hours} h ({len(segs)} segments, {len(text)} characters), whole item "
                f"screened: {t_item * 1000:.0f} ms (naive regexes over its text {t_naive * 1000:.1f} ms)"
            )
            if hours == 3:
                editor = Editor(name="bench", role="editor")
                target = segs[len(segs) // 2]
                times = []
                for n in range(5):
                    t = time.perf_counter()
                    edit_segment(s, segment_id=target.id or 0, version=target.version,
                                 text=f"{target.text[:10]}改{n}", editor=editor)  # fmt: skip
                    s.flush()
                    times.append(time.perf_counter() - t)
                    s.refresh(target)
                t_edit = statistics.median(times)
                print(f"3-hour interview, one segment edit saved (screened whole, reindexed, revision): "
                      f"{t_edit * 1000:.0f} ms median of 5")  # fmt: skip
        s.rollback()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db-url", default="")
    args = ap.parse_args()
    home = Path(tempfile.mkdtemp(prefix="lantai-bench-screen-"))
    os.environ["LANTAI_HOME"] = str(home)
    if args.db_url:
        os.environ["LANTAI_DATABASE_URL"] = args.db_url
    quality()
    cost()


if __name__ == "__main__":
    main()
