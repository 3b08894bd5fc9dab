"""An inbox of many files on SeaweedFS: `lantai ingest s3://…` completes, survives
``kill -9`` and resumes with no duplicates, and its memory stays flat.

Puts N small, distinct page images into ``inbox/BIG/b000…/`` (1,000 per batch) with a bare
minio-SDK loop (timed: the baseline), then runs `lantai ingest s3://lantai/inbox/BIG/` as a
separate process, kills it with SIGKILL once a third of the items are in the catalog, runs
it again to the end, and checks: one item and one master per file, no file left in the
inbox, no master without an item. Prints files/s and each run's peak RSS (VmHWM).

    .venv/bin/python bench/ingest_inbox.py [--files 100000]
"""

from __future__ import annotations

import argparse
import io
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from minio import Minio
from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from bench.ingest import minio_env  # noqa: E402
from tests.servers import seaweedfs  # noqa: E402

PER_BATCH = 1000


def page(i: int) -> bytes:
    img = Image.new("L", (320, 60), 255)
    ImageDraw.Draw(img).text((10, 20), f"page {i} / 档案 {i}", fill=0)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def fill_inbox(client: Minio, bucket: str, n: int) -> float:
    """Bare put_object of n pages, 8 at a time; returns the seconds."""

    def put(i: int) -> None:
        data = page(i)
        key = f"inbox/BIG/b{i // PER_BATCH:04d}/p{i:06d}.png"
        client.put_object(bucket, key, io.BytesIO(data), len(data), content_type="image/png")

    start = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        for done, _ in enumerate(pool.map(put, range(n)), 1):
            if done % 10_000 == 0:
                print(f"    inbox: {done} files", flush=True)
    return time.perf_counter() - start


def items(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as c:
            return int(c.execute("select count(*) from item").fetchone()[0])
    except sqlite3.Error:
        return 0


def run_ingest(
    env: dict[str, str], bucket: str, db: Path, *, kill_at: int | None
) -> tuple[float, float, bool]:
    """Seconds, peak RSS (MB) and whether it was killed; prints the resident set every
    10,000 items, to show whether memory grows with the inbox or levels off."""
    cmd = [sys.executable, "-m", "lantai", "ingest", f"s3://{bucket}/inbox/BIG/", "--json"]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak_kb, killed, last_check, rss_kb, next_mark = 0, False, 0.0, 0, 0
    timeline = []
    while proc.poll() is None:
        try:
            status = Path(f"/proc/{proc.pid}/status").read_text()
            fields = {ln.split(":")[0]: ln.split()[1] for ln in status.splitlines() if ln.startswith("Vm")}
            peak_kb, rss_kb = max(peak_kb, int(fields["VmHWM"])), int(fields["VmRSS"])
        except (OSError, KeyError, IndexError):
            pass
        if time.monotonic() - last_check > 1:
            last_check = time.monotonic()
            count = items(db)
            if count >= next_mark and rss_kb:
                timeline.append(f"{count // 1000}k: {rss_kb / 1024:.0f} MB")
                next_mark = (count // 10_000 + 1) * 10_000
            if kill_at is not None and count >= kill_at:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                killed = True
                break
        time.sleep(0.1)
    print("    resident set by items in the catalog: " + ", ".join(timeline), flush=True)
    if not killed and proc.returncode:
        errors = (proc.stderr.read() if proc.stderr else b"").decode(errors="replace")
        raise SystemExit(f"lantai ingest failed ({proc.returncode}): {errors[-2000:]}")
    return time.perf_counter() - start, peak_kb / 1024, killed


def check(db: Path, client: Minio, bucket: str, n: int) -> dict[str, int]:
    with sqlite3.connect(db) as c:
        found = {
            "items": c.execute("select count(*) from item").fetchone()[0],
            "masters": c.execute("select count(*) from asset where role = 'master'").fetchone()[0],
            "distinct master checksums": c.execute(
                "select count(distinct sha256) from asset where role = 'master'"
            ).fetchone()[0],
            "distinct reference codes": c.execute(
                "select count(distinct reference_code) from item"
            ).fetchone()[0],
        }
    found["objects left in the inbox"] = sum(1 for _ in client.list_objects(bucket, "inbox/", recursive=True))
    found["master objects"] = sum(1 for _ in client.list_objects(bucket, "masters/", recursive=True))
    return found


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=100_000)
    args = ap.parse_args()
    n = args.files
    with tempfile.TemporaryDirectory(prefix="lantai-bench-", dir=os.environ.get("TMPDIR")) as tmp:
        root = Path(tmp)
        (root / "weed").mkdir()
        with seaweedfs(root / "weed", volume_size_mb=1024) as server:
            client = Minio(
                server.endpoint, access_key=server.access_key, secret_key=server.secret_key, secure=False
            )
            bucket = "lantai"
            client.make_bucket(bucket)
            print(f"{n} files into the inbox ({n // PER_BATCH or 1} batches) ...", flush=True)
            bare = fill_inbox(client, bucket, n)
            home = root / "home"
            env = minio_env(server, bucket, home)
            db = home / "catalog.db"
            first, rss1, killed = run_ingest(env, bucket, db, kill_at=n // 3)
            at_kill = items(db)
            second, rss2, _ = run_ingest(env, bucket, db, kill_at=None)
            found = check(db, client, bucket, n)
            total = first + second
            print(f"bare put_object of {n} files (8 threads): {bare:.1f} s, {n / bare:.0f} files/s")
            print(f"lantai ingest, killed (SIGKILL) at {at_kill} items: {first:.1f} s, RSS {rss1:.0f} MB")
            print(f"lantai ingest, resumed to the end: {second:.1f} s, peak RSS {rss2:.0f} MB")
            print(f"both runs: {total:.1f} s, {n / total:.0f} files/s (bare upload x {total / bare:.2f})")
            for k, v in found.items():
                print(f"  {k}: {v}")
            ok = (
                killed
                and found["items"] == found["masters"] == found["distinct master checksums"] == n
                and found["distinct reference codes"] == n
                and found["objects left in the inbox"] == 0
                and found["master objects"] == n
            )
            print("OK: complete, no duplicates, nothing left" if ok else "NOT OK")
            if not ok:
                raise SystemExit(1)


if __name__ == "__main__":
    main()
