"""Operations on the embedded defaults and a real S3 replica: the fixity audit finds
missing and changed masters, replication is incremental and verified, item claims keep two
workers off one item, the inbox sweep ingests what collection teams dropped."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, select

from catalog import crud
from catalog.db import get_engine, session_scope
from catalog.models import Event, Item, ItemStatus, utcnow
from configs import get_settings
from flows.audit import audit_flow
from flows.ingest import ingest_flow
from flows.replicate import replicate_flow
from flows.schedules import inbox_batches, inbox_sweep_flow
from storage import open_store
from tests.conftest import SAMPLES, S3Server, point_at_s3


def _ingest_scans(tmp_path: Path, n: int = 3) -> list[str]:
    folder = tmp_path / "batch"
    folder.mkdir()
    names = ["网络支付.png", "phototest.tif", "繁體中文測試.png"][:n]
    for name in names:
        shutil.copy(SAMPLES / name, folder / name)
    ingest_flow(str(folder), "OPS", None, None)
    return names


def test_fixity_audit_reports_missing_and_changed_masters(home: Path, tmp_path: Path) -> None:
    _ingest_scans(tmp_path)
    clean = audit_flow()
    assert clean["passed"] and clean["checked"] == 3 and clean["ok"] == 3
    store_root = home / "objects" / "lantai"
    masters = sorted(
        p for p in (store_root / "masters").rglob("*") if p.is_file() and not p.name.startswith(".")
    )
    masters[0].write_bytes(masters[0].read_bytes() + b"bit rot")
    masters[1].unlink()
    found = audit_flow()
    assert not found["passed"] and found["ok"] == 1
    assert len(found["changed"]) == 1 and len(found["missing"]) == 1
    with session_scope(get_settings()) as s:
        checks = s.exec(select(Event).where(Event.type == "fixity check")).all()
        assert len(checks) == 6 and sum(1 for e in checks if e.outcome == "failure") == 2
        from catalog.ops.operations import last_audit

        assert last_audit(s)["passed"] is False  # type: ignore[index]


def test_replication_is_incremental_and_verified(
    home: Path, tmp_path: Path, s3_server: S3Server, bucket_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    point_at_s3(monkeypatch, "REPLICA", s3_server, bucket_name)
    _ingest_scans(tmp_path)
    first = replicate_flow()
    assert first["passed"] and first["copied"] == 3 and first["skipped"] == 0 and first["exports"] == 2
    replica = open_store(get_settings(), get_settings().replica)
    keys = {o.key for o in replica.list("masters/")}
    with session_scope(get_settings()) as s:
        assert keys == {a.key for a in s.exec(select(crud.Asset).where(crud.Asset.role == "master"))}
    assert {o.key for o in replica.list("exports/catalog/")} == {
        "exports/catalog/OPS.jsonl",
        "exports/catalog/OPS.csv",
    }
    again = replicate_flow()
    assert again["copied"] == 0 and again["skipped"] == 3  # nothing new: nothing copied


def test_a_live_claim_keeps_a_second_worker_off(home: Path, tmp_path: Path) -> None:
    _ingest_scans(tmp_path, 1)
    engine = get_engine(get_settings().db_url)
    with Session(engine) as a, Session(engine) as b:
        item_id = a.exec(select(Item.id)).one()
        assert item_id is not None
        assert crud.claim_item(a, item_id=item_id, worker="w1", lease_hours=6) is not None
        a.commit()
        assert crud.claim_item(b, item_id=item_id, worker="w2", lease_hours=6) is None  # w1 has it
        assert crud.claim_item(b, item_id=item_id, worker="w1", lease_hours=6) is not None  # w1 restarted
        b.commit()
        item = b.get(Item, item_id)
        assert item is not None and item.status == ItemStatus.processing
        item.claimed_at = utcnow() - timedelta(hours=7)  # w1 died long ago
        b.add(item)
        b.commit()
        assert crud.claim_item(a, item_id=item_id, worker="w2", lease_hours=6) is not None


def test_inbox_sweep_ingests_dropped_batches_and_enriches(home: Path, tmp_path: Path) -> None:
    store = open_store(get_settings())
    store.put_file("inbox/SWEEP/2026-11/phototest.tif", SAMPLES / "phototest.tif")
    assert inbox_batches(get_settings()) == [("SWEEP", "2026-11")]
    result = inbox_sweep_flow()
    assert result["batches"][0]["collection"] == "SWEEP" and result["enriched"] == 1
    with session_scope(get_settings()) as s:
        [item] = s.exec(select(Item)).all()
        assert item.status == ItemStatus.enriched and item.claimed_by
    assert inbox_batches(get_settings()) == []


def test_dashboard_retry_is_queued_for_a_worker_never_run_by_the_web_server(
    home: Path, tmp_path: Path
) -> None:
    """The retry button queues a job; the web server runs no OCR. The worker's ``jobs``
    deployment (here called directly) takes it and enriches the item."""
    from catalog.models import Job
    from flows.jobs import jobs_flow
    from tests.web.conftest import PASSWORD, Browser
    from web.app import create_app
    from web.security import add_user

    _ingest_scans(tmp_path, 1)
    with session_scope(get_settings()) as s:
        [item] = s.exec(select(Item)).all()
        item.status, item.status_reason = ItemStatus.failed, "tesseract was killed"
        s.add(item)
        add_user(s, name="op", role="operator", password=PASSWORD)
    with Browser(create_app()) as op:
        op.login("op")
        r = op.post("/dashboard/retry", data={"item_id": item.id, "csrf_token": op.csrf})
        assert r.status_code == 200 and "等待工作进程" in r.text  # the dashboard lists the job
        op.post("/dashboard/retry", data={"item_id": item.id, "csrf_token": op.csrf})  # twice: one job
    with session_scope(get_settings()) as s:
        assert s.get(Item, item.id).status == ItemStatus.pending  # type: ignore[union-attr]
        assert [(j.kind, j.state, j.requested_by) for j in s.exec(select(Job)).all()] == [
            ("enrich", "queued", "op")
        ]
        assert not s.exec(select(Event).where(Event.type == "optical character recognition")).all()
    done = jobs_flow()
    assert [(d["kind"], d["item_id"], d["error"]) for d in done] == [("enrich", item.id, "")]
    with session_scope(get_settings()) as s:
        assert s.get(Item, item.id).status == ItemStatus.enriched  # type: ignore[union-attr]
        assert [j.state for j in s.exec(select(Job)).all()] == ["done"]
