"""Editor saves while a worker transcribes: the latency of ``PUT /api/segments/ID`` (the
web app in process, as the browser calls it) on an already enriched item, first with
nothing else running (the baseline, same run), then while ``lantai enrich`` transcribes a
long recording in another process, as a worker does. Prints p50/p95/max of both and the
ratio.

    .venv/bin/python bench/editor_saves.py [--minutes 8] [--saves 40]
        [--db-url postgresql+psycopg://…]   (default: SQLite in a fresh LANTAI_HOME)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
PASSWORD = "correct horse battery"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=8.0, help="length of the recording being transcribed")
    ap.add_argument("--saves", type=int, default=40)
    ap.add_argument("--db-url", default="")
    ap.add_argument("--clips", type=Path, default=REPO.parent / "shared" / "data" / "asr")
    args = ap.parse_args()
    home = Path(tempfile.mkdtemp(prefix="lantai-saves-"))
    os.environ["LANTAI_HOME"] = str(home)
    os.environ.setdefault("LANTAI_MODELS_DIR", str(REPO / "data" / "models"))
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")  # a busy machine
    if args.db_url:
        os.environ["LANTAI_DATABASE_URL"] = args.db_url

    from fastapi.testclient import TestClient
    from sqlmodel import select

    from bench.asr_speed import build
    from catalog.db import session_scope
    from catalog.models import Item, Segment
    from configs import get_settings
    from flows.enrich import enrich_flow
    from flows.ingest import ingest_flow
    from storage import ObjectNotFound, open_store
    from web.app import create_app
    from web.security import add_user

    samples = REPO / "samples" / "demo"
    clips = sorted(p for p in args.clips.rglob("*") if p.suffix in (".wav", ".flac", ".mp3")) or [
        samples / "房地产中介协会.wav",
        samples / "寄语.wav",
    ]
    first = home / "first"
    first.mkdir()
    shutil.copy(samples / "寄语.wav", first)
    ingest_flow(str(first), "B", None, None)
    enrich_flow("B")
    settings = get_settings()
    with session_scope(settings) as session:
        add_user(session, name="ed", role="editor", password=PASSWORD)
        seg = session.exec(select(Segment).order_by(Segment.id)).first()
        assert seg is not None
        seg_id = seg.id
    long = build(clips, args.minutes, home / "long.wav", home)
    ingest_flow([str(long)], "B", None, None)
    with session_scope(settings) as session:
        long_id = session.exec(select(Item).where(Item.status == "pending")).one().id

    client = TestClient(create_app())
    form = client.get("/login").text
    token = form.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    client.post("/login", data={"username": "ed", "password": PASSWORD, "csrf_token": token})
    csrf = client.get("/review").text.split('data-csrf="', 1)[1].split('"', 1)[0]

    def saves(n: int, *, while_running: subprocess.Popen[str] | None = None) -> list[float]:
        times = []
        for i in range(n):
            with session_scope(settings) as session:
                version = session.get(Segment, seg_id).version  # type: ignore[union-attr]
            began = time.perf_counter()
            r = client.put(
                f"/api/segments/{seg_id}",
                json={"version": version, "text": f"校对第 {i} 次"},
                headers={"X-CSRF-Token": csrf},
            )
            times.append((time.perf_counter() - began) * 1000)
            assert r.status_code == 200, r.text
            if while_running is not None:
                assert while_running.poll() is None, "the enrichment ended before the saves did"
            time.sleep(0.25)
        return times

    def stage() -> str:
        try:
            with open_store(settings).open(f"progress/{long_id}.json") as fh:
                return str(json.load(fh).get("stage", ""))
        except (ObjectNotFound, FileNotFoundError, ValueError):
            return ""

    idle = saves(args.saves)
    worker = subprocess.Popen(
        [str(Path(sys.executable).with_name("lantai")), "enrich", "--item", str(long_id)],
        env=os.environ.copy(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    while stage() != "transcribe":
        if worker.poll() is not None:
            raise SystemExit("the enrichment ended before it transcribed")
        time.sleep(0.5)
    busy = saves(args.saves, while_running=worker)
    worker.wait()

    def line(name: str, t: list[float]) -> dict[str, float]:
        row = {
            "p50_ms": round(statistics.median(t), 1),
            "p95_ms": round(statistics.quantiles(t, n=20)[18], 1),
            "max_ms": round(max(t), 1),
        }
        print(f"{name:22} " + "  ".join(f"{k[:3]} {v:7.1f} ms" for k, v in row.items()))
        return row

    print(f"{settings.db_url.split(':', 1)[0]}: {args.saves} saves each, recording of {args.minutes} min")
    a, b = line("idle (baseline)", idle), line("while transcribing", busy)
    ratios = {k: b[k] / a[k] for k in ("p50_ms", "p95_ms")}
    print(f"ratio while transcribing / idle: p50 ×{ratios['p50_ms']:.2f}, p95 ×{ratios['p95_ms']:.2f}")
    shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
