"""The job queue between the web app and the workers (``catalog.models.Job``): the web
app queues, a worker takes one job at a time with a conditional update (two workers never
take the same job) and records how it ended. A job left running by a worker that died is
taken again after the worker lease."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import and_, or_, update
from sqlmodel import Session, col, select

from catalog.models import Job, JobState, utcnow

KINDS = ("enrich", "redact")
LIVE = (JobState.queued, JobState.running)


def queue(session: Session, *, kind: str, item_id: int, by: str) -> Job:
    """Queue a job, or return the one already waiting or running for the same work."""
    if kind not in KINDS:
        raise ValueError(f"unknown job kind {kind!r}")
    waiting = session.exec(
        select(Job).where(Job.kind == kind, Job.item_id == item_id, col(Job.state).in_(LIVE))
    ).first()
    if waiting is not None:
        return waiting
    job = Job(kind=kind, item_id=item_id, requested_by=by)
    session.add(job)
    session.flush()
    return job


def take(session: Session, *, worker: str, lease_hours: float) -> Job | None:
    """The oldest queued job (or one whose worker stopped), now running for ``worker``."""
    stale = utcnow() - timedelta(hours=lease_hours)
    free = or_(
        col(Job.state) == JobState.queued,
        and_(col(Job.state) == JobState.running, col(Job.updated_at) < stale),
    )
    for job_id in session.exec(select(Job.id).where(free).order_by(col(Job.id)).limit(20)).all():
        taken = session.execute(
            update(Job)
            .where(col(Job.id) == job_id, free)
            .values(state=JobState.running, worker=worker, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        if taken.rowcount:  # type: ignore[attr-defined]
            return session.get(Job, job_id)
    return None


def finish(session: Session, job_id: int, *, error: str = "") -> None:
    job = session.get(Job, job_id)
    if job is not None:
        job.state, job.error, job.updated_at = (
            (JobState.failed if error else JobState.done),
            error[:2000],
            utcnow(),
        )
        session.add(job)


def live(session: Session, *, limit: int = 50) -> list[Job]:
    """Jobs waiting or running, oldest first (the dashboard shows them)."""
    return list(
        session.exec(select(Job).where(col(Job.state).in_(LIVE)).order_by(col(Job.id)).limit(limit)).all()
    )
