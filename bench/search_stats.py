"""Search latency on a catalog nobody ran ANALYZE on, against the same catalog after the
product refreshed its planner statistics (``catalog.ops.statistics.refresh``, which ingest,
enrichment and ``lantai reindex`` run) — issue 31's finding: the planner starts from the
wrong index without statistics, and a search grows with the catalog.

The catalog is written through the product's own write path (items, pages with OCR lines,
``reindex_item``), never analysed by this script: the first timing is what a catalog built
before this change had; the second is what the product now keeps by itself.

    .venv/bin/python bench/search_stats.py [--items 1000] [--db-url postgresql+psycopg://…]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
WORDS = [
    "水库",
    "大坝",
    "灌溉",
    "防汛",
    "河道",
    "治理",
    "土地",
    "农业",
    "工业",
    "交通",
    "教育",
    "卫生",
    "人口",
    "财政",
    "税收",
    "会议",
    "纪要",
    "通知",
    "报告",
    "计划",
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=1000)
    ap.add_argument("--lines", type=int, default=10, help="OCR lines per item")
    ap.add_argument("--db-url", default="")
    args = ap.parse_args()
    os.environ["LANTAI_HOME"] = tempfile.mkdtemp(prefix="lantai-stats-")
    if args.db_url:
        os.environ["LANTAI_DATABASE_URL"] = args.db_url
    from sqlalchemy import text
    from sqlmodel import Session

    from catalog.db import get_engine
    from catalog.models import Access, Asset, Collection, Item, Page
    from catalog.ops import statistics as stats
    from catalog.search import Filters, reindex_item, search_items
    from configs import get_settings

    rng = random.Random(3)
    engine = get_engine(get_settings().db_url)
    with Session(engine) as s:
        coll = Collection(code="S", name="stats")
        s.add(coll)
        s.flush()
        for n in range(args.items):
            title = " ".join(rng.sample(WORDS, 3))
            item = Item(collection_id=coll.id or 0, reference_code=f"S-{n}", title=title, kind="scan",
                        access=Access.open, date=f"{rng.randint(1950, 2020)}0101")  # fmt: skip
            s.add(item)
            s.flush()
            asset = Asset(item_id=item.id or 0, role="master", key=f"m/{n}", sha256=f"{n:064d}")
            s.add(asset)
            s.flush()
            lines = [{"text": "".join(rng.sample(WORDS, 4)), "bbox": [0, 30 * k, 400, 30 * k + 28],
                      "words": []} for k in range(args.lines)]  # fmt: skip
            s.add(Page(item_id=item.id or 0, asset_id=asset.id, page_no=1, lines=lines,
                       text="\n".join(x["text"] for x in lines)))  # fmt: skip
            s.flush()
            reindex_item(s, item)
        s.commit()
    entries = stats.entries(engine)
    if engine.dialect.name == "sqlite":  # a catalog never analysed, as one built before this change
        with engine.connect() as c:
            c.execute(text("DROP TABLE IF EXISTS sqlite_stat1"))
            c.execute(text("DROP TABLE IF EXISTS sqlite_stat4"))
            c.commit()

    def timed() -> list[float]:
        out = []
        with Session(engine) as s:
            for q in ("水库", "防汛 会议", "灌溉"):
                for _ in range(15):
                    t = time.perf_counter()
                    search_items(s, q, filters=Filters(), limit=20, with_facets=True)
                    out.append((time.perf_counter() - t) * 1000)
        return out

    timed()  # a first pass: caches warm, so the comparison is of plans alone
    before = timed()
    t = time.perf_counter()
    stats.refresh(engine)
    took = time.perf_counter() - t
    after = timed()

    def p(xs: list[float], q: float) -> float:
        return statistics.quantiles(xs, n=100)[int(q) - 1]

    print(f"{engine.dialect.name}, {args.items} items, {entries} search entries")
    print(f"without statistics: p50 {p(before, 50):.1f} ms, p95 {p(before, 95):.1f} ms")
    print(f"after refresh ({took:.2f} s): p50 {p(after, 50):.1f} ms, p95 {p(after, 95):.1f} ms "
          f"(×{p(before, 50) / p(after, 50):.1f} at p50)")  # fmt: skip


if __name__ == "__main__":
    main()
