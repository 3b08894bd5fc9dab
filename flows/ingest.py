"""The ingest flow: files become immutable masters and catalog items.

Local files go straight to their content address, with no round trip through the inbox:
each is opened once without following links, hashed, identified from its bytes, checked
for structure (cheaply: headers and layout, not every pixel), and uploaded write-once to
``masters/<sha>/…`` through the same descriptor. An ``s3://`` inbox object is read once
(hashed into a private work file), checked, and copied server-side. A bounded number of
files are in flight at once; their catalog rows (item, asset, PREMIS events, search
entries) are written in short transactions of a few hundred files, and an inbox object is
deleted only after its rows are committed. Killed at any point, a re-run creates nothing
twice: masters are write-once by content and the catalog is keyed by checksum. Objects
that cannot be used go to ``quarantine/`` with the reason. A batch whose manifest is
refused waits in the inbox for a corrected one. Each batch is one Prefect task.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import queue
import stat
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from catalog import crud, manifest, refcode
from catalog.db import session_scope
from catalog.models import Access, Asset, Collection, Item, ItemStatus, Kind
from catalog.search import description_part, reindex_item
from configs import Settings, get_settings
from configs.errors import BadInputError, ConfigError
from flows import runner
from flows.progress import report
from flows.retry import BACKOFF
from storage import InvalidKeyError, ObjectStore, download, open_store
from storage.base import CHUNK, ObjectInfo, ObjectNotFound, WriteOnceError
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


OUTCOMES = ("ingested", "attached", "duplicate", "quarantined", "failed")
RESULTS_LISTED = 10_000  # new items listed one by one in a report; every problem is listed


@dataclass
class IngestReport:
    collection: str
    prefix: str
    results: list[ObjectResult] = field(default_factory=list)
    manifest_errors: list[str] = field(default_factory=list)
    # per batch: collection, batch, state (ingested | waiting | failed) and the reason
    batches: list[dict[str, str]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    results_omitted: int = 0  # ingested/attached files past RESULTS_LISTED, counted only
    total: int = 0  # files to ingest
    done: int = 0

    def add(self, result: ObjectResult) -> None:
        self.counts[result.outcome] += 1
        if result.outcome in ("ingested", "attached") and len(self.results) >= RESULTS_LISTED:
            self.results_omitted += 1  # memory stays flat for an inbox of 100,000 files
        else:
            self.results.append(result)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        del out["total"], out["done"]
        return out


# ---------------------------------------------------------------- uploading a local folder


def local_files(
    sources: list[Path], exclude: tuple[Path, ...] = ()
) -> tuple[list[tuple[Path, str]], list[tuple[str, str]]]:
    """(path, name relative to the batch) of every regular file given or under the folders
    given (not under the ``exclude`` folders: batches of their own), and (name, reason) of
    what is refused without being read: symbolic links (to files or folders, never
    followed), FIFOs, sockets and device files."""
    files: list[tuple[Path, str]] = []
    refused: list[tuple[str, str]] = []
    for source in sources:
        found, bad = _local_files(source, frozenset(exclude))
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


def _local_files(
    source: Path, exclude: frozenset[Path] = frozenset()
) -> tuple[list[tuple[Path, str]], list[tuple[str, str]]]:
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
        dirs[:] = sorted(
            d
            for d in dirs
            if not d.startswith(".") and not (here / d).is_symlink() and here / d not in exclude
        )
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


def record_refused(
    settings: Settings, refused: list[tuple[str, str]], *, collection: str, batch: str
) -> list[ObjectResult]:
    """Catalog what was refused without being read (links, FIFOs, devices), with the reason."""
    results = []
    for relative, reason in refused:
        shown = printable_name(relative)
        sha = hashlib.sha256(f"refused:{collection}/{batch}/{shown}".encode()).hexdigest()
        results.append(record_quarantine(settings, collection=collection, key="", name=shown, size=0,
                                         reason=reason, batch=batch, sha256=sha))  # fmt: skip
    return results


def upload_to_inbox(
    store: ObjectStore, files: list[tuple[Path, str]], *, collection: str, batch: str
) -> list[tuple[Path, str]]:
    """Upload local files into ``inbox/<collection>/<batch>/`` to wait there (a batch whose
    manifest was refused waits for a corrected one). Returns the files whose names storage
    cannot hold: they cannot wait in the inbox, so the caller quarantines them now."""
    unusable = []
    for index, (path, relative) in enumerate(files, 1):
        report("upload", done=index - 1, total=len(files), name=relative)
        try:
            key = inbox_key(collection, batch, relative)
        except InvalidKeyError:
            unusable.append((path, relative))
            continue
        with _Pinned(path) as pinned:
            sha = pinned.sha256()
            try:
                if store.stat(key).sha256 == sha:
                    continue  # already waiting there
            except ObjectNotFound:
                pass
            store.put_file(key, pinned.path, sha256=sha)
    report("upload", done=len(files), total=len(files), name="")
    return unusable


class FileChanged(Exception):
    """A local file was replaced or modified while it was being ingested."""


class _Pinned:
    """A local file opened once, without following links: every later read (hashing, format
    checks, ffprobe, the upload) goes through this descriptor (``/proc/<pid>/fd/N``), so a
    path swapped for a link meanwhile cannot make Lantai read something else, and a file
    modified in place is noticed (its size or modification time changes)."""

    def __init__(self, path: Path) -> None:
        self.original = path
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        try:
            self.fd = os.open(path, flags)
        except OSError as e:  # e.g. swapped for a link since the folder was listed
            raise FileChanged(f"{path.name} cannot be opened as a regular file: {e.strerror}") from e
        st = os.fstat(self.fd)
        if not stat.S_ISREG(st.st_mode):
            os.close(self.fd)
            raise FileChanged(f"{path.name} is no longer a regular file")
        self._signature = (st.st_size, st.st_mtime_ns, st.st_ino)
        self.size = st.st_size
        proc = Path(f"/proc/{os.getpid()}/fd/{self.fd}")
        self.path = proc if proc.exists() else path

    def sha256(self) -> str:
        digest = hashlib.sha256()
        os.lseek(self.fd, 0, os.SEEK_SET)
        while chunk := os.read(self.fd, CHUNK):
            digest.update(chunk)
        return digest.hexdigest()

    def check_unchanged(self) -> None:
        st = os.fstat(self.fd)
        if (st.st_size, st.st_mtime_ns, st.st_ino) != self._signature:
            raise FileChanged(f"{self.original.name} changed while it was being ingested: try again")
        if self.path == self.original:  # no /proc: the path must still name the same file
            now = self.original.lstat()
            if (now.st_size, now.st_mtime_ns, now.st_ino) != self._signature:
                raise FileChanged(f"{self.original.name} was replaced while it was being ingested")

    def __enter__(self) -> _Pinned:
        return self

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)


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


def _place(key: str, collection: str | None, default: str) -> tuple[str, str, str, bool]:
    """(collection, batch, batch prefix, in a batch folder) of an inbox key."""
    parts = key[len(INBOX) :].split("/") if key.startswith(INBOX) else [key]
    if len(parts) >= 3:
        return parts[0], parts[1], f"{INBOX}{parts[0]}/{parts[1]}/", True
    if len(parts) == 2:
        return parts[0], "batch", f"{INBOX}{parts[0]}/", False
    return collection or default, "batch", INBOX, False


def _add(batch: Batch, key: str) -> None:
    base = posixpath.basename(key)
    if base == REJECTED:
        batch.rejected_marker = True
    elif base.lower() in manifest.MANIFEST_NAMES:
        batch.manifests.append(key)
    elif not base.startswith("."):
        batch.files.append(key)


@dataclass
class InboxScan:
    """What a first pass over an inbox prefix found: the collections its layout names, its
    batches, and how many objects (only names and counts are kept, whatever its size)."""

    collections: set[str] = field(default_factory=set)
    batches: set[tuple[str, str]] = field(default_factory=set)
    objects: int = 0


def scan_inbox(keys: Iterator[str], *, collection: str | None, default: str) -> InboxScan:
    """A first pass: a ``collection`` given for a prefix holding other collections' batches
    is refused before anything is ingested (one collection's files are never pulled into
    another)."""
    found = InboxScan()
    for key in keys:
        coll, name, prefix, _ = _place(key, collection, default)
        if prefix != INBOX:  # the layout names the collection
            found.collections.add(coll)
        found.batches.add((coll, name))
        found.objects += 1
    if collection and found.collections - {collection}:
        raise BadInputError(
            f"this inbox prefix holds the batches of the collections {', '.join(sorted(found.collections))}, "
            f"not only {collection}",
            hint="ingest one collection's prefix (inbox/<collection>/…), or leave out --collection: "
            "the inbox layout names each batch's collection",
        )
    return found


def iter_batches(keys: Iterator[str], *, collection: str | None, default: str) -> Iterator[Batch]:
    """The batches of an inbox listing in key order, one at a time: a batch folder's keys are
    contiguous in a listing (they share its prefix), so only the current batch is held,
    whatever the size of the inbox. Files outside batch folders form one batch per
    collection (or of ``collection``/``default``), yielded last."""
    current: Batch | None = None
    loose: dict[tuple[str, str], Batch] = {}
    for key in keys:
        coll, name, prefix, in_folder = _place(key, collection, default)
        if not in_folder:
            _add(loose.setdefault((coll, name), Batch(coll, name, prefix)), key)
            continue
        if current is None or current.prefix != prefix:
            if current is not None:
                yield current
            current = Batch(coll, name, prefix)
        _add(current, key)
    if current is not None:
        yield current
    yield from (loose[k] for k in sorted(loose))


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
        out[posixpath.dirname(key[len(batch.prefix) :])] = _parse_manifest(data, key)
    return out


def _parse_manifest(data: bytes, key: str) -> manifest.Manifest:
    try:
        return manifest.parse(data, name=posixpath.basename(key))
    except BadInputError as e:
        raise ManifestRejected(key, e.message) from e
    except (RecursionError, MemoryError, ValueError) as e:  # whatever else a hostile file does
        raise ManifestRejected(key, f"the manifest cannot be read: {type(e).__name__}") from e


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
    run: _Run,
    coll: Collection,
    fmt: Format,
    row: manifest.ManifestRow | None,
    *,
    name: str,
) -> Item:
    fields = dict(row.fields) if row else {}
    group = fields.pop("item", None)
    kind = Kind.scan if fmt.kind in ("image", "pdf") else Kind.recording
    retention = fields.get("retention", coll.retention)
    code = fields.get("reference_code")
    if not code:
        year = (fields.get("date") or str(datetime.now(UTC).year))[:4]
        code = run.codes.next(
            session, fonds=coll.fonds, category=CATEGORY[fmt.kind], year=year, retention=retention
        )
    fields.setdefault("title", posixpath.splitext(posixpath.basename(name))[0])
    # 开放标识 in a manifest is a proposal for open review, never a decision: every item
    # starts unreviewed and opens only through open review (or `lantai open`)
    proposed = fields.pop("access", "")
    extra: dict[str, str] = {"group": group} if group else {}
    if proposed:
        extra["proposed_access"] = proposed
    if engine := fields.pop("ocr_engine", ""):  # the row's OCR engine (ocr引擎) over the setting
        extra["ocr_engine"] = engine
    item = Item.model_validate(
        {
            **fields,
            "extra": extra,
            "collection_id": coll.id or 0,
            "kind": kind,
            "source_name": posixpath.basename(name),
            "batch": run.batch,
            "reference_code": code,
            "retention": retention,
        }
    )
    item.access = Access.unreviewed
    session.add(item)
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


@dataclass
class Entry:
    """One file of a batch: a local file (``path``) or an inbox object (``key``)."""

    name: str  # its path relative to the batch
    key: str = ""
    path: Path | None = None
    row: manifest.ManifestRow | None = None


@dataclass
class Prepared:
    """An entry after the work that needs no transaction: hashed, checked, stored."""

    entry: Entry
    outcome: str  # master | duplicate | quarantine | failed
    sha: str = ""
    size: int = 0
    fmt: Format | None = None
    master_key: str = ""
    quarantine_key: str = ""
    reason: str = ""


@dataclass
class _Run:
    """What the files of one batch share while they are ingested."""

    settings: Settings
    store: ObjectStore
    collection: str
    batch: str
    work: Path  # a private folder for inbox objects being read
    codes: refcode.CodeSequence = field(default_factory=refcode.CodeSequence)


def _prepare(run: _Run, entry: Entry) -> Prepared:
    """Hash, identify, check and store one file (in a worker thread, no transaction open).
    Transient storage errors are retried; whatever else goes wrong is this file's alone."""
    for attempt in range(len(BACKOFF) + 1):
        try:
            return _prepare_local(run, entry) if entry.path is not None else _prepare_inbox(run, entry)
        except (BadInputError, ConfigError, FileChanged, WriteOnceError) as e:
            return Prepared(entry, "failed", reason=getattr(e, "message", None) or str(e))
        except Exception as e:  # storage or I/O: retried, then this file waits
            if attempt == len(BACKOFF):
                return Prepared(entry, "failed", reason=f"{type(e).__name__}: {e}")
            time.sleep(BACKOFF[attempt])
    raise AssertionError("unreachable")


