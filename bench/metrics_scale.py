"""``/metrics`` at archive scale: a catalog with a million OCR and transcription events
(and a thousand failed items with assorted reasons), scraped with the metrics token, timed
against ``/healthz`` in the same run.

    .venv/bin/python bench/metrics_scale.py [--events 1000000] [--backend sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def seed(db_url: str, events: int) -> None:
    import sqlalchemy as sa

    from catalog.db import get_engine
    from catalog.models import Collection, Item, ItemStatus

    engine = get_engine(db_url)
    rng = random.Random(7)
    now = datetime.now(UTC)
    event = sa.table(
        "event",
        sa.column("item_id"),
        sa.column("type"),
        sa.column("agent"),
        sa.column("outcome"),
        sa.column("detail", sa.JSON),
        sa.column("at", sa.DateTime(timezone=True)),
    )
    from sqlmodel import Session

    with Session(engine) as s:
        coll = Collection(code="M", name="metrics")
        s.add(coll)
        s.flush()
        reasons = [
            "corrupt or truncated image: broken data stream",
            "page 3 timed out after 300 s",
            "Tesseract crashed: signal 11",
            "storage unreachable: 10.0.0.5:9000",
            "no speech detected",
            "encrypted PDF (password required)",
            "ffmpeg cannot decode: Invalid data found",
        ]
        for i in range(1000):
            s.add(
                Item(
                    collection_id=coll.id or 0,
                    reference_code=f"J001-WS·2020·Y-{i:05d}",
                    title=f"t{i}",
                    status=ItemStatus.failed,
                    status_reason=f"{reasons[i % len(reasons)]} ({i})",
                )
            )
        s.commit()
    chunk = 20_000
    # what the counters hold after these runs (catalog.ops.operations.count_processing keeps them
    # as events are written; the bench writes the events directly)
    stats: dict[str, dict[str, float]] = {}
    with engine.begin() as conn:
        for start in range(0, events, chunk):
            rows = []
            for _ in range(min(chunk, events - start)):
                ocr = rng.random() < 0.7
                rows.append(
                    {
                        "item_id": None,
                        "agent": "lantai",
                        "outcome": "success",
                        "type": "optical character recognition" if ocr else "transcription",
                        "detail": {
                            "engine": "tesseract" if ocr else "faster-whisper",
                            "seconds": round(rng.expovariate(1 / (20 if ocr else 300)), 2),
                            **({"pages": rng.randint(1, 40)} if ocr else {"duration": rng.uniform(60, 7200)}),
                        },
                        "at": now - timedelta(seconds=rng.uniform(0, 90 * 86400)),
                    }
                )
            conn.execute(event.insert(), rows)
            for r in rows:
                d = r["detail"]
                st = stats.setdefault(d["engine"], {"count": 0, "total_seconds": 0.0})
                st["count"] += 1
                st["total_seconds"] += d["seconds"]
                for b in (1, 5, 15, 60, 300, 900, 3600):
                    st[f"le_{b}"] = st.get(f"le_{b}", 0) + (d["seconds"] <= b)
    from catalog.models import ProcessingStat

    with Session(engine) as s:
        for name, st in stats.items():
            s.add(ProcessingStat(engine=name, **st))
        s.commit()


def timed(client, url: str, headers: dict[str, str], n: int) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for _ in range(n):
        t = time.perf_counter()
        r = client.get(url, headers=headers)
        out.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200, r.text[:200]
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="lantai-metrics-"))
    os.environ["LANTAI_HOME"] = str(home)
    os.environ["LANTAI_METRICS_TOKEN"] = "bench-token"
    if args.backend == "postgresql":
        import uuid

        import sqlalchemy as sa

        name = f"lantai_bench_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(
            "postgresql+psycopg://postgres@127.0.0.1:5432/postgres", isolation_level="AUTOCOMMIT"
        )
        with admin.connect() as c:
            c.execute(sa.text(f"CREATE DATABASE {name}"))
        os.environ["LANTAI_DATABASE_URL"] = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    from fastapi.testclient import TestClient

    from configs import get_settings
    from web.app import create_app

    settings = get_settings()
    t = time.perf_counter()
    seed(settings.db_url, args.events)
    print(f"seeded {args.events:,} events in {time.perf_counter() - t:.1f} s ({args.backend})")
    client = TestClient(create_app(settings))
    headers = {"Authorization": "Bearer bench-token"}
    client.get("/metrics", headers=headers)  # warm
    base = timed(client, "/healthz", {}, args.runs)
    metrics = timed(client, "/metrics", headers, args.runs)
    body = client.get("/metrics", headers=headers).text
    p50b, p50m = statistics.median(base), statistics.median(metrics)
    print(f"/healthz  p50 {p50b:8.1f} ms")
    print(f"/metrics  p50 {p50m:8.1f} ms  max {max(metrics):8.1f} ms  ×{p50m / p50b:.0f} /healthz")
    print(
        f"failure label values: {len([ln for ln in body.splitlines() if ln.startswith('lantai_failures{')])}"
    )


if __name__ == "__main__":
    main()
