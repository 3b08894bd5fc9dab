"""The ingest flow: inbox objects become immutable masters and catalog items.

Per object: stream it once to a work file computing SHA-256, identify the format from its
content, store the master under its content address (write-once), create the Item and
Asset rows with their events, then remove the object from the inbox. Objects that cannot
be used go to ``quarantine/`` with the reason. Re-running creates nothing new.
"""

from __future__ import annotations

import posixpath
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from sqlmodel import Session, select

from catalog import crud, manifest, refcode
from catalog.db import session_scope
from catalog.models import Access, Asset, Collection, Item, ItemStatus, Kind
from catalog.search import reindex_item
from configs import Settings, get_settings
from configs.errors import BadInputError
from flows.progress import report
from flows.retry import BACKOFF, is_transient
from storage import InvalidKeyError, ObjectStore, download, open_store, sha256_file
from storage.keys import INBOX, inbox_key, master_key, quarantine_key
from storage.local import LocalStore
from tasks.formats import Format, UnsupportedFormat, check_readable, identify

CATEGORY = {"image": "WS", "pdf": "WS", "audio": "LY", "video": "LX"}
SERVER_COPY_LIMIT = 5 * 1024**3  # S3 CopyObject's limit; larger masters are uploaded again
SKIP_NAMES = {".DS_Store", "Thumbs.db", "desktop.ini"}


@dataclass
class ObjectResult:
    key: str
    name: str
    outcome: str  # ingested | attached | duplicate | quarantined
    item_id: int | None = None
    reference_code: str = ""
    reason: str = ""


@dataclass
class IngestReport:
    collection: str
    prefix: str
    uploaded: int = 0
    results: list[ObjectResult] = field(default_factory=list)
    manifest_errors: list[str] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        return sum(1 for r in self.results if r.outcome == outcome)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["counts"] = {o: self.count(o) for o in ("ingested", "attached", "duplicate", "quarantined")}
        return out


# ---------------------------------------------------------------- uploading a local folder


def local_files(sources: list[Path]) -> list[tuple[Path, str]]:
    """(path, name relative to the batch) for files, and every file under folders."""
    return [pair for source in sources for pair in _local_files(source)]


def _local_files(source: Path) -> list[tuple[Path, str]]:
    if source.is_file():
        return [(source, source.name)]
    if not source.is_dir():
        raise BadInputError(f"{source} does not exist")
    files = [
        p
        for p in sorted(source.rglob("*"))
        if p.is_file()
        and p.name not in SKIP_NAMES
        and not any(part.startswith(".") for part in p.relative_to(source).parts)
    ]
    return [(p, p.relative_to(source).as_posix()) for p in files]


def upload_local(
    store: ObjectStore,
    sources: list[Path],
    *,
    collection: str,
    batch: str,
    extra_manifest: Path | None = None,
) -> tuple[int, list[ObjectResult]]:
    """Upload local files into ``inbox/<collection>/<batch>/``. Files whose names storage
    cannot hold are quarantined under their checksum with the reason. Returns the number
    uploaded and the quarantined ones."""
    files = local_files(sources)
    if extra_manifest is not None:
        files.append((extra_manifest, "manifest" + extra_manifest.suffix.lower()))
    quarantined: list[ObjectResult] = []
    uploaded = 0
    for index, (path, relative) in enumerate(files, 1):
        report("upload", done=index - 1, total=len(files), name=relative)
        try:
            key = inbox_key(collection, batch, relative)
        except InvalidKeyError as e:
            sha = sha256_file(path)
            qkey = quarantine_key(f"{collection}/{batch}/{sha}")
            store.put_file(qkey, path, sha256=sha)
            quarantined.append(
                record_quarantine(
                    get_settings(),
                    collection=collection,
                    key=qkey,
                    name=repr(relative)[1:-1],
                    sha256=sha,
                    size=path.stat().st_size,
                    reason=f"unusable file name: {e.message}",
                    batch=batch,
                )
            )
            continue
        sha = sha256_file(path)
        if store.exists(key) and store.stat(key).sha256 == sha:
            continue
        store.put_file(key, path, sha256=sha)
        uploaded += 1
    report("upload", done=len(files), total=len(files), name="")
    return uploaded, quarantined