def _prepare_local(run: _Run, entry: Entry) -> Prepared:
    assert entry.path is not None
    try:
        ikey = inbox_key(run.collection, run.batch, entry.name)  # the name storage can hold
    except InvalidKeyError as e:
        with _Pinned(entry.path) as pinned:
            sha = pinned.sha256()
            qkey = quarantine_key(f"{run.collection}/{run.batch}/{sha}")
            run.store.put_file(qkey, pinned.path, sha256=sha)
            return Prepared(entry, "quarantine", sha, pinned.size, quarantine_key=qkey,
                            reason=f"unusable file name: {e.message}")  # fmt: skip
    with _Pinned(entry.path) as pinned:
        sha = pinned.sha256()
        try:
            fmt = identify(pinned.path)
            check_readable(pinned.path, fmt)
        except UnsupportedFormat as e:
            qkey = quarantine_key(ikey)
            run.store.put_file(qkey, pinned.path, sha256=sha)
            return Prepared(entry, "quarantine", sha, pinned.size, quarantine_key=qkey, reason=e.message)
        mkey = master_key(sha, posixpath.basename(entry.name))
        try:
            current: ObjectInfo | None = run.store.stat(mkey)
        except ObjectNotFound:
            current = None
        if current is not None and current.sha256 != sha:
            raise WriteOnceError(f"refusing to overwrite write-once object {mkey}")
        if current is None:  # absent a moment ago: this run uploads it
            run.store.put_file(mkey, pinned.path, content_type=fmt.mime, sha256=sha)
        try:
            pinned.check_unchanged()
        except FileChanged:
            if current is None:  # what was uploaded may not be what was hashed
                run.store.delete(mkey)
            raise
        return Prepared(entry, "master", sha, pinned.size, fmt, master_key=mkey)


