"""How large the search index is per page and per hour of audio.

A catalog of scans (pages of 30 OCR lines of 24–36 characters) and recordings (one hour
each: segments of 8–30 characters every 4 s, as Whisper cuts Chinese speech), all text
recombined from the sentences of ../shared/data/text, written through the product's path
(``reindex_item``). Measured: search entries per page and per hour, and the bytes the
index takes (SQLite: the database file after VACUUM, less the same catalog with the index
emptied; PostgreSQL: ``pg_total_relation_size`` of search_entry and its partitions).

Run it from another checkout to compare versions: ``python OTHER/bench/search_size.py``
measures OTHER's indexer with the same catalog (the same seed).

    .venv/bin/python bench/search_size.py [--pages 2000] [--hours 20] [--db-url URL]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
TEXTS = Path(__file__).resolve().parents[2] / "shared" / "data" / "text"
if not TEXTS.exists():
    TEXTS = Path("/work/shared/data/text")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", type=int, default=2000)
    ap.add_argument("--hours", type=int, default=20)
    ap.add_argument("--db-url", default="")
    args = ap.parse_args()
    rnd = random.Random(5)
    text = "".join(re.sub(r"\s+", "", p.read_text(encoding="utf-8")) for p in sorted(TEXTS.glob("*.txt")))

    def piece(lo: int, hi: int) -> str:
        n = rnd.randint(lo, hi)
        at = rnd.randrange(len(text) - n)
        return text[at : at + n]

    from sqlalchemy import text as sql
    from sqlmodel import Session

    from catalog.db import get_engine
    from catalog.models import Access, Asset, Collection, Item, Page, Segment, Transcript
    from catalog.search import reindex_item

    def build(url: str, kind: str) -> tuple[int, int]:
        """A catalog of only ``kind``; (search entries, index bytes)."""
        engine = get_engine(url)
        with Session(engine) as s:
            coll = Collection(code="SIZE", name="size bench")
            s.add(coll)
            s.flush()
            count = args.pages // 20 if kind == "scan" else args.hours
            for n in range(count):  # items of 20 pages, or of one hour
                item = Item(collection_id=coll.id or 0, reference_code=f"S-{n}", title=piece(8, 20),
                            kind=kind, access=Access.open)  # fmt: skip
                s.add(item)
                s.flush()
                asset = Asset(item_id=item.id or 0, role="master", key=f"m/{n}", sha256=str(n))
                s.add(asset)
                s.flush()
                if kind == "scan":
                    for k in range(1, 21):
                        lines = [{"text": piece(24, 36), "bbox": [60, 40 * r, 1200, 40 * r + 30], "conf": 90,
                                  "words": []} for r in range(30)]  # fmt: skip
                        s.add(Page(item_id=item.id or 0, asset_id=asset.id or 0, page_no=k, lines=lines,
                                   text="\n".join(x["text"] for x in lines)))  # fmt: skip
                else:
                    tr = Transcript(item_id=item.id or 0, asset_id=asset.id or 0)
                    s.add(tr)
                    s.flush()
                    for seq in range(900):  # one hour, a segment every 4 s
                        s.add(Segment(transcript_id=tr.id or 0, seq=seq, start=4.0 * seq,
                                      end=4.0 * seq + 3.8, text=piece(8, 30)))  # fmt: skip
                s.flush()
                reindex_item(s, item)
            s.commit()
            entries = int(
                s.execute(
                    sql("SELECT count(*) FROM search_entry WHERE field IN ('page', 'segment')")
                ).scalar_one()
            )
        if engine.dialect.name == "sqlite":
            path = url.removeprefix("sqlite:///")
            with engine.connect() as c:
                c.exec_driver_sql("VACUUM")
            whole = os.path.getsize(path)
            with engine.begin() as c:
                c.exec_driver_sql("DELETE FROM search_entry")
            with engine.connect() as c:
                c.exec_driver_sql("VACUUM")
            return entries, whole - os.path.getsize(path)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.exec_driver_sql("VACUUM search_entry")
            size = c.execute(
                sql("""SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c
                       WHERE c.relname LIKE 'search_entry%' AND c.relkind = 'r'""")
            ).scalar_one()
        engine.dispose()
        return entries, int(size or 0)

    with tempfile.TemporaryDirectory() as tmp:
        if args.db_url:
            from sqlalchemy import create_engine

            admin = create_engine(args.db_url, isolation_level="AUTOCOMMIT")
            urls = {}
            for kind in ("scan", "recording"):
                name = f"lantai_size_{kind}_{os.getpid()}"
                with admin.connect() as c:
                    c.exec_driver_sql(f"CREATE DATABASE {name}")
                urls[kind] = args.db_url.rsplit("/", 1)[0] + "/" + name
        else:
            urls = {kind: f"sqlite:///{tmp}/{kind}.db" for kind in ("scan", "recording")}
        pages_entries, pages_bytes = build(urls["scan"], "scan")
        audio_entries, audio_bytes = build(urls["recording"], "recording")
        if args.db_url:
            for url in urls.values():
                with admin.connect() as c:
                    c.exec_driver_sql(f"DROP DATABASE {url.rsplit('/', 1)[1]}")
    pages = args.pages // 20 * 20
    print(f"{REPO}: {pages} pages, {args.hours} hours of audio, {'PostgreSQL' if args.db_url else 'SQLite'}")
    per_page, per_hour = pages_bytes / pages / 1024, audio_bytes / args.hours / 1024
    print(f"per page: {pages_entries / pages:.2f} entries, {per_page:.1f} KiB of index")
    print(f"per hour: {audio_entries / args.hours:.0f} entries, {per_hour:.0f} KiB of index")


if __name__ == "__main__":
    main()
