"""The enrich flow: the installation checked once, then every item with pending work, each under
its own error boundary."""

from __future__ import annotations

from typing import Any

from catalog import crud
from catalog.db import get_engine, session_scope
from catalog.models import (
    EventType,
    Item,
    ItemStatus,
    Kind,
)
from catalog.ops.statistics import refresh as refresh_statistics
from configs import Settings, get_settings
from configs.errors import ConfigError
from flows import runner
from flows.enrich.item import enrich_item, record_crash
from flows.enrich.recordings import asr_choice
from flows.progress import report
from tasks import ocr, tools


def preflight(settings: Settings, kinds: set[str]) -> None:
    """Check the installation before any work starts, so a missing program or model is one
    clear message (naming the setup command) instead of a failure per item."""
    if Kind.scan in kinds:
        ocr.require(ocr.choose_engine(settings.ocr.engine, settings.ocr.languages), settings.ocr.languages)
        tools.require("pdfunite")
    if Kind.recording in kinds:
        tools.require("ffmpeg")
        tools.require("ffprobe")
        asr_choice(settings)


def pending_kinds(
    settings: Settings, *, collection: str | None, item_id: int | None, force: bool
) -> set[str]:
    with session_scope(settings) as session:
        ids = crud.items_to_enrich(
            session, collection=collection, item_id=item_id, include_done=force or item_id is not None
        )
        return {item.kind for i in ids if (item := session.get(Item, i)) is not None}


@runner.flow(name="enrich")
def enrich_flow(
    collection: str | None = None, item_id: int | None = None, force: bool = False
) -> list[dict[str, Any]]:
    """Enrich every item with pending work (or one item, or everything with ``force``)."""
    log = runner.logger()
    settings = get_settings()
    with session_scope(settings) as session:
        ids = crud.items_to_enrich(
            session, collection=collection, item_id=item_id, include_done=force or item_id is not None
        )
    preflight(settings, pending_kinds(settings, collection=collection, item_id=item_id, force=force))
    outcomes = []
    for index, iid in enumerate(ids):
        report("enrich", done=index, total=len(ids), item_id=iid)
        try:
            outcome = runner.run_task(enrich_item, iid, force)
        except ConfigError:
            raise  # the installation is incomplete: every item would fail the same way
        except Exception as exc:  # after the retries: this item is marked failed, the rest go on
            outcome = record_crash(settings, iid, exc)
        log.info("item %s %s %s", outcome.reference_code, outcome.status, outcome.reason)
        outcomes.append(outcome.__dict__)
    report("enrich", done=len(ids), total=len(ids), item_id=None)
    if ids:
        run_id = ""
        if runner.in_run():
            from prefect.runtime import flow_run

            run_id = str(flow_run.id or "")
        with session_scope(settings) as session:
            crud.add_event(
                session,
                type=EventType.enrichment_run,
                outcome="failure" if any(o["status"] == ItemStatus.failed for o in outcomes) else "success",
                flow_run=run_id,
                items=len(outcomes),
                failed=sum(1 for o in outcomes if o["status"] == ItemStatus.failed),
                collection=collection or "",
            )
    refresh_statistics(get_engine(settings.db_url))  # the index grew: the planner must know
    return outcomes