def _prepare_inbox(run: _Run, entry: Entry) -> Prepared:
    store = run.store
    work = run.work / hashlib.sha256(entry.key.encode()).hexdigest()
    try:
        inbox_info = store.stat(entry.key)
        sha = download(store, entry.key, work)  # the one read: hashed on the way
        size = work.stat().st_size
        try:
            fmt = identify(work)
            check_readable(work, fmt)
        except UnsupportedFormat as e:
            qkey = quarantine_key(entry.key)
            store.put_file(qkey, work, sha256=sha)
            return Prepared(entry, "quarantine", sha, size, quarantine_key=qkey, reason=e.message)
        mkey = master_key(sha, posixpath.basename(entry.name))
        if inbox_info.sha256 == sha and size < SERVER_COPY_LIMIT:
            store.copy(entry.key, mkey, write_once=True)  # server-side: no second upload
        else:
            store.put_file(mkey, work, content_type=fmt.mime, sha256=sha, write_once=True)
        return Prepared(entry, "master", sha, size, fmt, master_key=mkey)
    finally:
        work.unlink(missing_ok=True)


def _catalog_chunk(
    session: Session, run: _Run, coll: Collection, chunk: list[Prepared]
) -> list[ObjectResult]:
    """The catalog rows of a chunk of stored files — items, assets, PREMIS events, search
    entries — in a few statements per chunk rather than several per file: the new items
    are inserted together, then their assets, then the events. A file whose content is a
    master already (before or earlier in this chunk) gets a duplicate event instead."""
    known = _masters_by_sha(session, [p.sha for p in chunk])
    results: dict[int, ObjectResult] = {}
    planned: list[tuple[int, Prepared, Item, str]] = []
    first_of: dict[str, int] = {}
    repeats: list[tuple[int, Prepared]] = []
    for i, p in enumerate(chunk):
        if p.sha in known:
            results[i] = _duplicate(session, p, known[p.sha])
        elif p.sha in first_of:
            repeats.append((i, p))
        else:
            assert p.fmt is not None
            first_of[p.sha] = i
            item = _group_item(session, coll, p.entry.row, run.batch)  # a query only for grouped rows
            outcome = "attached" if item else "ingested"
            if item is None:
                item = _new_item(session, run, coll, p.fmt, p.entry.row, name=p.entry.name)
            planned.append((i, p, item, outcome))
    session.flush()  # the new items, together
    sequences: dict[int, int] = {}
    assets = []
    for _, p, item, outcome in planned:
        assert item.id is not None and p.fmt is not None
        if item.id not in sequences:
            sequences[item.id] = len(crud.masters(session, item_id=item.id)) if outcome == "attached" else 0
        asset = Asset(item_id=item.id, role="master", key=p.master_key, sha256=p.sha, size=p.size,
                      media_type=p.fmt.mime, format_name=p.fmt.name, sequence=sequences[item.id],
                      original_name=posixpath.basename(p.entry.name))  # fmt: skip
        sequences[item.id] += 1
        session.add(asset)
        assets.append(asset)
    session.flush()  # their assets, together
    touched: dict[int, Item] = {}
    created = {id(item) for _, _, item, outcome in planned if outcome == "ingested"}
    for (i, p, item, outcome), asset in zip(planned, assets, strict=True):
        assert p.fmt is not None
        known[p.sha] = asset
        source = p.entry.key or p.entry.name
        for etype, info in (
            ("ingestion", {"source_key": source, "master_key": p.master_key, "batch": run.batch}),
            ("message digest calculation", {"algorithm": "SHA-256", "value": p.sha, "size": p.size}),
            ("format identification", {"format": p.fmt.name, "mime": p.fmt.mime, "method": "magic bytes"}),
        ):
            crud.add_event(session, type=etype, item_id=item.id, asset_id=asset.id, **info)
        if item.status not in (ItemStatus.pending, ItemStatus.quarantined):
            item.status = ItemStatus.pending  # a new file means new work
            session.add(item)
        touched[item.id or 0] = item
        results[i] = ObjectResult(p.entry.key, p.entry.name, outcome, item.id, item.reference_code)
    for i, p in repeats:
        results[i] = _duplicate(session, p, known[p.sha])
    for item in touched.values():
        # once per item, however many files it got; a new file adds no pages or segments
        # yet (enrichment does), so only the description's entries
        reindex_item(session, item, description_part(), fresh=id(item) in created)
    return [results[i] for i in sorted(results)]


