"""What the steps of an enrichment share: the outcome of an item, the work key (master checksum,
engine, version/model, options), derivatives written once by content, progress published for
the dashboard, and the heartbeat that renews an item's claim."""

from __future__ import annotations

import hashlib
import json
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from catalog import crud
from catalog.db import session_scope
from catalog.models import (
    Asset,
    EventType,
    Item,
)
from configs import Settings
from storage import ObjectStore, StorageError
from storage.keys import derivative_key

DOUBTS = ("repetition", "no_speech", "too_fast")  # segment flags that become review flags


@dataclass
class ItemOutcome:
    item_id: int
    reference_code: str
    kind: str
    status: str
    reason: str = ""
    seconds: float = 0.0
    skipped: bool = False
    pages: int = 0
    segments: int = 0
    duration: float = 0.0
    excerpt: str = ""
    details: dict[str, Any] = field(default_factory=dict)


def result_key(**parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def store_derivative(
    settings: Settings,
    store: ObjectStore,
    *,
    source: Asset,
    role: str,
    path: Path,
    name: str,
    media_type: str,
) -> None:
    """Upload a derivative (no transaction open), then record it in one short write,
    replacing an earlier one of the same role."""
    key = derivative_key(source.sha256, name)
    info = store.put_file(key, path, content_type=media_type)
    stale = ""
    with session_scope(settings) as session:
        old = crud.derivative(session, source_asset_id=source.id or 0, role=role)
        if old is not None and old.key != key:
            stale = old.key
            session.delete(old)
            session.flush()
        asset = (
            old
            if old is not None and old.key == key
            else Asset(item_id=source.item_id, role=role, key=key, sha256="", source_asset_id=source.id)
        )
        asset.sha256, asset.size, asset.media_type = info.sha256 or "", info.size, media_type
        session.add(asset)
    if stale:
        store.delete(stale)


_published: dict[int, float] = {}
PROGRESS_EVERY = 10.0  # seconds between progress objects of one item


def publish_progress(store: ObjectStore, item_id: int, state: dict[str, Any], *, force: bool = False) -> None:
    """Put ``progress/<item>.json`` in the object store (every ``PROGRESS_EVERY`` seconds at
    most): the dashboard shows per-item progress of long recordings and big PDFs from any
    worker machine, without writing to the catalog inside the item's transaction."""
    now = time.monotonic()
    if not force and now - _published.get(item_id, 0.0) < PROGRESS_EVERY:
        return
    _published[item_id] = now
    if len(_published) > 1024:  # a worker's lifetime of items: forget those past their interval
        for stale in [i for i, at in _published.items() if now - at >= PROGRESS_EVERY]:
            del _published[stale]
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(state | {"at": time.time()}, fh)
    try:
        store.put_file(f"progress/{item_id}.json", Path(fh.name), content_type="application/json")
    except (StorageError, OSError):  # progress is a courtesy: the work goes on without it
        pass
    finally:
        Path(fh.name).unlink(missing_ok=True)


def keep_corrections(settings: Settings, item: Item, asset: Asset, outcome: ItemOutcome, what: str) -> None:
    """Editors have corrected this master's text: a re-run must not replace their work."""
    reason = f"{what} not re-run: editors have corrected this text (see its history)"
    with session_scope(settings) as session:
        crud.add_event(
            session,
            type=EventType.enrichment,
            item_id=item.id,
            asset_id=asset.id,
            outcome="warning",
            reason=reason,
        )
    outcome.skipped = True
    outcome.reason += f"{reason}; "


class Heartbeat:
    """Renews an item's claim while a worker works on it (each renewal one short write), so
    a long transcription with a large model is never taken over by another worker; a dead
    worker stops renewing and its items are taken over once the lease runs out."""

    def __init__(self, settings: Settings, item_id: int) -> None:
        self.settings, self.item_id = settings, item_id
        lease = settings.worker.lease_hours * 3600
        self.every = max(0.5, min(lease / 4, 300.0))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"claim-{item_id}", daemon=True)
        self.renewals = 0

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                with session_scope(self.settings) as session:
                    if crud.renew_claim(
                        session, item_id=self.item_id, worker=self.settings.worker.worker_name
                    ):
                        self.renewals += 1
            except (SQLAlchemyError, OSError):  # a busy or unreachable database: the next beat retries
                continue

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
