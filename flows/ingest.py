"""The ingest flow: inbox objects become immutable masters and catalog items.

Per object: stream it once to a work file computing SHA-256, identify the format from its
content, store the master under its content address (write-once), create the Item and
Asset rows with their events, then remove the object from the inbox. Objects that cannot
be used go to ``quarantine/`` with the reason. Re-running creates nothing new.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import stat
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
from storage.keys import EXPORTS, INBOX, inbox_key, master_key, printable_name, quarantine_key
from storage.local import LocalStore
from tasks.formats import Format, UnsupportedFormat, check_readable, identify

CATEGORY = {"image": "WS", "pdf": "WS", "audio": "LY", "video": "LX"}
SERVER_COPY_LIMIT = 5 * 1024**3  # S3 CopyObject's limit; larger masters are uploaded again
SKIP_NAMES = {".DS_Store", "Thumbs.db", "desktop.ini"}


@dataclass
class ObjectResult:
    key: str
    name: str
    outcome: str  # ingested | attached | duplicate | quarantined | failed (left in the inbox)
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
    # per batch: collection, batch, state (ingested | waiting | failed) and the reason
    batches: list[dict[str, str]] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        return sum(1 for r in self.results if r.outcome == outcome)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["counts"] = {
            o: self.count(o) for o in ("ingested", "attached", "duplicate", "quarantined", "failed")
        }
        return out


# ---------------------------------------------------------------- uploading a local folder


def local_files(sources: list[Path]) -> tuple[list[tuple[Path, str]], list[tuple[str, str]]]:
    """(path, name relative to the batch) of every regular file given or under the folders
    given, and (name, reason) of what is refused without being read: symbolic links (to
    files or folders, never followed), FIFOs, sockets and device files."""
    files: list[tuple[Path, str]] = []
    refused: list[tuple[str, str]] = []
    for source in sources:
        found, bad = _local_files(source)
        files += found
        refused += bad
    return files, refused


def _kind_of(mode: int) -> str | None:
    """Why an entry that is not a regular file is refused (None for a regular file)."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISLNK(mode):
        return "symbolic link (not followed: only files inside the batch are read)"
    if stat.S_ISFIFO(mode):
        return "named pipe (FIFO), not a file"
    if stat.S_ISSOCK(mode):
        return "socket, not a file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device file, not a file"
    return "not a regular file"


def _local_files(source: Path) -> tuple[list[tuple[Path, str]], list[tuple[str, str]]]:
    try:
        mode = source.lstat().st_mode
    except OSError as e:
        raise BadInputError(f"{source} does not exist") from e
    if not stat.S_ISDIR(mode):
        reason = _kind_of(mode)
        return ([(source, source.name)], []) if reason is None else ([], [(source.name, reason)])
    files: list[tuple[Path, str]] = []
    refused: list[tuple[str, str]] = []
    for folder, dirs, names in os.walk(source, followlinks=False):
        here = Path(folder)
        rel = here.relative_to(source)
        if any(part.startswith(".") for part in rel.parts):
            continue
        for d in sorted(dirs):
            if (here / d).is_symlink():
                refused.append(((rel / d).as_posix(), _kind_of(stat.S_IFLNK) or ""))
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not (here / d).is_symlink())
        for name in sorted(names):
            if name in SKIP_NAMES or name.startswith("."):
                continue
            path = here / name
            reason = _kind_of(path.lstat().st_mode)
            relative = (rel / name).as_posix()
            if reason is None:
                files.append((path, relative))
            else:
                refused.append((relative, reason))
    return files, refused


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
    files, refused = local_files(sources)
    if extra_manifest is not None:
        files.append((extra_manifest, "manifest" + extra_manifest.suffix.lower()))
    quarantined: list[ObjectResult] = []
    for relative, reason in refused:  # listed with the reason; nothing behind them is read
        shown = printable_name(relative)
        quarantined.append(
            record_quarantine(
                get_settings(),
                collection=collection,
                key="",
                name=shown,
                size=0,
                reason=reason,
                batch=batch,
                sha256=hashlib.sha256(f"refused:{collection}/{batch}/{shown}".encode()).hexdigest(),
            )
        )
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
                    name=printable_name(relative),
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