def _duplicate(session: Session, p: Prepared, existing: Asset) -> ObjectResult:
    crud.add_event(session, type="duplicate detection", item_id=existing.item_id, asset_id=existing.id,
                   outcome="warning", key=p.entry.key or p.entry.name, sha256=p.sha,
                   note="identical content is already a master; nothing new created")  # fmt: skip
    item = session.get(Item, existing.item_id)
    code = item.reference_code if item else ""
    why = f"same content as {existing.original_name}"
    return ObjectResult(p.entry.key, p.entry.name, "duplicate", existing.item_id, code, why)


def _masters_by_sha(session: Session, shas: list[str]) -> dict[str, Asset]:
    found: dict[str, Asset] = {}
    unique = sorted(set(shas))
    for i in range(0, len(unique), 500):
        query = select(Asset).where(col(Asset.sha256).in_(unique[i : i + 500]), Asset.role == "master")
        found |= {a.sha256: a for a in session.exec(query)}
    return found


def _commit(run: _Run, chunk: list[Prepared]) -> list[ObjectResult]:
    """Write the catalog rows of a chunk of stored files in one short transaction. A code
    taken meanwhile by another writer (a concurrent ingest) is retried with fresh codes."""
    for attempt in range(3):
        try:
            with session_scope(run.settings) as session:
                coll = crud.get_or_create_collection(session, code=run.collection)
                return _catalog_chunk(session, run, coll, chunk)
        except IntegrityError:
            if attempt == 2:
                raise
            run.codes.reset()
    raise AssertionError("unreachable")


