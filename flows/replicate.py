"""Replication (异地备份): copy masters and catalog exports to a second object store —
another bucket or another S3 endpoint — incrementally, each copy verified by SHA-256, with
a report and an event."""

from __future__ import annotations

import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlmodel import col, select

from catalog import crud
from catalog.db import session_scope
from catalog.models import Asset, AssetRole, Collection, EventType
from catalog.publish import exports
from configs import get_settings
from flows import run_records, runner
from flows.progress import report
from storage import ObjectNotFound, ObjectStore, StorageError, download, open_store, sha256_file


@dataclass
class ReplicationReport:
    target: str = ""
    copied: int = 0
    skipped: int = 0
    bytes: int = 0
    exports: int = 0
    failed: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"passed": not self.failed}


def _has(replica: ObjectStore, key: str, sha256: str, size: int) -> bool:
    try:
        info = replica.stat(key)
    except ObjectNotFound:
        return False
    return info.size == size and (info.sha256 or "") == sha256


def _copy_verified(source: ObjectStore, replica: ObjectStore, key: str, sha256: str, tmp: Path) -> int:
    """Stream one object through a temporary file (fixity-checked on the way out), upload
    it, read it back from the replica and compare. Returns its size."""
    local = tmp / "object"
    download(source, key, local, expect_sha256=sha256)
    replica.put_file(key, local)
    back = tmp / "back"
    if download(replica, key, back) != sha256:
        raise StorageError(f"the replica's copy of {key} does not match its SHA-256")
    size = local.stat().st_size
    local.unlink()
    back.unlink()
    return size


@runner.flow(name="replicate", log_prints=False, **run_records.HOOKS)
def replicate_flow() -> dict[str, Any]:
    """Bring the replica up to date: every master missing there (or different) is copied and
    verified; each collection's records (JSON Lines) and DA/T 22 catalogue are refreshed."""
    logger = runner.logger()
    settings = get_settings()
    source = open_store(settings)
    replica = open_store(settings, settings.replica)
    result = ReplicationReport(target=getattr(replica, "name", settings.replica.bucket))
    with session_scope(settings) as session:
        masters = session.exec(
            select(Asset).where(Asset.role == AssetRole.master).order_by(col(Asset.id))
        ).all()
        codes = list(session.exec(select(Collection.code)).all())
    with tempfile.TemporaryDirectory(prefix="lantai-replicate-") as tmpdir:
        tmp = Path(tmpdir)
        for n, asset in enumerate(masters, 1):
            report("replicate", done=n, total=len(masters))
            if _has(replica, asset.key, asset.sha256, asset.size):
                result.skipped += 1
                continue
            try:
                result.bytes += _copy_verified(source, replica, asset.key, asset.sha256, tmp)
                result.copied += 1
            except StorageError as e:
                result.failed.append({"key": asset.key, "reason": e.message})
        with session_scope(settings) as session:
            for code in codes:
                for name, body in (
                    (f"exports/catalog/{code}.jsonl", exports.collection_jsonl(session, code)),
                    (f"exports/catalog/{code}.csv", exports.collection_csv(session, code)),
                ):
                    path = tmp / "export"
                    path.write_text(body, encoding="utf-8")
                    sha = sha256_file(path)
                    if not _has(replica, name, sha, path.stat().st_size):
                        replica.put_file(name, path)
                        result.exports += 1
    with session_scope(settings) as session:
        crud.add_event(
            session,
            type=EventType.replication,
            outcome="success" if not result.failed else "failure",
            **result.as_dict(),
        )
    logger.info(
        "replication to %s: %d copied, %d already there", result.target, result.copied, result.skipped
    )
    return result.as_dict()
