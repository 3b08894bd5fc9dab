"""Figures for operators, read from the catalog: throughput over a window, processing
times per engine, the last fixity audit, the queue."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, func, select

from catalog.models import Event, Item, ItemStatus, utcnow

OCR_EVENT = "optical character recognition"
ASR_EVENT = "transcription"
BUCKETS = (1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0)


def _events(session: Session, types: tuple[str, ...], since: datetime | None = None) -> list[Event]:
    query = select(Event).where(col(Event.type).in_(types))
    if since is not None:
        query = query.where(Event.at >= since)
    return list(session.exec(query).all())


def throughput(session: Session, *, hours: float) -> dict[str, float]:
    """Pages per minute and audio hours per hour over the last ``hours``."""
    since = utcnow() - timedelta(hours=hours)
    pages = sum(int(e.detail.get("pages", 0) or 0) for e in _events(session, (OCR_EVENT,), since))
    audio = sum(float(e.detail.get("duration", 0) or 0) for e in _events(session, (ASR_EVENT,), since))
    minutes = hours * 60
    return {
        "pages": pages,
        "pages_per_minute": round(pages / minutes, 3),
        "audio_hours": round(audio / 3600, 3),
        "audio_hours_per_hour": round(audio / 3600 / hours, 3),
    }


def processing_seconds(session: Session) -> dict[str, list[float]]:
    """Seconds each OCR or transcription run took, per engine."""
    out: dict[str, list[float]] = {}
    for e in _events(session, (OCR_EVENT, ASR_EVENT)):
        if "seconds" in e.detail:
            out.setdefault(str(e.detail.get("engine", e.type)), []).append(float(e.detail["seconds"]))
    return out


def last_audit(session: Session) -> dict[str, Any] | None:
    event = session.exec(
        select(Event).where(Event.type == "fixity audit").order_by(col(Event.at).desc(), col(Event.id).desc())
    ).first()
    if event is None:
        return None
    return {
        "at": event.at.isoformat(timespec="seconds"),
        "passed": event.outcome == "success",
        "checked": event.detail.get("checked", 0),
        "missing": event.detail.get("missing", []),
        "changed": event.detail.get("changed", []),
    }


def queue_depth(session: Session) -> int:
    return int(
        session.exec(
            select(func.count()).where(col(Item.status).in_([ItemStatus.pending, ItemStatus.processing]))
        ).one()
    )


def failures_by_reason(session: Session) -> dict[str, int]:
    rows = session.exec(
        select(Item.status_reason, func.count())
        .where(Item.status == ItemStatus.failed)
        .group_by(Item.status_reason)
    ).all()
    return {(reason or "unknown")[:120]: int(n) for reason, n in rows}


def in_progress(session: Session) -> list[dict[str, Any]]:
    """Items being processed now, with their progress (0..1) for long recordings and big PDFs."""
    rows = session.exec(select(Item).where(Item.status == ItemStatus.processing).order_by(col(Item.id))).all()
    return [
        {
            "item_id": i.id,
            "reference_code": i.reference_code,
            "title": i.title,
            "progress": round(i.progress, 3),
        }
        for i in rows
    ]


def ingest_problems(session: Session, *, hours: float = 24) -> list[dict[str, Any]]:
    """Batches and files the inbox sweep or `lantai ingest` could not take in lately: a
    refused manifest (the batch waits), a file that failed after its retries, a batch that
    failed as a whole."""
    since = utcnow() - timedelta(hours=hours)
    rows = session.exec(
        select(Event)
        .where(Event.type == "ingestion problem", Event.at >= since)
        .order_by(col(Event.at).desc())
        .limit(50)
    ).all()
    return [
        {
            "at": e.at.isoformat(timespec="seconds"),
            "collection": e.detail.get("collection", ""),
            "batch": e.detail.get("batch", ""),
            "reason": e.detail.get("reason", ""),
        }
        for e in rows
    ]