class _Writer(threading.Thread):
    """The one thread that writes a batch's catalog rows, chunk after chunk, while the
    workers go on hashing and uploading the next files: files in flight, catalog writes
    and inbox clean-up overlap, and at most two chunks wait (memory stays bounded)."""

    def __init__(self, run: _Run, report_: IngestReport, pool: ThreadPoolExecutor) -> None:
        super().__init__(name="lantai-ingest-writer", daemon=True)
        self.run_, self.report_, self.pool = run, report_, pool
        self.chunks: queue.Queue[list[Prepared] | None] = queue.Queue(maxsize=2)
        self.error: BaseException | None = None
        self.failed = 0

    def put(self, chunk: list[Prepared] | None) -> None:
        while True:
            if self.error is not None:
                raise self.error
            try:
                self.chunks.put(chunk, timeout=0.5)
                return
            except queue.Full:
                continue

    def run(self) -> None:
        try:
            while (chunk := self.chunks.get()) is not None:
                self._write(chunk)
        except BaseException as e:  # handed to the feeding thread, which stops the batch
            self.error = e

    def _write(self, chunk: list[Prepared]) -> None:
        run, store = self.run_, self.run_.store
        log = runner.logger()
        stored = [p for p in chunk if p.outcome in ("master", "duplicate")]
        if stored:
            for result in _commit(run, stored):
                self.report_.add(result)
            # only once the rows are committed
            list(self.pool.map(store.delete, [p.entry.key for p in stored if p.entry.key]))
        for p in chunk:
            entry = p.entry
            if p.outcome == "quarantine":
                result = record_quarantine(run.settings, collection=run.collection, key=p.quarantine_key,
                                           name=printable_name(entry.name), sha256=p.sha, size=p.size,
                                           reason=p.reason, batch=run.batch)  # fmt: skip
                if entry.key:
                    store.delete(entry.key)
            elif p.outcome == "failed":  # this file waits (in the inbox, or its folder); the others go on
                self.failed += 1
                result = ObjectResult(entry.key, printable_name(entry.name), "failed", reason=p.reason)
                record_problem(run.settings, collection=run.collection, batch=run.batch,
                               reason=f"{printable_name(entry.name)}: {p.reason}")  # fmt: skip
            else:
                continue
            log.info("%s %s %s", result.outcome, printable_name(entry.name), result.reason)
            self.report_.add(result)


