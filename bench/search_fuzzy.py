"""What error-tolerant search finds and costs, against exact search in the same run.

A catalog of pages whose OCR lines are the sentences of real Chinese texts (the archive
plans of ../shared/data/text, cut into lines of 12–24 characters), written through the
product's write path (items, pages, ``reindex_item``) with statistics refreshed as the
product does. Queries: phrases of 4–8 characters drawn from random lines, each with one
character replaced by another — what OCR does when it reads 思 for 怎. Measured: how many
of the misread phrases find their item exactly (none should, unless the misread phrase
occurs elsewhere) and with ``fuzzy`` (where it ranks), and the median and p95 latency of
both, on SQLite or the PostgreSQL URL given.

    .venv/bin/python bench/search_fuzzy.py [--lines 20000] [--queries 200] [--db-url postgresql+psycopg://…]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
TEXTS = REPO.parent / "shared" / "data" / "text"


def _lines(limit: int, rng: random.Random) -> list[str]:
    han = re.compile(r"[\u4e00-\u9fff]+")
    runs = [r for f in sorted(TEXTS.glob("*.txt")) for r in han.findall(f.read_text(encoding="utf-8"))]
    stream = "".join(runs)
    out, pos = [], 0
    while len(out) < limit:
        n = rng.randint(12, 24)
        if pos + n > len(stream):
            pos = 0
        out.append(stream[pos : pos + n])
        pos += n
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=20_000)
    ap.add_argument("--per-page", type=int, default=20)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--db-url", default="")
    args = ap.parse_args()
    os.environ["LANTAI_HOME"] = tempfile.mkdtemp(prefix="lantai-fuzzy-")
    if args.db_url:
        os.environ["LANTAI_DATABASE_URL"] = args.db_url
    from sqlmodel import Session

    from catalog.db import get_engine
    from catalog.models import Access, Asset, Collection, Item, Page
    from catalog.ops.statistics import refresh
    from catalog.search import Filters, reindex_item, search_items
    from configs import get_settings

    rng = random.Random(7)
    lines = _lines(args.lines, rng)
    engine = get_engine(get_settings().db_url)
    started = time.perf_counter()
    with Session(engine) as s:
        coll = Collection(code="F", name="fuzzy")
        s.add(coll)
        s.flush()
        for n in range(0, len(lines), args.per_page):
            item = Item(collection_id=coll.id or 0, reference_code=f"F-{n}", title=f"第{n}件",
                        kind="scan", access=Access.open)  # fmt: skip
            s.add(item)
            s.flush()
            asset = Asset(item_id=item.id or 0, role="master", key=f"m/{n}", sha256=f"{n:064d}")
            s.add(asset)
            s.flush()
            rows = [{"text": t, "bbox": [0, 30 * k, 600, 30 * k + 24], "conf": 90, "words": []}
                    for k, t in enumerate(lines[n : n + args.per_page])]  # fmt: skip
            s.add(Page(item_id=item.id or 0, asset_id=asset.id or 0, page_no=1, lines=rows,
                       text="\n".join(r["text"] for r in rows)))  # fmt: skip
            s.flush()
            reindex_item(s, item)
        s.commit()
    refresh(engine, force=True)
    print(f"catalog: {len(lines):,} lines in {len(lines) // args.per_page:,} items, "
          f"built in {time.perf_counter() - started:.0f} s ({engine.dialect.name})")  # fmt: skip
    alphabet = sorted({ch for line in lines for ch in line})
    queries = []
    for _ in range(args.queries):
        line_no = rng.randrange(len(lines))
        line = lines[line_no]
        n = rng.randint(4, min(8, len(line)))
        start = rng.randrange(len(line) - n + 1)
        phrase = list(line[start : start + n])
        k = rng.randrange(n)
        phrase[k] = rng.choice([c for c in alphabet if c != phrase[k]][:500])
        queries.append(("".join(phrase), f"F-{line_no - line_no % args.per_page}"))
    filters = Filters()
    results: dict[str, list[float]] = {"exact": [], "fuzzy": []}
    found = {"exact": 0, "fuzzy": 0}
    ranks: list[int] = []
    with Session(engine) as s:
        for q, want in queries:
            for mode in ("exact", "fuzzy"):
                t0 = time.perf_counter()
                hits = search_items(s, q, filters=filters, limit=20, with_facets=False,
                                    fuzzy=mode == "fuzzy").items  # fmt: skip
                results[mode].append((time.perf_counter() - t0) * 1000)
                codes = [h.reference_code for h in hits]
                if want in codes:
                    found[mode] += 1
                    if mode == "fuzzy":
                        ranks.append(codes.index(want) + 1)
    for mode in ("exact", "fuzzy"):
        xs = sorted(results[mode])
        p95 = xs[int(len(xs) * 0.95) - 1]
        print(f"{mode:5}: found {found[mode]}/{len(queries)} misread phrases' items; "
              f"p50 {statistics.median(xs):.1f} ms, p95 {p95:.1f} ms")  # fmt: skip
    if ranks:
        print(f"fuzzy: the item ranked first in {sum(1 for r in ranks if r == 1)}/{len(ranks)}, "
              f"median rank {statistics.median(ranks):.0f}")  # fmt: skip
    ratio = statistics.median(results["fuzzy"]) / max(statistics.median(results["exact"]), 1e-9)
    print(f"cost: fuzzy/exact median latency x{ratio:.1f}")


if __name__ == "__main__":
    main()
