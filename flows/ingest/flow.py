"""The ingest flow: local paths (one batch per folder) or an ``s3://`` inbox prefix (one batch
per inbox folder), each batch under its own error boundary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from catalog import crud
from catalog.db import get_engine, session_scope
from catalog.models import EventType
from catalog.ops.statistics import refresh as refresh_statistics
from configs import Settings, get_settings
from configs.errors import BadInputError
from flows import runner
from flows.ingest.batches import guarded, inbox_work, local_work, plan_local_batches
from flows.ingest.common import IngestReport
from flows.ingest.inbox import iter_batches, scan_inbox
from flows.progress import report
from storage import open_store
from storage.keys import INBOX, inbox_key
from storage.local import LocalStore

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
            guarded(settings, code, local.name, report_, local_work(local, report_), folder=local.folder)
        return _finish(settings, report_)
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
        guarded(settings, b.collection, b.name, report_, inbox_work(b, manifest_path, report_))
    return _finish(settings, report_)


def _finish(settings: Settings, report_: IngestReport) -> dict[str, Any]:
    """The run's summary: progress complete, an "ingestion run" event for the dashboard
    (counts per outcome, batches, the Prefect run), planner statistics refreshed."""
    report("ingest", done=report_.total, total=report_.total, name="")
    run_id = ""
    if runner.in_run():
        from prefect.runtime import flow_run

        run_id = str(flow_run.id or "")
    failed = report_.counts["failed"] + sum(1 for b in report_.batches if b.get("state") == "failed")
    with session_scope(settings) as session:
        crud.add_event(
            session,
            type=EventType.ingestion_run,
            outcome="failure" if failed else "success",
            flow_run=run_id,
            collection=report_.collection,
            prefix=report_.prefix,
            batches=len(report_.batches),
            counts=dict(report_.counts),
        )
    refresh_statistics(get_engine(settings.db_url))
    return report_.as_dict()
