"""One file made ready: hashed, identified from its bytes, checked, and its master written
write-once (a local file through the descriptor it was hashed from; an inbox object copied
server-side)."""

from __future__ import annotations

import hashlib
import logging
import posixpath
import time
from dataclasses import dataclass, field
from pathlib import Path

from catalog import manifest, refcode
from configs import Settings
from configs.errors import BadInputError, ConfigError, LantaiError
from flows.ingest.common import SERVER_COPY_LIMIT
from flows.ingest.walk import FileChanged, Pinned
from flows.retry import BACKOFF, transient
from storage import InvalidKeyError, ObjectStore, download
from storage.base import ObjectInfo, ObjectNotFound, WriteOnceError
from storage.keys import inbox_key, master_key, quarantine_key
from tasks.formats import Format, UnsupportedFormat, check_readable, identify

log = logging.getLogger(__name__)


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
class Run:
    """What the files of one batch share while they are ingested."""

    settings: Settings
    store: ObjectStore
    collection: str
    batch: str
    work: Path  # a private folder for inbox objects being read
    codes: refcode.CodeSequence = field(default_factory=refcode.CodeSequence)


def prepare(run: Run, entry: Entry) -> Prepared:
    """Hash, identify, check and store one file (in a worker thread, no transaction open).
    What is transient (``flows.retry.transient``: storage, OS, a busy database) is retried
    with backoff; anything else is this file's at once, reported with its type — a
    programming error is logged with its traceback, not retried for 22 s as if it were
    the storage."""
    for attempt in range(len(BACKOFF) + 1):
        try:
            return _prepare_local(run, entry) if entry.path is not None else _prepare_inbox(run, entry)
        except (BadInputError, ConfigError, FileChanged) as e:
            return Prepared(entry, "failed", reason=getattr(e, "message", None) or str(e))
        except Exception as e:  # every file has its own error boundary
            if not transient(e) or attempt == len(BACKOFF):
                if isinstance(e, LantaiError):  # a message written for the user
                    return Prepared(entry, "failed", reason=e.message)
                if not isinstance(e, OSError):
                    log.exception("ingest of %s failed", entry.name)
                return Prepared(entry, "failed", reason=f"{type(e).__name__}: {e}")
            time.sleep(BACKOFF[attempt])
    raise AssertionError("unreachable")


def _prepare_local(run: Run, entry: Entry) -> Prepared:
    assert entry.path is not None
    try:
        ikey = inbox_key(run.collection, run.batch, entry.name)  # the name storage can hold
    except InvalidKeyError as e:
        with Pinned(entry.path) as pinned:
            sha = pinned.sha256()
            qkey = quarantine_key(f"{run.collection}/{run.batch}/{sha}")
            run.store.put_file(qkey, pinned.path, sha256=sha)
            return Prepared(entry, "quarantine", sha, pinned.size, quarantine_key=qkey,
                            reason=f"unusable file name: {e.message}")  # fmt: skip
    with Pinned(entry.path) as pinned:
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


def _prepare_inbox(run: Run, entry: Entry) -> Prepared:
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