# ---------------------------------------------------------------- one object


def _find_manifest(store: ObjectStore, prefix: str, keys: list[str]) -> tuple[manifest.Manifest, set[str]]:
    found = manifest.Manifest()
    used: set[str] = set()
    for key in keys:
        if posixpath.basename(key).lower() in manifest.MANIFEST_NAMES:
            with store.open(key) as fh:
                data = fh.read(16 * 1024 * 1024)
            try:
                part = manifest.parse(data, name=posixpath.basename(key))
            except BadInputError as e:
                found.errors.append(f"{key}: {e.message}")
            else:
                found.rows.update(part.rows)
                found.errors.extend(part.errors)
            used.add(key)
    return found, used


def _group_item(
    session: Session, coll: Collection, row: manifest.ManifestRow | None, batch: str
) -> Item | None:
    """The item this file joins: the one with the row's 档号, or with its 件号 in this batch."""
    if row is None:
        return None
    if code := row.fields.get("reference_code"):
        return crud.item_by_refcode(session, reference_code=code)
    if group := row.fields.get("item"):
        candidates = session.exec(
            select(Item).where(Item.collection_id == coll.id, Item.batch == batch)
        ).all()
        return next((i for i in candidates if i.extra.get("group") == group), None)
    return None


def _new_item(
    session: Session,
    coll: Collection,
    fmt: Format,
    row: manifest.ManifestRow | None,
    *,
    name: str,
    batch: str,
) -> Item:
    fields = dict(row.fields) if row else {}
    group = fields.pop("item", None)
    kind = Kind.scan if fmt.kind in ("image", "pdf") else Kind.recording
    retention = fields.get("retention", coll.retention)
    code = fields.get("reference_code")
    if not code:
        year = (fields.get("date") or str(datetime.now(UTC).year))[:4]
        code = refcode.next_code(
            session, fonds=coll.fonds, category=CATEGORY[fmt.kind], year=year, retention=retention
        )
    fields.setdefault("title", posixpath.splitext(posixpath.basename(name))[0])
    # 开放标识 in a manifest is a proposal for open review, never a decision: every item
    # starts unreviewed and opens only through open review (or `lantai open`)
    proposed = fields.pop("access", "")
    extra: dict[str, str] = {"group": group} if group else {}
    if proposed:
        extra["proposed_access"] = proposed
    item = Item.model_validate(
        {
            **fields,
            "extra": extra,
            "collection_id": coll.id or 0,
            "kind": kind,
            "source_name": posixpath.basename(name),
            "batch": batch,
            "reference_code": code,
            "retention": retention,
        }
    )
    item.access = Access.unreviewed
    session.add(item)
    session.flush()
    return item


def record_quarantine(
    settings: Settings,
    *,
    collection: str,
    key: str,
    name: str,
    sha256: str,
    size: int,
    reason: str,
    batch: str,
) -> ObjectResult:
    """Catalog a quarantined object as an item with the reason, once per content."""
    with session_scope(settings) as session:
        coll = crud.get_or_create_collection(session, code=collection)
        known = session.exec(select(Asset).where(Asset.sha256 == sha256, Asset.role == "quarantine")).first()
        if known is not None:
            item = session.get(Item, known.item_id)
            return ObjectResult(
                key, name, "quarantined", known.item_id, item.reference_code if item else "", reason
            )
        code = refcode.next_code(
            session, fonds=coll.fonds, category="QT", year=str(datetime.now(UTC).year), retention="Y"
        )
        item = Item(
            collection_id=coll.id or 0,
            reference_code=code,
            title=posixpath.basename(name),
            kind=Kind.other,
            status=ItemStatus.quarantined,
            status_reason=reason,
            source_name=posixpath.basename(name),
            batch=batch,
        )
        session.add(item)
        session.flush()
        asset = Asset(
            item_id=item.id or 0,
            role="quarantine",
            key=key,
            sha256=sha256,
            size=size,
            original_name=posixpath.basename(name),
        )
        session.add(asset)
        session.flush()
        crud.add_event(
            session,
            type="quarantine",
            item_id=item.id,
            asset_id=asset.id,
            outcome="failure",
            reason=reason,
            key=key,
            sha256=sha256,
        )
        return ObjectResult(key, name, "quarantined", item.id, code, reason)


