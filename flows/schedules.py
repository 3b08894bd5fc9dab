"""Deployments and schedules: what ``lantai worker`` serves (Prefect ``serve``). The
schedules come from ``configs/`` (``[schedules]``): the inbox sweep, the job queue (what
the web app asked for: retries, redaction), the nightly fixity audit and the weekly
replication; ``enrich`` is also served for runs started on demand
(the dashboard, ``prefect deployment run 'enrich/enrich'``). Several workers on several
machines may serve the same deployments against one Prefect server: item claims in the
catalog keep them from processing the same item."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from configs import Settings, get_settings
from flows import run_records, runner
from flows.audit import audit_flow
from flows.enrich import enrich_flow
from flows.harvest import harvest_flow
from flows.ingest import ingest_flow, record_problem
from flows.jobs import jobs_flow, run_jobs
from flows.replicate import replicate_flow
from storage import open_store
from storage.keys import INBOX


def inbox_batches(settings: Settings) -> list[tuple[str, str]]:
    """(collection, batch) of every batch waiting under ``inbox/<collection>/<batch>/``."""
    found = set()
    for key in open_store(settings).keys(INBOX):
        parts = key[len(INBOX) :].split("/")
        if len(parts) >= 3 and not parts[-1].startswith("."):
            found.add((parts[0], parts[1]))
    return sorted(found)


@runner.flow(name="inbox-sweep", log_prints=False, **run_records.HOOKS)
def inbox_sweep_flow() -> dict[str, Any]:
    """Ingest every batch collection teams put in the inbox, then enrich what is pending."""
    logger = runner.logger()
    settings = get_settings()
    ingested = []
    for collection, batch in inbox_batches(settings):
        try:  # one batch's failure never stops the sweep: the next batches, then enrichment
            report = runner.run_flow(
                ingest_flow, f"s3://{settings.storage.bucket}/{INBOX}{collection}/{batch}/", collection
            )
        except Exception as e:
            reason = f"{type(e).__name__}: {e}"
            logger.error("inbox sweep: batch %s/%s failed: %s", collection, batch, reason)
            record_problem(settings, collection=collection, batch=batch, reason=reason)
            ingested.append({"collection": collection, "batch": batch, "items": 0, "error": reason})
            continue
        ingested.append({"collection": collection, "batch": batch, "items": len(report.get("results", []))})
    outcomes = runner.run_flow(enrich_flow)
    done = run_jobs()  # what the web app queued meanwhile (also served every minute as "jobs")
    logger.info("inbox sweep: %d batches ingested, %d items enriched", len(ingested), len(outcomes))
    return {"batches": ingested, "enriched": len(outcomes), "jobs": len(done)}


def scheduled(settings: Settings) -> list[tuple[str, str, str, str]]:
    """(deployment name, flow name, cron, timezone) of the scheduled deployments; an empty
    cron means the deployment runs on demand only."""
    s = settings.schedules
    return [
        ("inbox-sweep", inbox_sweep_flow.name, s.inbox_sweep, s.timezone),
        ("jobs", jobs_flow.name, s.jobs, s.timezone),
        ("nightly-fixity-audit", audit_flow.name, s.fixity_audit, s.timezone),
        ("weekly-replication", replicate_flow.name, s.replication, s.timezone),
        ("nightly-harvest", harvest_flow.name, s.harvest, s.timezone),
    ]


def deployments(settings: Settings) -> list[Any]:
    """The deployments a worker serves, with their schedules."""
    from prefect.schedules import Cron

    flows = {fl.name: fl for fl in (inbox_sweep_flow, jobs_flow, audit_flow, replicate_flow, harvest_flow)}
    made = [enrich_flow.to_deployment(name="enrich", description="enrich pending items (on demand)")]
    for name, flow_name, cron, timezone in scheduled(settings):
        fl = flows[flow_name]
        if cron:
            made.append(fl.to_deployment(name=name, schedule=Cron(cron, timezone=timezone)))
        else:
            made.append(fl.to_deployment(name=name))
    for deployment in made:  # each run loads its flow from there: the Prefect object itself
        path, _, attr = deployment.entrypoint.rpartition(":")
        package = Path(path).parent  # flows/, or a step's package in it (flows/enrich/)
        while package.name != "flows" and package != package.parent:
            package = package.parent
        deployment.entrypoint = f"{package / 'deployments.py'}:{attr}"
    return made
