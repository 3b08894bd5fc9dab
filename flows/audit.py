"""Fixity audit (DA/T 31 / 档案安全): re-read every master in bounded memory, compare its
SHA-256 with the catalog, and record one event per object. Missing or changed objects are
reported loudly: a non-zero exit from ``lantai audit``, the dashboard, and ``/metrics``."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlmodel import col, select

from catalog import crud
from catalog.db import session_scope
from catalog.models import Asset, AssetRole, Collection, EventType, Item
from configs import get_settings
from flows import run_records, runner
from flows.progress import report
from storage import ObjectNotFound, open_store
from storage.base import CHUNK


@dataclass
class AuditReport:
    checked: int = 0
    ok: int = 0
    bytes: int = 0
    missing: list[dict[str, Any]] = field(default_factory=list)
    changed: list[dict[str, Any]] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.missing and not self.changed

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"passed": self.passed}


@runner.flow(name="fixity-audit", log_prints=False, **run_records.HOOKS)
def audit_flow(collection: str | None = None) -> dict[str, Any]:
    """Check every master (of one collection, or all)."""
    logger = runner.logger()
    settings = get_settings()
    store = open_store(settings)
    result = AuditReport()
    with session_scope(settings) as session:
        query = (
            select(Asset, Item.reference_code)
            .join(Item, col(Item.id) == Asset.item_id)
            .where(Asset.role == AssetRole.master)
        )
        if collection:
            query = query.join(Collection, col(Collection.id) == Item.collection_id).where(
                Collection.code == collection
            )
        masters = session.exec(query.order_by(col(Asset.id))).all()
    total = len(masters)
    for n, (asset, refcode) in enumerate(masters, 1):
        entry = {"asset_id": asset.id, "item_id": asset.item_id, "reference_code": refcode, "key": asset.key}
        digest, size = hashlib.sha256(), 0
        try:
            with store.open(asset.key) as fh:
                while chunk := fh.read(CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
        except ObjectNotFound:
            result.missing.append(entry)
            outcome, detail = "failure", {"problem": "missing"}
        else:
            actual = digest.hexdigest()
            if actual != asset.sha256:
                result.changed.append(entry | {"expected": asset.sha256, "actual": actual})
                outcome, detail = "failure", {"problem": "checksum mismatch", "actual": actual}
            else:
                result.ok += 1
                outcome, detail = "success", {}
            result.bytes += size
        result.checked += 1
        with session_scope(settings) as session:
            crud.add_event(
                session,
                type=EventType.fixity_check,
                item_id=asset.item_id,
                asset_id=asset.id,
                outcome=outcome,
                algorithm="SHA-256",
                expected=asset.sha256,
                key=asset.key,
                **detail,
            )
        report("audit", done=n, total=total)
    with session_scope(settings) as session:
        crud.add_event(
            session,
            type=EventType.fixity_audit,
            outcome="success" if result.passed else "failure",
            collection=collection or "",
            **{k: v for k, v in result.as_dict().items() if k != "passed"},
        )
    if result.passed:
        logger.info("fixity audit: %d masters, all intact", result.checked)
    else:
        logger.error("fixity audit: %d missing, %d changed", len(result.missing), len(result.changed))
    return result.as_dict()