def _ingest_entries(run: _Run, entries: Iterator[Entry], report_: IngestReport) -> int:
    """Ingest entries with a bounded number in flight; returns how many failed (they wait:
    in the inbox, or in their folder for the next run)."""
    settings = run.settings
    workers = settings.ingest.workers
    in_flight: deque[Future[Prepared]] = deque()
    chunk: list[Prepared] = []
    chunk_started = time.monotonic()
    with ThreadPoolExecutor(workers, thread_name_prefix="lantai-ingest") as pool:
        writer = _Writer(run, report_, pool)
        writer.start()

        def take() -> None:
            nonlocal chunk, chunk_started
            p = in_flight.popleft().result()
            if not chunk:
                chunk_started = time.monotonic()
            chunk.append(p)
            report_.done += 1
            report(
                "ingest",
                done=report_.done,
                total=report_.total,
                name=printable_name(posixpath.basename(p.entry.name)),
            )
            if len(chunk) >= settings.ingest.commit_every or time.monotonic() - chunk_started > 2:
                writer.put(chunk)
                chunk = []

        try:
            for entry in entries:
                in_flight.append(pool.submit(_prepare, run, entry))
                while len(in_flight) >= 2 * workers:
                    take()
            while in_flight:
                take()
            writer.put(chunk)
        finally:
            for pending in in_flight:
                pending.cancel()
            if writer.error is None:
                writer.chunks.put(None)  # the writer finishes what it has, then stops
            writer.join()
    if writer.error is not None:
        raise writer.error
    return writer.failed


# ---------------------------------------------------------------- the flow


def parse_source(source: str) -> tuple[str | None, str]:
    """(bucket, prefix) for ``s3://bucket/prefix``; (None, path) for a local path."""
    if source.startswith("s3://"):
        bucket, _, prefix = source[5:].partition("/")
        return bucket, prefix
    return None, source


@runner.flow(name="ingest", log_prints=False)
def ingest_flow(
    source: str | list[str],
    collection: str | None = None,
    manifest_path: str | None = None,
    batch: str | None = None,
) -> dict[str, Any]:
    """Ingest local files and folders (straight to their masters) or one ``s3://`` inbox prefix."""
    settings = get_settings()
    store = open_store(settings)
    if isinstance(store, LocalStore) and (swept := store.sweep_partial_uploads()):
        runner.logger().info("removed %d partial uploads left by an interrupted run", swept)
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
        planned = plan_local_batches([Path(s).expanduser() for s in sources], code, batch=batch)
        if manifest_path and len(planned) > 1:
            names = ", ".join(b.name for b in planned)
            raise BadInputError(f"--manifest describes one batch, and these are {len(planned)}: {names}")
        report_.prefix = (
            inbox_key(code, planned[0].name, "x")[:-1] if len(planned) == 1 else f"{INBOX}{code}/"
        )
        for local in planned:  # one batch at a time; one batch's failure never stops the others
            local.extra_manifest = Path(manifest_path) if manifest_path else None
            _guarded(settings, code, local.name, report_, _local_work(local, report_), folder=local.folder)
        report("ingest", done=report_.total, total=report_.total, name="")
        return report_.as_dict()
    if bucket != settings.storage.bucket:
        raise BadInputError(
            f"bucket {bucket!r} is not Lantai's bucket {settings.storage.bucket!r}",
            hint="upload into the configured bucket's inbox/ prefix",
        )
    prefix = location if location.startswith(INBOX) else INBOX + location
    report_.prefix = prefix
    scan = scan_inbox(store.keys(prefix), collection=collection, default=code)
    if manifest_path and len(scan.batches) > 1:
        raise BadInputError("--manifest describes one batch: give the prefix of one batch")
    report_.total = scan.objects
    for b in iter_batches(store.keys(prefix), collection=collection, default=code):  # one at a time
        # one batch's failure never stops the others
        _guarded(settings, b.collection, b.name, report_, _inbox_work(b, manifest_path, report_))
    report("ingest", done=report_.total, total=report_.total, name="")
    return report_.as_dict()


def _inbox_work(b: Batch, manifest_path: str | None, report_: IngestReport) -> Callable[[], None]:
    return lambda: runner.run_task(ingest_inbox_batch, b, manifest_path, report_)


def _local_work(b: LocalBatch, report_: IngestReport) -> Callable[[], None]:
    return lambda: runner.run_task(ingest_local_batch, b, report_)


def _has_manifest(folder: Path) -> bool:
    try:
        return any(
            entry.name.lower() in manifest.MANIFEST_NAMES and entry.is_file(follow_symlinks=False)
            for entry in os.scandir(folder)
        )
    except OSError:
        return False


