"""Batches: which folders make which batch (each path given, and each folder below with a
manifest of its own), and one batch taken in from a local folder or from the inbox."""

from __future__ import annotations

import os
import posixpath
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from catalog import crud, manifest
from catalog.db import session_scope
from catalog.models import EventType
from configs import Settings, get_settings
from configs.errors import BadInputError
from flows import runner
from flows.ingest.common import IngestReport
from flows.ingest.inbox import REJECTED, Batch
from flows.ingest.manifests import (
    ManifestRejected,
    archive_manifests,
    log_manifest_errors,
    parse_manifest,
    read_manifests,
    reject_manifest,
    row_for,
)
from flows.ingest.prepare import Entry, Run
from flows.ingest.records import record_problem, record_refused
from flows.ingest.walk import Pinned, local_files, upload_to_inbox
from flows.ingest.writer import ingest_entries
from storage import InvalidKeyError, ObjectStore, open_store
from storage.keys import EXPORTS, inbox_key


def inbox_work(b: Batch, manifest_path: str | None, report_: IngestReport) -> Callable[[], None]:
    return lambda: runner.run_task(ingest_inbox_batch, b, manifest_path, report_)


def local_work(b: LocalBatch, report_: IngestReport) -> Callable[[], None]:
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


def guarded(
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
            with Pinned(path) as pinned, open(pinned.path, "rb") as fh:
                manifests[posixpath.dirname(rel)] = parse_manifest(fh.read(manifest.MAX_BYTES + 1), rel)
        except ManifestRejected as e:
            # the batch waits in the inbox, where a corrected manifest can be put beside it;
            # a file whose name storage cannot hold cannot wait there: quarantined now
            unusable = upload_to_inbox(store, files, collection=b.collection, batch=b.name)
            with tempfile.TemporaryDirectory(prefix="lantai-ingest-") as tmp:
                run = Run(settings, store, b.collection, b.name, Path(tmp))
                ingest_entries(run, (Entry(rel, path=path) for path, rel in unusable), report_)
            waiting = Batch(b.collection, b.name, inbox_key(b.collection, b.name, "x")[:-1])
            waiting.manifests = [inbox_key(b.collection, b.name, r) for _, r in manifests_found]
            rejected = ManifestRejected(waiting.prefix + rel, e.reason)
            reject_manifest(store, settings, waiting, rejected, folder=b.folder)
            report_.manifest_errors.append(f"{rel}: {e.reason} (moved to quarantine/; the batch waits)")
            report_.batches.append(state | {"state": "waiting", "reason": f"manifest refused: {e.reason}"})
            return
    if b.extra_manifest is not None:
        manifests.setdefault("", manifest.Manifest()).rows.update(manifest.read(b.extra_manifest).rows)
    log_manifest_errors(manifests, report_)
    with tempfile.TemporaryDirectory(prefix="lantai-ingest-") as tmp:
        run = Run(settings, store, b.collection, b.name, Path(tmp))
        entries = (Entry(rel, path=path, row=row_for(manifests, rel)) for path, rel in data_files)
        failed = ingest_entries(run, entries, report_)
    if failed:
        state |= {"state": "failed", "reason": f"{failed} files could not be ingested: run the ingest again"}
    else:
        for path, rel in manifests_found:  # kept with the batch's record
            with Pinned(path) as pinned:
                kept = f"{EXPORTS}manifests/{b.collection}/{b.name}/{rel}"
                store.put_file(kept, pinned.path, content_type="text/plain")
        if manifests_found:
            with session_scope(settings) as session:
                crud.add_event(session, type=EventType.manifest_archived, collection=b.collection,
                               batch=b.name, source_key="",
                               key=f"{EXPORTS}manifests/{b.collection}/{b.name}/")  # fmt: skip
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
            with Pinned(path) as pinned:
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
        manifests = read_manifests(store, b)
    except ManifestRejected as e:
        reject_manifest(store, settings, b, e)
        state |= {"state": "waiting", "reason": f"manifest refused: {e.reason}"}
        report_.manifest_errors.append(f"{e.key}: {e.reason} (moved to quarantine/; the batch waits)")
        report_.batches.append(state)
        return
    if b.rejected_marker:  # a corrected manifest arrived
        store.delete(b.prefix + REJECTED)
    if extra_manifest:
        manifests.setdefault("", manifest.Manifest()).rows.update(manifest.read(Path(extra_manifest)).rows)
    log_manifest_errors(manifests, report_)
    with tempfile.TemporaryDirectory(prefix="lantai-ingest-") as tmp:
        run = Run(settings, store, b.collection, b.name, Path(tmp))
        entries = (
            Entry(key[len(b.prefix) :], key=key, row=row_for(manifests, key[len(b.prefix) :]))
            for key in b.files
        )
        failed = ingest_entries(run, entries, report_)
    if failed:
        state |= {
            "state": "failed",
            "reason": f"{failed} files could not be ingested; they wait in the inbox",
        }
    else:
        archive_manifests(store, settings, b)
    report_.batches.append(state)