@task(retries=3, retry_delay_seconds=BACKOFF, retry_condition_fn=is_transient)
def ingest_object(key: str, collection: str, batch: str, row: dict[str, Any] | None) -> ObjectResult:
    """Ingest one inbox object. Bad content is quarantined, not raised."""
    settings = get_settings()
    store = open_store(settings)
    name = key.split("/", 3)[-1] if key.count("/") >= 3 else posixpath.basename(key)
    manifest_row = manifest.ManifestRow(**row) if row else None
    with session_scope(settings) as session:
        coll = crud.get_or_create_collection(session, code=collection)
    with tempfile.TemporaryDirectory(prefix="lantai-ingest-") as tmp:
        work = Path(tmp) / "object"
        inbox_info = store.stat(key)
        sha = download(store, key, work)
        size = work.stat().st_size
        try:
            fmt = identify(work)
            check_readable(work, fmt)
        except UnsupportedFormat as e:
            qkey = quarantine_key(key)
            store.put_file(qkey, work, sha256=sha)
            result = record_quarantine(
                settings,
                collection=collection,
                key=qkey,
                name=name,
                sha256=sha,
                size=size,
                reason=e.message,
                batch=batch,
            )
            store.delete(key)
            return result
        with session_scope(settings) as session:
            existing = crud.master_by_sha(session, sha256=sha)
            if existing is not None:
                item = session.get(Item, existing.item_id)
                crud.add_event(
                    session,
                    type="duplicate detection",
                    item_id=existing.item_id,
                    asset_id=existing.id,
                    outcome="warning",
                    key=key,
                    sha256=sha,
                    note="identical content is already a master; nothing new created",
                )
                result = ObjectResult(
                    key,
                    name,
                    "duplicate",
                    existing.item_id,
                    item.reference_code if item else "",
                    f"same content as {existing.original_name}",
                )
            else:
                mkey = master_key(sha, posixpath.basename(name))
                if inbox_info.sha256 == sha and size < SERVER_COPY_LIMIT:
                    store.copy(key, mkey, write_once=True)  # server-side: no second upload
                else:
                    store.put_file(mkey, work, content_type=fmt.mime, sha256=sha, write_once=True)
                item = _group_item(session, coll, manifest_row, batch)
                outcome = "attached" if item else "ingested"
                if item is None:
                    item = _new_item(session, coll, fmt, manifest_row, name=name, batch=batch)
                sequence = len(crud.masters(session, item_id=item.id or 0))
                asset = Asset(
                    item_id=item.id or 0,
                    role="master",
                    key=mkey,
                    sha256=sha,
                    size=size,
                    media_type=fmt.mime,
                    format_name=fmt.name,
                    sequence=sequence,
                    original_name=posixpath.basename(name),
                )
                session.add(asset)
                session.flush()
                for etype, detail in (
                    ("ingestion", {"source_key": key, "master_key": mkey, "batch": batch}),
                    ("message digest calculation", {"algorithm": "SHA-256", "value": sha, "size": size}),
                    (
                        "format identification",
                        {"format": fmt.name, "mime": fmt.mime, "method": "magic bytes"},
                    ),
                ):
                    crud.add_event(session, type=etype, item_id=item.id, asset_id=asset.id, **detail)
                if item.status not in (ItemStatus.pending, ItemStatus.quarantined):
                    item.status = ItemStatus.pending  # a new file means new work
                reindex_item(session, item)
                result = ObjectResult(key, name, outcome, item.id, item.reference_code)
    store.delete(key)  # only after the master and the catalog rows are safe
    return result


