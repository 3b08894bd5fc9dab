"""Operators: the dashboard (counts by stage, throughput, work in progress, failures with
retry, quarantine, the last fixity audit, recent runs) and Prometheus metrics."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
from sqlmodel import col, select

from catalog import crud
from catalog.db import get_engine
from catalog.models import Event, EventType, Item, ItemStatus
from catalog.ops import jobs, operations
from catalog.ops import schedules as catalog_schedules
from catalog.ops.operations import BUCKETS
from catalog.publish import union
from configs import Settings
from web.deps import (
    AnyViewer,
    DbSession,
    Forbidden,
    Int,
    LoginRequired,
    Operator,
    render,
    settings_of,
    store_of,
)
from web.security import tokens_match

router = APIRouter()


def _progress(request: Request, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per-item progress objects the workers publish (see flows.enrich.publish_progress)."""
    from storage import ObjectNotFound

    store = store_of(request)
    for item in items:
        try:
            with store.open(f"progress/{item['item_id']}.json") as fh:
                item["live"] = json.loads(fh.read(4096) or b"{}")
        except (ObjectNotFound, ValueError):
            item["live"] = {}
    return items


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard(request: Request, db: DbSession, viewer: Operator) -> Response:
    status = crud.status_report(db)
    lease = timedelta(hours=settings_of(request).worker.lease_hours)
    runs = db.exec(
        select(Event)
        .where(
            col(Event.type).in_(
                [
                    EventType.enrichment_run,
                    EventType.ingestion_run,
                    EventType.fixity_audit,
                    EventType.scheduled_run,
                ]
            )
        )
        .order_by(col(Event.at).desc())
        .limit(15)
    ).all()
    return render(
        request,
        "dashboard.html",
        status=status,
        hour=operations.throughput(db, hours=1),
        day=operations.throughput(db, hours=24),
        working=_progress(request, operations.in_progress(db)),
        engine_runs=operations.recent_runs(db),
        audit=operations.last_audit(db),
        queue=operations.queue_depth(db),
        runs=runs,
        prefect_ui=settings_of(request).prefect_ui_url,
        jobs=[
            {"id": j.id, "kind": j.kind, "item_id": j.item_id, "state": j.state, "by": j.requested_by}
            for j in jobs.live(db)
        ],
        schedules=catalog_schedules.report(db, lease=lease),
        harvest=union.sources(db),
    )


@router.post("/dashboard/retry")
def retry(
    request: Request,
    db: DbSession,
    viewer: Operator,
    item_id: Annotated[Int | None, Form()] = None,
    all_failed: Annotated[bool, Form()] = False,
) -> Response:
    if all_failed:
        ids = [i for i in db.exec(select(Item.id).where(Item.status == ItemStatus.failed)).all() if i]
    else:
        ids = [item_id] if item_id else []
    for i in ids:  # queued for a worker: the web server never runs OCR or ASR itself
        item = db.get(Item, i)
        if item is not None and item.status == ItemStatus.failed:
            item.status, item.status_reason = ItemStatus.pending, f"retry requested by {viewer.name}"
            db.add(item)
            crud.add_event(db, type=EventType.retry, item_id=i, agent=viewer.name)
            jobs.queue(db, kind="enrich", item_id=i, by=viewer.name)
    return RedirectResponse("/dashboard", status_code=303)


@router.get("/metrics")
def metrics(request: Request, viewer: AnyViewer) -> Response:
    """Prometheus metrics. Scrapers send ``Authorization: Bearer $LANTAI_METRICS_TOKEN``;
    signed-in operators and admins may read them too."""
    settings = settings_of(request)
    header = request.headers.get("authorization", "")
    by_token = bool(settings.metrics_token) and tokens_match(
        settings.metrics_token, header.removeprefix("Bearer ")
    )
    if not by_token:
        if not viewer.signed_in:
            raise LoginRequired()
        if viewer.role not in ("operator", "admin"):
            raise Forbidden("metrics are for operators")
    registry = CollectorRegistry()
    registry.register(_Collector(settings))
    return Response(generate_latest(registry), media_type="text/plain; version=0.0.4; charset=utf-8")


def _schedule_metrics(report: dict[str, Any]) -> Any:
    last = GaugeMetricFamily(
        "lantai_schedule_last_success_timestamp",
        "Unix time of the last successful run of each schedule (0: never)",
        labels=["schedule"],
    )
    overdue = GaugeMetricFamily(
        "lantai_schedule_overdue",
        "1 when a schedule has not succeeded within twice its period or Prefect reports a problem",
        labels=["schedule"],
    )
    period = GaugeMetricFamily(
        "lantai_schedule_period_seconds", "Seconds between two runs of each schedule", labels=["schedule"]
    )
    for s in report["schedules"]:
        if not s["active"] or not s["cron"]:
            continue
        last.add_metric([s["name"]], s["last_success_timestamp"])
        overdue.add_metric([s["name"]], 1.0 if s["overdue"] else 0.0)
        if s["period_seconds"]:
            period.add_metric([s["name"]], s["period_seconds"])
    yield last
    yield overdue
    yield period


class _Collector:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.lease = timedelta(hours=settings.worker.lease_hours)

    def collect(self) -> Any:
        from sqlmodel import Session

        with Session(get_engine(self.settings.db_url)) as db:
            status = crud.status_report(db)
            items = GaugeMetricFamily(
                "lantai_items", "Items by collection and state", labels=["collection", "state"]
            )
            for code, per in status["collections"].items():
                for state, n in per.items():
                    items.add_metric([code, state], n)
            yield items
            yield GaugeMetricFamily(
                "lantai_queue_depth", "Items waiting for enrichment", value=operations.queue_depth(db)
            )
            failures = GaugeMetricFamily(
                "lantai_failures",
                "Failed items by reason code (see catalog.ops.operations)",
                labels=["reason"],
            )
            for reason, n in operations.failures_by_reason(db).items():
                failures.add_metric([reason], n)
            yield failures
            hist = HistogramMetricFamily(
                "lantai_processing_seconds", "Seconds per OCR or transcription run", labels=["engine"]
            )
            for engine, (counts, n, total) in operations.processing_histogram(db).items():
                buckets = [(str(b), c) for b, c in zip(BUCKETS, counts, strict=True)] + [("+Inf", n)]
                hist.add_metric([engine], buckets, sum_value=total)
            yield hist
            yield from _schedule_metrics(catalog_schedules.report(db, lease=self.lease))
            audit = operations.last_audit(db)
            yield GaugeMetricFamily(
                "lantai_fixity_problems",
                "Masters missing or changed in the last fixity audit",
                value=len(audit["missing"]) + len(audit["changed"]) if audit else 0,
            )
            for hours, name in ((1, "hour"), (24, "day")):
                t = operations.throughput(db, hours=hours)
                yield GaugeMetricFamily(
                    f"lantai_pages_per_minute_last_{name}", "OCR throughput", value=t["pages_per_minute"]
                )
                yield GaugeMetricFamily(
                    f"lantai_audio_hours_per_hour_last_{name}",
                    "Transcription throughput",
                    value=t["audio_hours_per_hour"],
                )