def plan_local_batches(paths: list[Path], collection: str, *, batch: str | None = None) -> list[LocalBatch]:
    """The batches of ``lantai ingest PATH…``: each folder given is a batch of its own (named
    after it), and so is each folder below it that holds a manifest of its own (named
    ``parent-sub``): a manifest describes its folder and below, and a refused one holds
    only those files. Files given one by one form one batch together. ``batch`` names the
    batch when there is one."""
    folders = [p for p in paths if p.is_dir() and not p.is_symlink()]
    loose = [p for p in paths if p not in folders]
    planned: list[LocalBatch] = []
    if loose:
        name = loose[0].stem if len(loose) == 1 else loose[0].resolve().parent.name
        planned.append(LocalBatch(collection, name or "batch", loose, folder=str(loose[0].resolve().parent)))
    for top in folders:
        own = []  # folders below with a manifest of their own
        for here, dirs, _names in os.walk(top, followlinks=False):
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not Path(here, d).is_symlink())
            if Path(here) != top and _has_manifest(Path(here)):
                own.append(Path(here))
        base = top.resolve().name or "batch"
        planned.append(LocalBatch(collection, base, [top], exclude=tuple(own), folder=str(top.resolve())))
        for sub in own:
            inner = tuple(o for o in own if o != sub and sub in o.parents)
            name = "-".join((base, *sub.relative_to(top).parts))
            planned.append(LocalBatch(collection, name, [sub], exclude=inner, folder=str(sub.resolve())))
    if batch:
        if len(planned) > 1:
            names = ", ".join(b.name for b in planned)
            raise BadInputError(
                f"--batch names one batch, and these are {len(planned)}: {names}",
                hint="leave --batch out: each folder is a batch named after it",
            )
        planned[0].name = batch
    seen: dict[str, int] = {}
    for b in planned:  # two folders of the same name from different places
        seen[b.name] = seen.get(b.name, 0) + 1
        if seen[b.name] > 1:
            b.name = f"{b.name}-{seen[b.name]}"
    return planned


def _guarded(
    settings: Settings,
    collection: str,
    batch: str,
    report_: IngestReport,
    work: Callable[[], None],
    *,
    folder: str = "",
) -> None:
    """Run one batch; whatever it raises is recorded as that batch's problem."""
    try:
        work()
    except Exception as e:
        reason = e.message if isinstance(e, BadInputError) else f"{type(e).__name__}: {e}"
        state = {"collection": collection, "batch": batch, "state": "failed", "reason": reason}
        report_.batches.append(state | ({"folder": folder} if folder else {}))
        record_problem(settings, collection=collection, batch=batch, reason=reason, folder=folder)
        runner.logger().error("batch %s/%s failed: %s", collection, batch, reason)


def record_problem(settings: Settings, *, collection: str, batch: str, reason: str, folder: str = "") -> None:
    """An event for operators (`lantai status`, the dashboard) about a batch (and the local
    folder it came from)."""
    with session_scope(settings) as session:
        crud.add_event(session, type="ingestion problem", outcome="failure", collection=collection,
                       batch=batch, folder=folder, reason=reason[:2000])  # fmt: skip


@dataclass
class LocalBatch:
    collection: str
    name: str
    sources: list[Path]
    extra_manifest: Path | None = None
    exclude: tuple[Path, ...] = ()  # folders below with manifests of their own: batches apart
    folder: str = ""  # where it came from, for the report and `lantai status`


@runner.task(name="ingest-local-batch", no_cache=True)
def ingest_local_batch(b: LocalBatch, report_: IngestReport) -> None:
    """Ingest local files as one batch, straight to their masters. With a manifest that is
    refused, the files are put in the inbox to wait for a corrected one."""
    settings = get_settings()
    store = open_store(settings)
    files, refused = local_files(b.sources, b.exclude)
    for refused_result in record_refused(settings, refused, collection=b.collection, batch=b.name):
        report_.add(refused_result)
    manifests_found: list[tuple[Path, str]] = []
    data_files: list[tuple[Path, str]] = []
    for path, rel in files:
        is_manifest = posixpath.basename(rel).lower() in manifest.MANIFEST_NAMES
        (manifests_found if is_manifest else data_files).append((path, rel))
    report_.total += len(data_files)
    state = {
        "collection": b.collection,
        "batch": b.name,
        "state": "ingested",
        "reason": "",
        "folder": b.folder,
    }
    manifests: dict[str, manifest.Manifest] = {}
    for path, rel in manifests_found:
        try:
            with _Pinned(path) as pinned, open(pinned.path, "rb") as fh:
                manifests[posixpath.dirname(rel)] = _parse_manifest(fh.read(manifest.MAX_BYTES + 1), rel)
        except ManifestRejected as e:
            # the batch waits in the inbox, where a corrected manifest can be put beside it;
            # a file whose name storage cannot hold cannot wait there: quarantined now
            unusable = upload_to_inbox(store, files, collection=b.collection, batch=b.name)
            with tempfile.TemporaryDirectory(prefix="lantai-ingest-") as tmp:
                run = _Run(settings, store, b.collection, b.name, Path(tmp))
                _ingest_entries(run, (Entry(rel, path=path) for path, rel in unusable), report_)
            waiting = Batch(b.collection, b.name, inbox_key(b.collection, b.name, "x")[:-1])
            waiting.manifests = [inbox_key(b.collection, b.name, r) for _, r in manifests_found]
            rejected = ManifestRejected(waiting.prefix + rel, e.reason)
            _reject_manifest(store, settings, waiting, rejected, folder=b.folder)
            report_.manifest_errors.append(f"{rel}: {e.reason} (moved to quarantine/; the batch waits)")
            report_.batches.append(state | {"state": "waiting", "reason": f"manifest refused: {e.reason}"})
            return
    if b.extra_manifest is not None:
        manifests.setdefault("", manifest.Manifest()).rows.update(manifest.read(b.extra_manifest).rows)
    _log_manifest_errors(manifests, report_)
    with tempfile.TemporaryDirectory(prefix="lantai-ingest-") as tmp:
        run = _Run(settings, store, b.collection, b.name, Path(tmp))
        entries = (Entry(rel, path=path, row=_row_for(manifests, rel)) for path, rel in data_files)
        failed = _ingest_entries(run, entries, report_)
    if failed:
        state |= {"state": "failed", "reason": f"{failed} files could not be ingested: run the ingest again"}
    else:
        for path, rel in manifests_found:  # kept with the batch's record
            with _Pinned(path) as pinned:
                kept = f"{EXPORTS}manifests/{b.collection}/{b.name}/{rel}"
                store.put_file(kept, pinned.path, content_type="text/plain")
        if manifests_found:
            with session_scope(settings) as session:
                crud.add_event(session, type="manifest archived", collection=b.collection, batch=b.name,
                               source_key="", key=f"{EXPORTS}manifests/{b.collection}/{b.name}/")  # fmt: skip
        _clear_waiting(store, b, data_files)
    report_.batches.append(state)


