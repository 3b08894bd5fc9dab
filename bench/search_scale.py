"""Search at archive scale: build a catalog of (by default) 100,000 items with 1,000,000
transcript segments and 1,000,000 OCR pages of real Chinese archival prose (sentences of
the planning documents in ../shared/data/text, recombined) — the rows in bulk, the search
index through the product's indexer (``reindex_item``, a batch of items per transaction,
the planner statistics refreshed after each batch by ``catalog.ops.statistics`` as ingest
and enrich do; the benchmark runs no ``ANALYZE`` of its own) — then measure index build time,
database size, and p50/p95 latency of 50 two-to-four-character queries and 10 phrase
queries with filters through ``catalog.search.search`` (alone, and with the facet counts
the search pages show: what a user waits for) — against a naive
``LIKE '%…%'`` scan with the same filters, measured in the same run. Both are measured
warm (one untimed pass over all queries first); a query's time is the median of three runs.

    .venv/bin/python bench/search_scale.py --backend sqlite|postgresql [--items 100000]
        [--segments 1000000] [--pages 1000000] [--pg-url postgresql+psycopg://…]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

REPO = Path(__file__).resolve().parents[1]
BATCH = 20_000
INDEX_BATCH = 2_000  # items indexed per transaction
QUERY_SEED = 7  # the same queries after a build and with --reuse
REPEATS = 3


def sentences(folder: Path) -> list[str]:
    text = "\n".join(p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.txt")))
    parts = [s.strip() for s in re.split(r"[。！？；\n]", text)]
    return [s for s in parts if 8 <= len(s) <= 120]


NOW = "2026-11-21T00:00:00+00:00"
DEFAULTS: dict[str, dict[str, Any]] = {
    "collection": {"fonds": "J001", "ocr_languages": "chi_sim", "asr_language": "", "script": "zh-Hans",
                   "vocabulary": "", "term_lists": "", "retention": "Y", "created_at": NOW},
    "item": {"status_reason": "", "creator": "", "place": "", "people": "", "abstract": "", "extent": "",
             "generation": "数字化", "retention": "Y", "classification": "", "notes": "", "narrator": "",
             "interviewer": "", "collected_at": "", "collected_place": "", "consent": "", "source_name": "",
             "batch": "", "ocr_languages": "", "progress": 1.0, "extra": "{}", "version": 0, "claimed_by": "",
             "created_at": NOW, "updated_at": NOW},
    "asset": {"size": 0, "media_type": "", "format_name": "", "original_name": "", "sequence": 0,
              "tech": "{}", "created_at": NOW},
    "transcript": {"language": "zh", "language_probability": 1.0, "duration": 3600.0,
                   "engine": "faster-whisper", "model": "base", "model_sha256": "", "options": "{}",
                   "result_key": "", "status": "ok", "error": "", "created_at": NOW},
    "segment": {"raw_text": "", "confidence": 0.8, "speaker": "", "words": "[]", "version": 0},
    "page": {"width": 2480, "height": 3508, "mean_conf": 85.0, "status": "ok", "error": "",
             "engine": "tesseract", "method": "ocr", "rotation": 0, "skew": 0.0, "image_key": "",
             "result_key": "", "version": 0, "created_at": NOW},
    "search_entry": {},
}  # fmt: skip


def insert(c: Any, table: str, rows: list[dict[str, Any]]) -> None:
    """A multi-row INSERT of complete rows (the table's defaults filled in)."""
    if not rows:
        return
    full = [DEFAULTS[table] | r for r in rows]
    cols = list(full[0])
    names = ", ".join(f'"{k}"' for k in cols)
    values = ", ".join(f":{k}" for k in cols)
    c.execute(sa.text(f"INSERT INTO {table} ({names}) VALUES ({values})"), full)


def build(url: str, args: argparse.Namespace, rnd: random.Random, pool: list[str]) -> dict[str, Any]:
    from sqlmodel import select

    from catalog.db import get_engine
    from catalog.models import Item
    from catalog.ops import statistics
    from catalog.search import reindex_item

    engine = get_engine(url)  # schema via the migrations
    t0 = time.perf_counter()
    kinds = ["recording" if i % 2 else "scan" for i in range(args.items)]
    segs_per = args.segments // (args.items // 2)
    pages_per = args.pages // (args.items // 2)
    lines_per_page = 3
    item_rows, asset_rows = [], []
    for i in range(1, args.items + 1):
        year = rnd.randint(1950, 2023)
        category = "LY" if kinds[i - 1] == "recording" else "WS"
        item_rows.append(
            {
                "id": i,
                "collection_id": 1,
                "reference_code": f"J001-{category}·{year}·Y-{i:06d}",
                "title": rnd.choice(pool)[:30],
                "kind": kinds[i - 1],
                "status": "enriched",
                "access": "开放" if i % 10 else "控制",
                "date": f"{year}0{rnd.randint(1, 9)}1{rnd.randint(0, 9)}",
                "language": "中文",
                "subject": rnd.choice(pool)[:12],
            }
        )
        asset_rows.append(
            {"id": i, "item_id": i, "role": "master", "key": f"masters/{i:06d}", "sha256": f"{i:064d}"}
        )
    with engine.begin() as c:
        insert(c, "collection", [{"id": 1, "code": "BIG", "name": "bench"}])
        for chunk in range(0, len(item_rows), BATCH):
            insert(c, "item", item_rows[chunk : chunk + BATCH])
            insert(c, "asset", asset_rows[chunk : chunk + BATCH])
    seg_id = page_id = tr_id = 0
    segs: list[dict[str, Any]] = []
    pages: list[dict[str, Any]] = []
    trs: list[dict[str, Any]] = []

    def flush(c: Any) -> None:
        insert(c, "transcript", trs)
        insert(c, "segment", segs)
        insert(c, "page", pages)
        trs.clear(), segs.clear(), pages.clear()

    with engine.begin() as c:
        for row in item_rows:
            i = row["id"]
            if row["kind"] == "recording":
                tr_id += 1
                trs.append({"id": tr_id, "item_id": i, "asset_id": i})
                for k in range(segs_per):
                    seg_id += 1
                    body = rnd.choice(pool)
                    start, end = k * 5.0, k * 5.0 + 4.5
                    segs.append(
                        {
                            "id": seg_id,
                            "transcript_id": tr_id,
                            "seq": k,
                            "start": start,
                            "end": end,
                            "text": body,
                        }
                    )
            else:
                for k in range(1, pages_per + 1):
                    page_id += 1
                    lines = [
                        {
                            "text": rnd.choice(pool),
                            "bbox": [100, 100 + 60 * n, 2300, 150 + 60 * n],
                            "conf": 85,
                        }
                        for n in range(lines_per_page)
                    ]
                    pages.append(
                        {
                            "id": page_id,
                            "item_id": i,
                            "asset_id": i,
                            "page_no": k,
                            "source_page": k,
                            "text": "\n".join(x["text"] for x in lines),
                            "lines": json.dumps([x | {"words": []} for x in lines], ensure_ascii=False),
                        }
                    )
            if len(segs) + len(pages) >= BATCH:
                flush(c)
        flush(c)
        if engine.dialect.name == "postgresql":
            for table in ("collection", "item", "asset", "transcript", "segment", "page"):
                seq = f"pg_get_serial_sequence('{table}', 'id')"
                c.execute(sa.text(f"SELECT setval({seq}, (SELECT max(id) FROM {table}))"))
    loaded = time.perf_counter()
    # the search index through the product's indexer, a batch of items per transaction as
    # ingest and enrich write them, and the planner statistics refreshed after each batch
    # as they do (catalog.ops.statistics): no ANALYZE of the benchmark's own
    for start in range(1, args.items + 1, INDEX_BATCH):
        with Session(engine) as s:
            batch = s.exec(select(Item).where(Item.id >= start, Item.id < start + INDEX_BATCH)).all()
            for item in batch:
                reindex_item(s, item, fresh=True)
            s.commit()
        statistics.refresh(engine)
        done = min(args.items, start + INDEX_BATCH - 1)
        print(f"  indexed {done}/{args.items} items ({time.perf_counter() - loaded:.0f} s)", flush=True)
    with engine.connect() as c:
        eid = int(c.execute(sa.text("SELECT count(*) FROM search_entry")).scalar_one())
        if engine.dialect.name == "postgresql":
            size = c.execute(sa.text("SELECT pg_database_size(current_database())")).scalar_one()
        else:
            c.execute(sa.text("PRAGMA wal_checkpoint(TRUNCATE)"))
            size = Path(url.split("///", 1)[1]).stat().st_size
    return {
        "build_seconds": round(time.perf_counter() - t0, 1),
        "index_seconds": round(time.perf_counter() - loaded, 1),
        "db_mb": round(size / 1e6),
        "entries": eid,
        "segments": seg_id,
        "pages": page_id,
    }


def queries(pool: list[str], rnd: random.Random) -> tuple[list[str], list[str]]:
    text = "".join(pool)
    runs = re.findall(r"[\u4e00-\u9fff]{2,}", text)
    short: list[str] = []
    while len(short) < 50:
        run = rnd.choice(runs)
        n = rnd.randint(2, 4)
        if len(run) >= n:
            start = rnd.randint(0, len(run) - n)
            if run[start : start + n] not in short:
                short.append(run[start : start + n])
    phrases = []
    while len(phrases) < 10:
        run = rnd.choice(runs)
        if len(run) >= 8:
            start = rnd.randint(0, len(run) - 6)
            phrases.append(run[start : start + rnd.randint(5, 6)])
    return short, phrases


def measure(url: str, short: list[str], phrases: list[str]) -> dict[str, Any]:
    from catalog.db import get_engine
    from catalog.search import Filters, search, search_items

    engine = get_engine(url)
    plain = Filters(include_restricted=True)
    filtered = [
        Filters(kind="scan", year_from=1960, year_to=1999, include_restricted=True),
        Filters(kind="recording", year_from=1970, include_restricted=False),
    ]

    def lantai(q: str, f: Filters) -> float:
        with Session(engine) as s:
            t = time.perf_counter()
            search(s, q, filters=f, limit=20)
            return (time.perf_counter() - t) * 1000

    def with_facets(q: str, f: Filters) -> float:
        """What the search page waits for: the hits and the (capped) facet counts."""
        with Session(engine) as s:
            t = time.perf_counter()
            search_items(s, q, filters=f, limit=20)
            return (time.perf_counter() - t) * 1000

    def like(q: str, f: Filters) -> float:
        where, params = f.sql()
        with engine.connect() as c:
            t = time.perf_counter()
            c.execute(
                sa.text(f"""SELECT e.id FROM search_entry e JOIN item i ON i.id = e.item_id
                                  WHERE e.text LIKE :pat{where} LIMIT 20"""),
                params | {"pat": f"%{q}%"},
            ).all()
            return (time.perf_counter() - t) * 1000

    runs = [(q, plain) for q in short] + [(q, filtered[n % 2]) for n, q in enumerate(phrases)]
    out = {}
    for name, fn in (("lantai", lantai), ("facets", with_facets), ("like", like)):
        for q, f in runs:  # one untimed pass: both measured with warm caches
            fn(q, f)
        # each query's median of REPEATS runs (a shared machine's stalls hit single runs)
        times = [statistics.median(fn(q, f) for _ in range(REPEATS)) for q, f in runs]
        out[name] = {
            "p50_ms": round(statistics.median(times), 1),
            "p95_ms": round(statistics.quantiles(times, n=20)[18], 1),
            "max_ms": round(max(times), 1),
        }
    # two words of the short queries together (AND over the item: each word is one index
    # query, a word past the cap asked again within the other's items), with facets
    pairs = [(f"{a} {b}", plain) for a, b in zip(short[::2], short[1::2], strict=False)]
    for q, f in pairs:
        with_facets(q, f)
    times = [statistics.median(with_facets(q, f) for _ in range(REPEATS)) for q, f in pairs]
    out["pairs"] = {
        "p50_ms": round(statistics.median(times), 1),
        "p95_ms": round(statistics.quantiles(times, n=20)[18], 1),
        "max_ms": round(max(times), 1),
    }
    return out


def report(result: dict[str, Any]) -> None:
    for k, v in result.items():
        print(f"{k:7} p50 {v['p50_ms']:8.1f} ms  p95 {v['p95_ms']:8.1f} ms  max {v['max_ms']:8.1f} ms")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    ap.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--items", type=int, default=100_000)
    ap.add_argument("--segments", type=int, default=1_000_000)
    ap.add_argument("--pages", type=int, default=1_000_000)
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "text")
    ap.add_argument("--reuse", help="measure an already built catalog at this database URL")
    ap.add_argument("--keep", action="store_true", help="keep the PostgreSQL database for --reuse")
    args = ap.parse_args()
    rnd = random.Random(42)
    pool = sentences(args.data)
    if args.reuse:
        url, name = args.reuse, None
        report(measure(url, *queries(pool, random.Random(QUERY_SEED))))
        return
    if args.backend == "sqlite":
        url = f"sqlite:///{tempfile.mkdtemp(prefix='lantai-scale-')}/catalog.db"
        name = None
    else:
        name = f"lantai_scale_{int(time.time())}"
        admin = sa.create_engine(args.pg_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(sa.text(f'CREATE DATABASE "{name}"'))
        url = args.pg_url.rsplit("/", 1)[0] + "/" + name
    try:
        print(
            f"{args.backend}: {len(pool)} source sentences; building {args.items} items, "
            f"{args.segments} segments, {args.pages} pages …",
            flush=True,
        )
        built = build(url, args, rnd, pool)
        print(
            f"built in {built['build_seconds']} s: {built['entries']} entries, {built['db_mb']} MB",
            flush=True,
        )
        result = measure(url, *queries(pool, random.Random(QUERY_SEED)))
        report(result)
        print(
            f"ratio like/lantai: p50 ×{result['like']['p50_ms'] / result['lantai']['p50_ms']:.1f}, "
            f"p95 ×{result['like']['p95_ms'] / result['lantai']['p95_ms']:.1f}; "
            f"with facets/search alone: p95 ×{result['facets']['p95_ms'] / result['lantai']['p95_ms']:.2f}"
        )
    finally:
        if name:
            from catalog.db import get_engine

            get_engine.cache_clear()
            with admin.connect() as c:
                if not args.keep:
                    c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                else:
                    print(f"kept: {url}")


if __name__ == "__main__":
    main()