REJECTED = ".manifest-rejected"  # left in a batch whose manifest was refused: its files wait


@dataclass
class Batch:
    """The objects of one inbox batch (``inbox/<collection>/<batch>/``) and its manifests."""

    collection: str
    name: str
    prefix: str  # the batch folder's key prefix
    files: list[str] = field(default_factory=list)  # object keys
    manifests: list[str] = field(default_factory=list)
    rejected_marker: bool = False


def split_batches(keys: list[str], *, collection: str | None, default: str) -> list[Batch]:
    """Group inbox keys by their batch folder. The inbox layout names the collection; a
    ``collection`` given for keys of other collections is refused (one collection's files
    are never pulled into another). Keys not in a batch folder form one batch of
    ``collection`` (or ``default``)."""
    batches: dict[tuple[str, str], Batch] = {}
    named: set[str] = set()
    for key in keys:
        parts = key[len(INBOX) :].split("/") if key.startswith(INBOX) else [key]
        if len(parts) >= 3:
            coll, name, prefix = parts[0], parts[1], f"{INBOX}{parts[0]}/{parts[1]}/"
            named.add(coll)
        elif len(parts) == 2:
            coll, name, prefix = parts[0], "batch", f"{INBOX}{parts[0]}/"
            named.add(coll)
        else:
            coll, name, prefix = collection or default, "batch", INBOX
        batch = batches.setdefault((coll, name), Batch(coll, name, prefix))
        base = posixpath.basename(key)
        if base == REJECTED:
            batch.rejected_marker = True
        elif base.lower() in manifest.MANIFEST_NAMES:
            batch.manifests.append(key)
        elif not base.startswith("."):
            batch.files.append(key)
    if collection and named - {collection}:
        raise BadInputError(
            f"this inbox prefix holds the batches of the collections {', '.join(sorted(named))}, "
            f"not only {collection}",
            hint="ingest one collection's prefix (inbox/<collection>/…), or leave out --collection: "
            "the inbox layout names each batch's collection",
        )
    return sorted(batches.values(), key=lambda b: (b.collection, b.name))


class ManifestRejected(Exception):
    def __init__(self, key: str, reason: str) -> None:
        super().__init__(reason)
        self.key, self.reason = key, reason


def _read_manifests(store: ObjectStore, batch: Batch) -> dict[str, manifest.Manifest]:
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
        try:
            parsed = manifest.parse(data, name=posixpath.basename(key))
        except BadInputError as e:
            raise ManifestRejected(key, e.message) from e
        except (RecursionError, MemoryError, ValueError) as e:  # whatever else a hostile file does
            raise ManifestRejected(key, f"the manifest cannot be read: {type(e).__name__}") from e
        folder = posixpath.dirname(key[len(batch.prefix) :])
        out[folder] = parsed
    return out


def _row_for(manifests: dict[str, manifest.Manifest], relative: str) -> manifest.ManifestRow | None:
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
    """Catalog a quarantined object as an item with the reason, once per content. With no
    ``key`` (a link, a FIFO: nothing was read or stored) the item is recorded without an
    asset, once per batch and name."""
    with session_scope(settings) as session:
        coll = crud.get_or_create_collection(session, code=collection)
        if not key:
            seen = session.exec(
                select(Item).where(
                    Item.collection_id == coll.id, Item.batch == batch, Item.status == ItemStatus.quarantined,
                    Item.source_name == posixpath.basename(name), Item.status_reason == reason,
                )
            ).first()  # fmt: skip
            if seen is not None:
                return ObjectResult(key, name, "quarantined", seen.id, seen.reference_code, reason)
        else:
            known = session.exec(
                select(Asset).where(Asset.sha256 == sha256, Asset.role == "quarantine")
            ).first()
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
        asset = None
        if key:
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
            asset_id=asset.id if asset else None,
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
    batches = split_batches(keys, collection=collection if bucket is not None else code, default=code)
    if manifest_path and bucket is not None and len(batches) > 1:
        raise BadInputError("--manifest describes one batch: give the prefix of one batch")
    done = 0
    total = sum(len(b.files) for b in batches)
    for b in batches:
        try:
            extra = manifest_path if bucket is not None else None
            name = batch if bucket is None else None
            done = _ingest_batch(store, settings, b, report_, extra, done=done, total=total, batch_name=name)
        except Exception as e:  # one batch's failure never stops the others
            reason = f"{type(e).__name__}: {e}"
            report_.batches.append(
                {"collection": b.collection, "batch": b.name, "state": "failed", "reason": reason}
            )
            record_problem(settings, collection=b.collection, batch=b.name, reason=reason)
            log.error("batch %s/%s failed: %s", b.collection, b.name, reason)
    report("ingest", done=total, total=total, name="")
    return report_.as_dict()


