"""Manifests: read and checked, a row found for each file, a refused manifest quarantined (its
batch waits), a finished batch's manifests archived with its record."""

from __future__ import annotations

import posixpath
import tempfile
from pathlib import Path

from catalog import crud, manifest
from catalog.db import session_scope
from catalog.models import EventType
from configs import Settings
from configs.errors import BadInputError
from flows import runner
from flows.ingest.common import IngestReport
from flows.ingest.inbox import REJECTED, Batch
from flows.ingest.records import record_problem, record_quarantine
from storage import ObjectStore, download
from storage.keys import EXPORTS, quarantine_key


class ManifestRejected(Exception):
    def __init__(self, key: str, reason: str) -> None:
        super().__init__(reason)
        self.key, self.reason = key, reason


def read_manifests(store: ObjectStore, batch: Batch) -> dict[str, manifest.Manifest]:
    """The batch's manifests by the folder they describe (relative to the batch). A
    manifest that cannot be read raises ManifestRejected with the reason."""
    out: dict[str, manifest.Manifest] = {}
    for key in batch.manifests:
        size = store.stat(key).size
        if size > manifest.MAX_BYTES:
            raise ManifestRejected(
                key, f"the manifest is {size / 1e6:.1f} MB, over the {manifest.MAX_BYTES // 2**20} MiB limit"
            )
        with store.open(key) as fh:
            data = fh.read(manifest.MAX_BYTES + 1)
        out[posixpath.dirname(key[len(batch.prefix) :])] = parse_manifest(data, key)
    return out


def parse_manifest(data: bytes, key: str) -> manifest.Manifest:
    try:
        return manifest.parse(data, name=posixpath.basename(key))
    except BadInputError as e:
        raise ManifestRejected(key, e.message) from e
    except (RecursionError, MemoryError, ValueError) as e:  # whatever else a hostile file does
        raise ManifestRejected(key, f"the manifest cannot be read: {type(e).__name__}") from e


def row_for(manifests: dict[str, manifest.Manifest], relative: str) -> manifest.ManifestRow | None:
    """The row describing the file at ``relative`` (in the batch): from the manifest of its
    own folder or the nearest one above, by its path below that folder, or by its bare name."""
    folder = posixpath.dirname(relative)
    while True:
        found = manifests.get(folder)
        if found is not None:
            below = relative[len(folder) + 1 :] if folder else relative
            row = found.row_for(below)
            if row is not None:
                return row
        if not folder:
            return None
        folder = posixpath.dirname(folder)


def log_manifest_errors(manifests: dict[str, manifest.Manifest], report_: IngestReport) -> None:
    log = runner.logger()
    for found in manifests.values():
        report_.manifest_errors.extend(found.errors)
        for err in found.errors:
            log.warning("manifest: %s", err)


def reject_manifest(
    store: ObjectStore, settings: Settings, b: Batch, e: ManifestRejected, *, folder: str = ""
) -> None:
    """Move a refused manifest to quarantine/ with the reason; mark the batch as waiting."""
    with tempfile.TemporaryDirectory(prefix="lantai-manifest-") as tmp:
        work = Path(tmp) / "manifest"
        sha = download(store, e.key, work)
        qkey = quarantine_key(e.key)
        store.put_file(qkey, work, sha256=sha)
        why = f"manifest refused: {e.reason}; the batch's files wait for a corrected manifest"
        record_quarantine(settings, collection=b.collection, key=qkey, name=e.key[len(b.prefix) :],
                          sha256=sha, size=work.stat().st_size, batch=b.name, reason=why)  # fmt: skip
        marker = Path(tmp) / "marker"
        marker.write_text(e.reason, encoding="utf-8")
        store.put_file(b.prefix + REJECTED, marker, content_type="text/plain")
    for key in b.manifests:
        store.delete(key)
    reason = f"manifest refused: {e.reason}"
    record_problem(settings, collection=b.collection, batch=b.name, reason=reason, folder=folder)


def archive_manifests(store: ObjectStore, settings: Settings, b: Batch) -> None:
    """Keep the batch's manifests with its record (``exports/manifests/<collection>/<batch>/``),
    out of the inbox, once every file of the batch is in."""
    for key in b.manifests:
        kept = f"{EXPORTS}manifests/{b.collection}/{b.name}/{key[len(b.prefix) :]}"
        store.copy(key, kept)
        store.delete(key)
        with session_scope(settings) as session:
            crud.add_event(session, type=EventType.manifest_archived, collection=b.collection, batch=b.name,
                           source_key=key, key=kept)  # fmt: skip
