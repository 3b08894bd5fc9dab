"""A run killed midway and started again completes without duplicates or orphans."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from tests.conftest import MODELS
from tests.lantai.test_cli import lantai

pytestmark = pytest.mark.slow  # the fast tier: bash scripts/test -m "not slow"


def _count_items(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return int(conn.execute("SELECT count(*) FROM item").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


@pytest.mark.parametrize("source", ["folder", "inbox"])
def test_ingest_killed_midway_resumes_without_duplicates(tmp_path: Path, source: str) -> None:
    """Kill -9 `lantai ingest` (a local folder, or files any S3 client put in the inbox)
    mid-batch, run it again: every file has one item and one master, nothing orphaned,
    nothing left in the inbox. One file at a time, one per transaction, so the kill lands
    between commits (with the defaults 30 files go in one transaction)."""
    batch = tmp_path / "batch"
    batch.mkdir()
    for n in range(30):
        img = Image.new("L", (400, 120), 255)
        ImageDraw.Draw(img).text((10, 40), f"page number {n}", fill=0)
        img.save(batch / f"page-{n:02d}.png")
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LANTAI_", "PREFECT_"))}
    env.update({"LANTAI_HOME": str(home), "LANTAI_MODELS_DIR": str(MODELS)})
    target = str(batch)
    if source == "inbox":
        from storage.local import LocalStore

        store = LocalStore(home / "objects", "lantai", secret=b"x")
        for path in sorted(batch.iterdir()):
            store.put_file(f"inbox/T/b1/{path.name}", path)  # as a collection team's S3 client would
        target = "s3://lantai/inbox/T/b1/"
    slow = env | {"LANTAI_INGEST__WORKERS": "1", "LANTAI_INGEST__COMMIT_EVERY": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "lantai", "ingest", target],
        env=slow,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 180
    while _count_items(home / "catalog.db") < 5 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_at = _count_items(home / "catalog.db")
    assert 5 <= killed_at < 30, "the kill should land mid-batch"

    lantai("ingest", target, home=home)
    with sqlite3.connect(home / "catalog.db") as conn:
        assert conn.execute("SELECT count(*) FROM item").fetchone()[0] == 30
        assert (
            conn.execute("SELECT count(DISTINCT sha256) FROM asset WHERE role='master'").fetchone()[0] == 30
        )
        assert conn.execute("SELECT count(*) FROM asset WHERE role='master'").fetchone()[0] == 30
        assert conn.execute("SELECT count(DISTINCT reference_code) FROM item").fetchone()[0] == 30
        keys = {k for (k,) in conn.execute("SELECT key FROM asset WHERE role='master'")}
    objects = home / "objects" / "lantai"
    files = [p for p in (objects / "masters").rglob("*") if p.is_file()]
    stored = {p.relative_to(objects).as_posix() for p in files if not p.name.startswith(".upload-")}
    assert stored == keys  # no orphan masters, none missing
    # a write cut by the kill leaves at most a hidden temporary file, never an object; the
    # next ingest sweeps those once they are old enough not to belong to a live upload
    partial = [p for p in files if p.name.startswith(".upload-")]
    assert len(partial) <= 1
    from storage.local import LocalStore

    assert LocalStore(home / "objects", "lantai", secret=b"x").sweep_partial_uploads(older_than=0) == len(
        partial
    )
    leftovers = [p for p in (objects / "inbox").rglob("*") if p.is_file() and not p.name.startswith(".")]
    assert leftovers == []
    # no Prefect temporary server was started for these commands: they ran in-process
    assert not (home / "prefect" / "prefect.db").exists()


def test_enrich_killed_mid_item_resumes_without_duplicates(tmp_path: Path) -> None:
    """Kill `lantai enrich` while it is OCRing the pages of a long PDF, run it again: the item
    is finished once, with one row per page (the pages written before the kill updated in
    place) and one of each derivative."""
    pages = []
    for n in range(12):
        img = Image.new("L", (1240, 1754), 255)  # A4 at 150 dpi
        draw = ImageDraw.Draw(img)
        for line in range(30):
            draw.text((80, 80 + line * 50), f"page {n} line {line}: the archive keeps what matters", fill=0)
        pages.append(img)
    batch = tmp_path / "batch"
    batch.mkdir()
    pages[0].save(batch / "long.pdf", save_all=True, append_images=pages[1:], resolution=150)
    home = tmp_path / "home"
    lantai("ingest", str(batch), home=home)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LANTAI_", "PREFECT_"))}
    env.update({"LANTAI_HOME": str(home), "LANTAI_MODELS_DIR": str(MODELS)})
    proc = subprocess.Popen(
        [sys.executable, "-m", "lantai", "enrich"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    progress = home / "objects" / "lantai" / "progress"
    deadline = time.monotonic() + 240
    while not any(progress.glob("*.json")) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
    assert proc.poll() is None, "enrich finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    with sqlite3.connect(home / "catalog.db") as conn:
        assert conn.execute("SELECT status FROM item").fetchone()[0] == "processing"
        # pages are written one by one as they are read (short transactions): some are there,
        # and the master is marked as not done, so the next run reads it again in place
        written = conn.execute("SELECT count(*) FROM page").fetchone()[0]
        assert 0 <= written < 12
        tech = conn.execute("SELECT tech FROM asset WHERE role = 'master'").fetchone()[0]
        assert '"ocr_result_key": ""' in tech
    lantai("enrich", home=home)
    with sqlite3.connect(home / "catalog.db") as conn:
        assert conn.execute("SELECT status FROM item").fetchone()[0] == "enriched"
        assert conn.execute("SELECT count(*), count(DISTINCT page_no) FROM page").fetchone() == (12, 12)
        roles = dict(conn.execute("SELECT role, count(*) FROM asset GROUP BY role").fetchall())
        assert roles == {"master": 1, "hocr": 1, "pdf": 1, "page_image": 12}, roles
        ocr_events = conn.execute("SELECT count(*) FROM event WHERE type = 'optical character recognition'")
        assert ocr_events.fetchone()[0] == 1