def record_problem(settings: Settings, *, collection: str, batch: str, reason: str) -> None:
    """An event for operators (`lantai status`, the dashboard) about a batch."""
    with session_scope(settings) as session:
        crud.add_event(session, type="ingestion problem", outcome="failure", collection=collection,
                       batch=batch, reason=reason[:2000])  # fmt: skip


def _ingest_batch(
    store: ObjectStore,
    settings: Settings,
    b: Batch,
    report_: IngestReport,
    extra_manifest: str | None,
    *,
    done: int,
    total: int,
    batch_name: str | None,
) -> int:
    """Ingest one batch under its own error boundary per file. A batch whose manifest is
    refused waits (its files stay in the inbox) until a corrected manifest arrives."""
    log = get_run_logger()
    state = {"collection": b.collection, "batch": b.name, "state": "ingested", "reason": ""}
    if b.rejected_marker and not b.manifests:
        state |= {"state": "waiting", "reason": "its manifest was refused: waiting for a corrected one"}
        report_.batches.append(state)
        return done + len(b.files)
    try:
        manifests = _read_manifests(store, b)
    except ManifestRejected as e:
        _reject_manifest(store, settings, b, e)
        state |= {"state": "waiting", "reason": f"manifest refused: {e.reason}"}
        report_.manifest_errors.append(f"{e.key}: {e.reason} (moved to quarantine/; the batch waits)")
        report_.batches.append(state)
        return done + len(b.files)
    if b.rejected_marker:  # a corrected manifest arrived
        store.delete(b.prefix + REJECTED)
    if extra_manifest:
        manifests.setdefault("", manifest.Manifest()).rows.update(manifest.read(Path(extra_manifest)).rows)
    for found in manifests.values():
        report_.manifest_errors.extend(found.errors)
        for err in found.errors:
            log.warning("manifest: %s", err)
    failed = 0
    for key in b.files:
        report("ingest", done=done, total=total, name=key.rsplit("/", 1)[-1])
        done += 1
        relative = key[len(b.prefix) :]
        row = _row_for(manifests, relative)
        try:
            result = ingest_object(key, b.collection, batch_name or b.name, asdict(row) if row else None)
        except Exception as e:  # after the retries: this file waits in the inbox, the others go on
            failed += 1
            result = ObjectResult(key, relative, "failed", reason=f"{type(e).__name__}: {e}")
            record_problem(
                settings, collection=b.collection, batch=b.name, reason=f"{relative}: {result.reason}"
            )
        report_.results.append(result)
        log.info("%s %s %s", result.outcome, relative, result.reason)
    if failed:
        state |= {
            "state": "failed",
            "reason": f"{failed} files could not be ingested; they wait in the inbox",
        }
    else:
        _archive_manifests(store, settings, b)
    report_.batches.append(state)
    return done


def _reject_manifest(store: ObjectStore, settings: Settings, b: Batch, e: ManifestRejected) -> None:
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
    record_problem(settings, collection=b.collection, batch=b.name, reason=f"manifest refused: {e.reason}")


def _archive_manifests(store: ObjectStore, settings: Settings, b: Batch) -> None:
    """Keep the batch's manifests with its record (``exports/manifests/<collection>/<batch>/``),
    out of the inbox, once every file of the batch is in."""
    for key in b.manifests:
        kept = f"{EXPORTS}manifests/{b.collection}/{b.name}/{key[len(b.prefix) :]}"
        store.copy(key, kept)
        store.delete(key)
        with session_scope(settings) as session:
            crud.add_event(session, type="manifest archived", collection=b.collection, batch=b.name,
                           source_key=key, key=kept)  # fmt: skip