def _clear_waiting(store: ObjectStore, b: LocalBatch, files: list[tuple[Path, str]]) -> None:
    """After a batch went in from its folder: what an earlier, refused attempt left waiting
    in the inbox (the marker, and the same files) is no longer waiting."""
    prefix = inbox_key(b.collection, b.name, "x")[:-1]
    left = set(store.keys(prefix))
    if not left:
        return
    for path, rel in files:
        try:
            key = inbox_key(b.collection, b.name, rel)
        except InvalidKeyError:
            continue
        if key in left:
            with _Pinned(path) as pinned:
                if store.stat(key).sha256 == pinned.sha256():
                    store.delete(key)
    for key in left:
        if posixpath.basename(key) == REJECTED or posixpath.basename(key).lower() in manifest.MANIFEST_NAMES:
            store.delete(key)


@runner.task(name="ingest-inbox-batch", no_cache=True)
def ingest_inbox_batch(b: Batch, extra_manifest: str | None, report_: IngestReport) -> None:
    """Ingest one inbox batch. A batch whose manifest is refused waits (its files stay in
    the inbox) until a corrected manifest arrives."""
    settings = get_settings()
    store = open_store(settings)
    state = {"collection": b.collection, "batch": b.name, "state": "ingested", "reason": ""}
    if b.rejected_marker and not b.manifests:
        state |= {"state": "waiting", "reason": "its manifest was refused: waiting for a corrected one"}
        report_.batches.append(state)
        return
    try:
        manifests = _read_manifests(store, b)
    except ManifestRejected as e:
        _reject_manifest(store, settings, b, e)
        state |= {"state": "waiting", "reason": f"manifest refused: {e.reason}"}
        report_.manifest_errors.append(f"{e.key}: {e.reason} (moved to quarantine/; the batch waits)")
        report_.batches.append(state)
        return
    if b.rejected_marker:  # a corrected manifest arrived
        store.delete(b.prefix + REJECTED)
    if extra_manifest:
        manifests.setdefault("", manifest.Manifest()).rows.update(manifest.read(Path(extra_manifest)).rows)
    _log_manifest_errors(manifests, report_)
    with tempfile.TemporaryDirectory(prefix="lantai-ingest-") as tmp:
        run = _Run(settings, store, b.collection, b.name, Path(tmp))
        entries = (
            Entry(key[len(b.prefix) :], key=key, row=_row_for(manifests, key[len(b.prefix) :]))
            for key in b.files
        )
        failed = _ingest_entries(run, entries, report_)
    if failed:
        state |= {
            "state": "failed",
            "reason": f"{failed} files could not be ingested; they wait in the inbox",
        }
    else:
        _archive_manifests(store, settings, b)
    report_.batches.append(state)


def _log_manifest_errors(manifests: dict[str, manifest.Manifest], report_: IngestReport) -> None:
    log = runner.logger()
    for found in manifests.values():
        report_.manifest_errors.extend(found.errors)
        for err in found.errors:
            log.warning("manifest: %s", err)


def _reject_manifest(
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
