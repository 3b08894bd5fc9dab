"""Scheduled operation as operators see it: which schedules are served, when each runs
next, how its last run ended, and whether it is overdue.

The rows are written from three places, each in its own short transaction: ``lantai
worker`` registers the schedules it serves and heartbeats them (with the next run Prefect
has scheduled and any problem on Prefect's side); every run of a scheduled deployment
records its start and end (``flows.run_records``); and a worker that stops on purpose
marks its schedules inactive. ``report`` turns them into what ``lantai status``, the
dashboard and ``/metrics`` show, with the alarm rule: a schedule that has not succeeded
within twice its period is overdue.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError
from sqlmodel import Session, col, select

from catalog.models import Event, EventType, Schedule, utcnow

RUN_EVENT = EventType.scheduled_run
SERVER_ERROR_EVENT = EventType.server_error
# A worker heartbeats every minute; one silent for this long is gone.
HEARTBEAT_STALE = timedelta(minutes=5)
# Prefect's scheduler runs every minute; a served schedule with no upcoming run after this
# long means the scheduler is not working.
SCHEDULER_GRACE = timedelta(minutes=3)
# A problem reported on Prefect's side counts for this long unless reported again.
PROBLEM_FRESH = timedelta(minutes=10)


def _aware(at: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes for timezone-aware columns: they are UTC."""
    if at is None or at.tzinfo is not None:
        return at
    return at.replace(tzinfo=ZoneInfo("UTC"))


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def fires_after(cron: str, timezone: str, after: datetime, count: int = 2) -> list[datetime]:
    """The next ``count`` times ``cron`` fires after ``after`` (in the schedule's timezone;
    returned timezone-aware). Empty for an empty or invalid cron."""
    if not cron:
        return []
    try:
        it = CronSim(cron, after.astimezone(_zone(timezone)))
        return [next(it) for _ in range(count)]
    except (CronSimError, StopIteration):
        return []


def register(
    session: Session,
    *,
    worker: str,
    schedules: Iterable[tuple[str, str, str, str]],
    now: datetime | None = None,
) -> None:
    """Record that ``worker`` serves these (name, flow, cron, timezone) schedules now. A
    changed cron, or a schedule that was inactive, restarts its reference time (the alarm
    waits two periods from now, not from a run long ago)."""
    now = now or utcnow()
    for name, flow, cron, timezone in schedules:
        row = session.get(Schedule, name)
        if row is None:
            row = Schedule(name=name, registered_at=now)
        elif row.cron != cron or row.timezone != timezone or not row.active:
            row.registered_at = now
        row.flow, row.cron, row.timezone = flow, cron, timezone
        row.active, row.served_by, row.heartbeat_at = True, worker, now
        row.problem, row.problem_at = "", None
        session.add(row)


def heartbeat(
    session: Session,
    *,
    worker: str,
    next_runs: dict[str, datetime | None],
    problems: dict[str, str],
    now: datetime | None = None,
) -> None:
    """The worker's periodic report: it is alive, Prefect's next scheduled run of each
    schedule, and a problem per schedule on Prefect's side ("" clears it)."""
    now = now or utcnow()
    for row in session.exec(select(Schedule).where(Schedule.served_by == worker)).all():
        row.heartbeat_at = now
        if row.name in next_runs:
            row.next_run_at = next_runs[row.name]
        if row.name in problems:
            row.problem = problems[row.name]
            row.problem_at = now if problems[row.name] else None
        session.add(row)


def stop_serving(session: Session, *, worker: str) -> None:
    """The worker stopped on purpose: its schedules no longer fire and raise no alarm."""
    for row in session.exec(select(Schedule).where(Schedule.served_by == worker)).all():
        row.active, row.next_run_at = False, None
        session.add(row)


def run_started(
    session: Session,
    *,
    name: str,
    flow: str,
    cron: str,
    timezone: str,
    flow_run: str,
    now: datetime | None = None,
) -> None:
    """A run of the scheduled deployment ``name`` started. Under a work pool no worker
    registered it: the row is made from the deployment's own schedule."""
    now = now or utcnow()
    row = session.get(Schedule, name)
    if row is None:
        row = Schedule(name=name, flow=flow, cron=cron, timezone=timezone or "UTC", registered_at=now)
    elif not row.served_by and cron and (row.cron, row.timezone) != (cron, timezone):
        row.cron, row.timezone, row.registered_at = cron, timezone or "UTC", now
    row.last_started_at, row.last_outcome, row.last_flow_run = now, "running", flow_run
    session.add(row)


