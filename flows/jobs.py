"""The worker's side of the job queue (``catalog.ops.jobs``): retries and redaction the web
app asked for run here, in a worker, never inside the web server."""

from __future__ import annotations

from typing import Any

from catalog.db import session_scope
from catalog.ops import jobs
from configs import get_settings
from flows import run_records, runner
from flows.enrich import enrich_flow
from flows.publish import public_copies


def run_jobs(limit: int = 100) -> list[dict[str, Any]]:
    """Take queued jobs one at a time until none is left (or ``limit`` were done)."""
    settings = get_settings()
    done: list[dict[str, Any]] = []
    for _ in range(limit):
        with session_scope(settings) as session:
            job = jobs.take(
                session, worker=settings.worker.worker_name, lease_hours=settings.worker.lease_hours
            )
            if job is None:
                break
            job_id, kind, item_id = job.id or 0, job.kind, job.item_id
        error = ""
        try:
            if kind == "enrich":
                outcomes = runner.run_flow(enrich_flow, None, item_id, False)
                error = "; ".join(o["reason"] for o in outcomes if o["status"] == "failed")
            else:
                public_copies(item_id)
        except Exception as e:  # the job is marked failed with the reason; the next one runs
            error = f"{type(e).__name__}: {e}"
        with session_scope(settings) as session:
            jobs.finish(session, job_id, error=error)
        done.append({"job": job_id, "kind": kind, "item_id": item_id, "error": error})
    return done


@runner.flow(name="jobs", log_prints=False, **run_records.HOOKS)
def jobs_flow() -> list[dict[str, Any]]:
    """Run what the web app queued (retries, redaction after screening decisions)."""
    done = run_jobs()
    runner.logger().info("jobs: %d run", len(done))
    return done
