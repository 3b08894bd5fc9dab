"""One item enriched: claim → for each master fetch, then OCR or transcription → status, screening
and index → public copies of an open item. Bad input, a stopped or crashed engine fail the item
with the reason; the run goes on."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from catalog import crud
from catalog.db import session_scope
from catalog.models import (
    Access,
    Asset,
    Collection,
    EventType,
    Item,
    ItemStatus,
    Kind,
)
from catalog.review.screening import term_lists
from configs import Settings, get_settings
from configs.errors import BadInputError
from flows import runner
from flows.enrich.common import Heartbeat, ItemOutcome
from flows.enrich.recordings import known_media, plan_asr, probe_media, run_asr
from flows.enrich.scans import plan_ocr, run_ocr
from flows.publish import public_copies, screen_and_index
from flows.retry import BACKOFF, is_transient
from storage import ObjectStore, download, open_store
from tasks.hosted import EngineCrashed, EngineTimeout

# ---------------------------------------------------------------- per item and the flow


@runner.task(retries=2, retry_delay_seconds=BACKOFF, retry_condition_fn=is_transient)
def enrich_item(item_id: int, force: bool = False) -> ItemOutcome:
    """Enrich one item; bad input marks it failed with the reason instead of raising.

    No transaction stays open while OCR or ASR runs: the claim, each page, each transcript,
    each derivative and the final status are short writes of their own, and a heartbeat
    renews the claim meanwhile."""
    settings = get_settings()
    store = open_store(settings)
    started = time.monotonic()
    with session_scope(settings) as session:
        item = session.get(Item, item_id)
        if item is None:
            raise BadInputError(f"no item with id {item_id}")
        reviewed = item.status if item.status in (ItemStatus.in_review, ItemStatus.approved) else None
        claimed = crud.claim_item(
            session,
            item_id=item_id,
            worker=settings.worker.worker_name,
            lease_hours=settings.worker.lease_hours,
        )
        if claimed is None:  # another worker has it
            return ItemOutcome(
                item_id,
                item.reference_code,
                item.kind,
                item.status,
                f"claimed by {item.claimed_by}",
                skipped=True,
            )
        coll = session.get(Collection, item.collection_id)
        assert coll is not None
        masters = crud.masters(session, item_id=item_id)
    outcome = ItemOutcome(item_id, item.reference_code, item.kind, ItemStatus.processing)
    try:
        with Heartbeat(settings, item_id), tempfile.TemporaryDirectory(prefix="lantai-") as tmp:
            for index, asset in enumerate(masters):
                work = Path(tmp) / f"{index}" / "master"
                step_of(settings, store, item, coll, asset, work, force=force, outcome=outcome)
                shutil.rmtree(work.parent, ignore_errors=True)  # one master's files at a time
        with session_scope(settings) as session:
            current = session.get(Item, item_id)
            assert current is not None
            current.status = reviewed or ItemStatus.enriched  # a re-run does not undo review
            current.status_reason = outcome.reason.strip("; ")
            current.progress = 1.0
            session.add(current)
            session.flush()
            screen_and_index(session, current, term_lists(settings, coll))
            is_open = current.access == Access.open
    except (BadInputError, EngineTimeout, EngineCrashed) as e:  # this item's input: the next goes on
        with session_scope(settings) as session:
            current = session.get(Item, item_id)
            assert current is not None
            current.status, current.status_reason = ItemStatus.failed, e.message
            session.add(current)
            crud.add_event(
                session, type=EventType.enrichment, item_id=item_id, outcome="failure", reason=e.message
            )
        outcome.status, outcome.reason = ItemStatus.failed, e.message
    else:
        outcome.status = ItemStatus.enriched
        outcome.reason = outcome.reason.strip("; ")
        if is_open:
            public_copies(item_id)  # an item opened by its manifest still shows only redacted copies
    outcome.seconds = round(time.monotonic() - started, 2)
    return outcome


def step_of(
    settings: Settings,
    store: ObjectStore,
    item: Item,
    coll: Collection,
    asset: Asset,
    work: Path,
    *,
    force: bool,
    outcome: ItemOutcome,
) -> None:
    """One master: plan (is the work done already? then nothing is fetched), fetch with a
    fixity check, then OCR or transcribe."""

    def fetch() -> None:
        download(store, asset.key, work, expect_sha256=asset.sha256)  # fixity on every read

    if item.kind == Kind.scan:
        ocr_step = plan_ocr(settings, item, coll, asset, force=force, outcome=outcome)
        if ocr_step is not None:
            fetch()
            run_ocr(settings, store, item, ocr_step, work, outcome=outcome)
    elif item.kind == Kind.recording:
        facts = known_media(settings, asset)
        if facts is None:  # never transcribed: its facts come from the file itself
            fetch()
            facts = probe_media(settings, work)
        outcome.duration += facts[0].duration
        asr_step = plan_asr(settings, item, coll, asset, facts, force=force, outcome=outcome)
        if asr_step is not None:
            if not work.exists():
                fetch()
            run_asr(settings, store, item, asr_step, work, outcome=outcome)


def record_crash(settings: Settings, item_id: int, exc: object) -> ItemOutcome:
    """After the retries are spent: mark the item failed with the reason; the batch goes on."""
    reason = str(exc) if isinstance(exc, BaseException) else "enrichment crashed"
    with session_scope(settings) as session:
        item = session.get(Item, item_id)
        assert item is not None
        item.status, item.status_reason = ItemStatus.failed, reason[:500]
        session.add(item)
        crud.add_event(session, type=EventType.enrichment, item_id=item_id, outcome="failure", reason=reason)
        return ItemOutcome(item_id, item.reference_code, item.kind, ItemStatus.failed, reason)