# ---------------------------------------------------------------- the flow


def parse_source(source: str) -> tuple[str | None, str]:
    """(bucket, prefix) for ``s3://bucket/prefix``; (None, path) for a local path."""
    if source.startswith("s3://"):
        bucket, _, prefix = source[5:].partition("/")
        return bucket, prefix
    return None, source


@flow(name="ingest", log_prints=False)
def ingest_flow(
    source: str | list[str],
    collection: str | None = None,
    manifest_path: str | None = None,
    batch: str | None = None,
) -> dict[str, Any]:
    """Ingest local files and folders (uploaded to the inbox first) or one ``s3://`` inbox prefix."""
    log = get_run_logger()
    settings = get_settings()
    store = open_store(settings)
    if isinstance(store, LocalStore) and (swept := store.sweep_partial_uploads()):
        log.info("removed %d partial uploads left by an interrupted run", swept)
    code = collection or settings.collection.code
    with session_scope(settings) as session:
        crud.get_or_create_collection(
            session,
            code=code,
            name=settings.collection.name if code == settings.collection.code else code,
            fonds=settings.collection.fonds,
            ocr_languages=settings.ocr.languages,
            retention=settings.collection.retention,
            script=settings.asr.script,
        )
    sources = [source] if isinstance(source, str) else list(source)
    if not sources:
        raise BadInputError("nothing to ingest: give a file, a folder or an s3:// prefix")
    remote = [s for s in sources if s.startswith("s3://")]
    if remote and len(sources) > 1:
        raise BadInputError("ingest one s3:// prefix at a time, without local paths")
    bucket, location = parse_source(sources[0])
    report_ = IngestReport(collection=code, prefix="")
    if bucket is None:
        paths = [Path(s).expanduser() for s in sources]
        first = paths[0]
        default_batch = (
            first.name
            if first.is_dir() and len(paths) == 1
            else (first.stem if len(paths) == 1 else first.resolve().parent.name)
        )
        batch = batch or default_batch or "batch"
        report_.uploaded, report_.results = upload_local(
            store,
            paths,
            collection=code,
            batch=batch,
            extra_manifest=Path(manifest_path) if manifest_path else None,
        )
        prefix = inbox_key(code, batch, "x")[:-1]
    else:
        if bucket != settings.storage.bucket:
            raise BadInputError(
                f"bucket {bucket!r} is not Lantai's bucket {settings.storage.bucket!r}",
                hint="upload into the configured bucket's inbox/ prefix",
            )
        prefix = location if location.startswith(INBOX) else INBOX + location
        batch = batch or prefix[len(INBOX) :].strip("/").split("/")[-1] or "batch"
    report_.prefix = prefix
    keys = [o.key for o in store.list(prefix)]
    found, manifest_keys = _find_manifest(store, prefix, keys)
    if manifest_path and bucket is not None:
        found.rows.update(manifest.read(Path(manifest_path)).rows)
    report_.manifest_errors = found.errors
    for err in found.errors:
        log.warning("manifest: %s", err)
    work = [k for k in keys if k not in manifest_keys]
    for index, key in enumerate(work):
        report("ingest", done=index, total=len(work), name=key.rsplit("/", 1)[-1])
        relative = key[len(prefix) :]
        row = found.row_for(relative)
        result = ingest_object(key, code, batch, asdict(row) if row else None)
        report_.results.append(result)
        log.info("%s %s %s", result.outcome, relative, result.reason)
    report("ingest", done=len(work), total=len(work), name="")
    return report_.as_dict()
