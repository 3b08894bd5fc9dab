"""Editors keep working while a worker transcribes: enrichment holds no transaction open
while Whisper runs, so a web save, ``lantai users add`` and an ingest all go through, on
SQLite and on PostgreSQL. The enrichment runs as ``lantai enrich`` in its own process, as
a worker does."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import select

from bench.asr_speed import build
from catalog.db import session_scope
from catalog.models import Item, Segment, User
from configs import get_settings
from flows.enrich import enrich_flow
from flows.ingest import ingest_flow
from storage import ObjectNotFound, open_store
from tests.conftest import SAMPLES
from tests.web.conftest import PASSWORD, Browser
from web.app import create_app
from web.security import add_user

pytestmark = pytest.mark.slow  # the fast tier: bash scripts/test -m "not slow"

LANTAI = Path(sys.executable).with_name("lantai")
CLIPS = ("房地产中介协会.wav", "寄语.wav", "jfk 1961 inaugural.flac")


def _stage(item_id: int) -> str:
    try:
        with open_store(get_settings()).open(f"progress/{item_id}.json") as fh:
            return str(json.load(fh).get("stage", ""))
    except (ObjectNotFound, FileNotFoundError, ValueError):
        return ""


def _no_writer_waiting(db_url: str) -> None:
    """Nobody holds a write transaction: SQLite grants an immediate write lock; PostgreSQL
    shows no other transaction open for more than a few seconds."""
    if db_url.startswith("sqlite"):
        conn = sqlite3.connect(db_url.split("///", 1)[1], timeout=5)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.rollback()
        finally:
            conn.close()
        return
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        held = conn.execute(
            sa.text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND xact_start < now() - interval '5 seconds'"
            )
        ).scalar_one()
    engine.dispose()
    assert held == 0, "a transaction stays open while the recording is transcribed"


def test_editors_save_while_a_recording_is_transcribed(
    home: Path, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LANTAI_DATABASE_URL", db_url)
    settings = get_settings()
    short = tmp_path / "short"
    short.mkdir()
    shutil.copy(SAMPLES / "寄语.wav", short)
    ingest_flow(str(short), "C", None, None)
    enrich_flow("C")
    with session_scope(settings) as session:
        add_user(session, name="ed", role="editor", password=PASSWORD)
        done = session.exec(select(Item).where(Item.status == "enriched")).one()
        seg = session.exec(select(Segment).order_by(Segment.id)).first()
        assert seg is not None
    (tmp_path / "long").mkdir()
    # six minutes of real speech (the sample clips, cycled)
    long = build([SAMPLES / c for c in CLIPS], 6, tmp_path / "long" / "访谈全程.wav", tmp_path)
    ingest_flow([str(long)], "C", None, None)
    with session_scope(settings) as session:
        long_item = session.exec(select(Item).where(Item.status == "pending")).one()

    worker = subprocess.Popen(
        [str(LANTAI), "enrich", "--item", str(long_item.id)],
        env=os.environ.copy(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 300
        while _stage(long_item.id or 0) != "transcribe":
            assert worker.poll() is None, worker.stdout.read() if worker.stdout else ""
            assert time.monotonic() < deadline, "the recording never started transcribing"
            time.sleep(0.5)
        took: dict[str, float] = {}
        _no_writer_waiting(db_url)
        with Browser(create_app()) as browser:
            browser.login("ed")
            began = time.monotonic()
            saved = browser.api(
                "PUT", f"/api/segments/{seg.id}", {"version": seg.version, "text": "校对后的文本"}
            )
            took["web save"] = time.monotonic() - began
            assert saved.status_code == 200, saved.text
        began = time.monotonic()
        added = subprocess.run(
            [str(LANTAI), "users", "add", "eve", "--role", "editor", "--password-stdin"],
            input=PASSWORD + "\n",
            capture_output=True,
            text=True,
            env=os.environ.copy(),
            timeout=120,
        )
        took["lantai users add"] = time.monotonic() - began
        assert added.returncode == 0, added.stderr
        (tmp_path / "more").mkdir()
        shutil.copy(SAMPLES / "网络支付.png", tmp_path / "more")
        began = time.monotonic()
        report = ingest_flow(str(tmp_path / "more"), "C", None, None)
        took["ingest"] = time.monotonic() - began
        assert report["counts"]["ingested"] == 1
        _no_writer_waiting(db_url)
        # all of it happened while the worker was still transcribing
        assert worker.poll() is None and _stage(long_item.id or 0) == "transcribe"
        with session_scope(settings) as session:
            assert session.get(Item, long_item.id).status == "processing"  # type: ignore[union-attr]
        print("while transcribing:", {k: round(v, 3) for k, v in took.items()})
        out, _ = worker.communicate(timeout=900)
        assert worker.returncode == 0, out
    finally:
        if worker.poll() is None:
            worker.kill()
    with session_scope(settings) as session:
        assert session.get(Segment, seg.id).text == "校对后的文本"  # type: ignore[union-attr]
        assert session.exec(select(User).where(User.name == "eve")).one().role == "editor"
        assert session.get(Item, long_item.id).status == "enriched"  # type: ignore[union-attr]
        assert session.get(Item, done.id).status == "in_review"  # type: ignore[union-attr]  (edited)


def test_claim_heartbeat_keeps_a_long_item_and_a_dead_workers_item_is_taken_over(
    home: Path, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker's heartbeat renews its claim while it works (a lease of 3.6 s here), so
    another worker cannot take the item however long it takes; once the heartbeat stops
    (the worker died) the item is taken over after the lease."""
    from catalog import crud
    from flows.enrich import Heartbeat

    monkeypatch.setenv("LANTAI_DATABASE_URL", db_url)
    monkeypatch.setenv("LANTAI_WORKER__LEASE_HOURS", "0.001")
    monkeypatch.setenv("LANTAI_WORKER__NAME", "w1")
    folder = tmp_path / "one"
    folder.mkdir()
    shutil.copy(SAMPLES / "寄语.wav", folder)
    ingest_flow(str(folder), "C", None, None)
    settings = get_settings()
    lease = settings.worker.lease_hours
    with session_scope(settings) as session:
        item_id = session.exec(select(Item.id)).one()
        assert crud.claim_item(session, item_id=item_id, worker="w1", lease_hours=lease) is not None
    beat = Heartbeat(settings, item_id or 0)
    with beat:
        for _ in range(8):  # more than two leases
            time.sleep(1.0)
            with session_scope(settings) as session:
                assert crud.claim_item(session, item_id=item_id or 0, worker="w2", lease_hours=lease) is None
    assert beat.renewals >= 4
    time.sleep(lease * 3600 + 0.5)  # no heartbeat now: the lease runs out
    with session_scope(settings) as session:
        taken = crud.claim_item(session, item_id=item_id or 0, worker="w2", lease_hours=lease)
        assert taken is not None and taken.claimed_by == "w2"
        assert not crud.renew_claim(session, item_id=item_id or 0, worker="w1")  # w1's claim is gone
