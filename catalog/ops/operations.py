"""Figures for operators, read from the catalog: throughput over a window, processing
times per engine, the last fixity audit, the queue."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from catalog.models import Event, EventType, Item, ItemStatus, ProcessingStat, utcnow

OCR_EVENT = EventType.ocr
ASR_EVENT = EventType.transcription
BUCKETS = (1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0)


def _detail_number(key: str) -> Any:
    return col(Event.detail)[key].as_float()


def throughput(session: Session, *, hours: float) -> dict[str, float]:
    """Pages per minute and audio hours per hour over the last ``hours`` (two aggregate
    queries over the window's events, whatever the history's length)."""
    since = utcnow() - timedelta(hours=hours)

    def total(event_type: str, key: str) -> float:
        value = session.exec(
            select(func.coalesce(func.sum(_detail_number(key)), 0.0)).where(
                Event.type == event_type, Event.at >= since
            )
        ).one()
        return float(value or 0.0)

    pages = int(total(OCR_EVENT, "pages"))
    audio = total(ASR_EVENT, "duration")
    minutes = hours * 60
    return {
        "pages": pages,
        "pages_per_minute": round(pages / minutes, 3),
        "audio_hours": round(audio / 3600, 3),
        "audio_hours_per_hour": round(audio / 3600 / hours, 3),
    }


def processing_histogram(session: Session) -> dict[str, tuple[list[int], int, float]]:
    """Per engine: cumulative counts of OCR or transcription runs within each of
    ``BUCKETS`` seconds, the count and the sum of seconds (kept as counters: a few rows)."""
    out: dict[str, tuple[list[int], int, float]] = {}
    for row in session.exec(select(ProcessingStat).order_by(col(ProcessingStat.engine))).all():
        counts = [int(getattr(row, f"le_{int(b)}")) for b in BUCKETS]
        out[row.engine] = (counts, row.count, row.total_seconds)
    return out


def count_processing(session: Session, *, engine: str, seconds: float) -> None:
    """Add one OCR or transcription run to its engine's histogram counters, in the caller's
    transaction (with the event that records the run)."""
    engine = engine[:64]
    values = {"count": ProcessingStat.count + 1, "total_seconds": ProcessingStat.total_seconds + seconds}
    for b in BUCKETS:
        column = getattr(ProcessingStat, f"le_{int(b)}")
        values[f"le_{int(b)}"] = column + (1 if seconds <= b else 0)
    done = session.execute(
        update(ProcessingStat).where(col(ProcessingStat.engine) == engine).values(**values)
    )
    if getattr(done, "rowcount", 0):
        return
    first = {f"le_{int(b)}": 1 if seconds <= b else 0 for b in BUCKETS}
    try:
        with session.begin_nested():  # another worker may create the engine's row at the same time
            session.add(ProcessingStat(engine=engine, count=1, total_seconds=seconds, **first))
    except IntegrityError:
        session.execute(update(ProcessingStat).where(col(ProcessingStat.engine) == engine).values(**values))


def last_audit(session: Session) -> dict[str, Any] | None:
    event = session.exec(
        select(Event)
        .where(Event.type == EventType.fixity_audit)
        .order_by(col(Event.at).desc(), col(Event.id).desc())
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


# failure reasons as a small, fixed set of codes (a metric label must not take free text)
REASON_CODES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("encrypted", ("encrypted", "password")),
    ("truncated_input", ("truncated", "cut short")),
    ("corrupt_input", ("corrupt", "cannot decode", "invalid data", "unreadable", "broken")),
    ("unsupported_format", ("unsupported", "not a ", "no audio", "without audio")),
    ("timeout", ("timed out", "timeout")),
    ("storage", ("storage", "bucket", "s3", "object", "checksum")),
    ("model", ("model",)),
    ("engine_crash", ("crash", "signal", "killed", "exited")),
    ("no_speech", ("no speech",)),
)


def reason_code(reason: str) -> str:
    """The code of a failure reason (``other`` when none fits)."""
    text = (reason or "").lower()
    return next((code for code, words in REASON_CODES if any(w in text for w in words)), "other")


def failures_by_reason(session: Session) -> dict[str, int]:
    """Failed items per reason code."""
    rows = session.exec(
        select(Item.status_reason, func.count())
        .where(Item.status == ItemStatus.failed)
        .group_by(Item.status_reason)
    ).all()
    out: dict[str, int] = {}
    for reason, n in rows:
        code = reason_code(reason or "")
        out[code] = out.get(code, 0) + int(n)
    return out


RUN_KEYS = ("engine", "version", "model", "device", "compute_type", "options", "language", "seconds")


def recent_runs(session: Session, *, limit: int = 5) -> list[dict[str, Any]]:
    """The last OCR and transcription runs with the engine, model, device and options each
    actually used (as recorded in its event), newest first."""
    rows = session.exec(
        select(Event, Item.reference_code)
        .join(Item, col(Item.id) == col(Event.item_id))
        .where(col(Event.type).in_([OCR_EVENT, ASR_EVENT]))
        .order_by(col(Event.at).desc(), col(Event.id).desc())
        .limit(limit)
    ).all()
    return [
        {
            "at": e.at.isoformat(timespec="seconds"),
            "what": "ocr" if e.type == OCR_EVENT else "asr",
            "reference_code": code,
            "outcome": e.outcome,
        }
        | {k: e.detail[k] for k in RUN_KEYS if k in e.detail}
        for e, code in rows
    ]


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
        .where(Event.type == EventType.ingestion_problem, Event.at >= since)
        .order_by(col(Event.at).desc())
        .limit(50)
    ).all()
    return [
        {
            "at": e.at.isoformat(timespec="seconds"),
            "collection": e.detail.get("collection", ""),
            "batch": e.detail.get("batch", ""),
            "folder": e.detail.get("folder", ""),  # the local folder it came from (lantai ingest)
            "reason": e.detail.get("reason", ""),
        }
        for e in rows
    ]