def run_finished(
    session: Session, *, name: str, flow_run: str, outcome: str, error: str = "", now: datetime | None = None
) -> None:
    """A run of ``name`` ended with ``outcome`` (success, failure, crashed, cancelled); an
    event keeps the history."""
    now = now or utcnow()
    row = session.get(Schedule, name) or Schedule(name=name, registered_at=now)
    row.last_finished_at, row.last_outcome, row.last_flow_run = now, outcome, flow_run
    row.last_error = error[:2000]
    if outcome == "success":
        row.last_success_at = now
    session.add(row)
    session.add(
        Event(
            type=RUN_EVENT,
            agent="prefect",
            outcome="success" if outcome == "success" else "failure",
            detail={"schedule": name, "flow_run": flow_run, "outcome": outcome, "error": error[:500]},
            at=now,
        )
    )


def server_error(session: Session, *, message: str, source: str, now: datetime | None = None) -> None:
    """An error Prefect's server logged (its scheduler, its database), for status."""
    session.add(
        Event(
            type=SERVER_ERROR_EVENT,
            agent=source,
            outcome="failure",
            detail={"message": message[:2000]},
            at=now or utcnow(),
        )
    )


def _state(row: Schedule, now: datetime, lease: timedelta) -> dict[str, Any]:
    """One schedule's report with its alarm, if any."""
    zone = _zone(row.timezone)
    registered = _aware(row.registered_at) or now
    success = _aware(row.last_success_at)
    started = _aware(row.last_started_at)
    heartbeat_at = _aware(row.heartbeat_at)
    problem_at = _aware(row.problem_at)
    reference = max(success, registered) if success else registered
    fires = fires_after(row.cron, row.timezone, reference)
    period = (fires[1] - fires[0]) if len(fires) == 2 else None
    due_by = reference + 2 * period if period else None
    upcoming = fires_after(row.cron, row.timezone, now, 1)
    # Prefect's own next run when the worker has seen one; the cron's next time otherwise,
    # unless Prefect's side has a problem (then nothing is really scheduled)
    next_run = _aware(row.next_run_at) or (upcoming[0] if upcoming and not row.problem else None)
    alarms: list[str] = []
    running = row.last_outcome == "running" and started is not None and now - started < lease
    worker_alive = not row.served_by or (heartbeat_at is not None and now - heartbeat_at < HEARTBEAT_STALE)
    if row.active and row.cron:
        if due_by is not None and now > due_by and not (running and worker_alive):
            since = f"since {_iso_in(zone, success)}" if success else "ever"
            alarms.append(f"no successful run {since} (due every {_human(period)})")
        if row.problem and problem_at is not None and now - problem_at < PROBLEM_FRESH:
            alarms.append(row.problem)
        if row.served_by and not worker_alive:
            alarms.append(f"worker {row.served_by} has not reported since {_iso_in(zone, heartbeat_at)}")
    return {
        "name": row.name,
        "flow": row.flow,
        "cron": row.cron,
        "timezone": row.timezone,
        "active": row.active,
        "served_by": row.served_by,
        "worker_alive": worker_alive,
        "next_run": _iso_in(zone, next_run) if row.active and row.cron else None,
        "last_run": {
            "started": _iso_in(zone, started),
            "finished": _iso_in(zone, _aware(row.last_finished_at)),
            "outcome": row.last_outcome or None,
            "error": row.last_error,
            "flow_run": row.last_flow_run,
        },
        "last_success": _iso_in(zone, success),
        "last_success_timestamp": success.timestamp() if success else 0.0,
        "period_seconds": period.total_seconds() if period else None,
        "overdue": bool(alarms),
        "alarms": alarms,
    }


def _iso(at: datetime | None) -> str | None:
    return at.isoformat(timespec="seconds") if at else None


def _iso_in(zone: ZoneInfo, at: datetime | None) -> str | None:
    """``at`` in the schedule's own timezone, as operators read its cron."""
    return _iso(at.astimezone(zone)) if at else None


def _human(period: timedelta | None) -> str:
    if period is None:
        return "?"
    seconds = int(period.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            n = seconds // size
            return f"{n} {unit}{'s' if n > 1 else ''}"
    return f"{seconds} s"


def report(
    session: Session, *, lease: timedelta = timedelta(hours=6), now: datetime | None = None
) -> dict[str, Any]:
    """Every known schedule with next and last run and alarms, plus Prefect server errors
    of the last hour. ``alarm`` is true when any schedule is overdue or Prefect's side
    reports a problem."""
    now = now or utcnow()
    rows = session.exec(select(Schedule).order_by(col(Schedule.name))).all()
    schedules = [_state(row, now, lease) for row in rows]
    errors = session.exec(
        select(Event)
        .where(Event.type == SERVER_ERROR_EVENT, Event.at >= now - timedelta(hours=1))
        .order_by(col(Event.at).desc())
        .limit(5)
    ).all()
    return {
        "schedules": schedules,
        "server_errors": [
            {"at": _iso(_aware(e.at)), "source": e.agent, "message": e.detail.get("message", "")}
            for e in errors
        ],
        "alarm": any(s["overdue"] for s in schedules),
    }
