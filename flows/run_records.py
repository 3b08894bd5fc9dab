"""Runs of scheduled deployments, recorded in the catalog for operators (``lantai status``,
the dashboard, ``/metrics``): Prefect state hooks on the scheduled flows. A flow called
directly (``lantai audit``) or as a subflow has no deployment and records nothing here; a
run of a deployment records its start and its end under the deployment's name, whether
``lantai worker`` serves it or a work pool (``prefect.yaml``) runs it."""

from __future__ import annotations

import logging
from typing import Any

from catalog.db import session_scope
from catalog.ops import schedules
from configs import get_settings

log = logging.getLogger(__name__)


def _deployment(flow_run: Any) -> tuple[str, str, str] | None:
    """(name, cron, timezone) of the run's deployment, or None for a run without one."""
    if not getattr(flow_run, "deployment_id", None):
        return None
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.schedules import CronSchedule

    with get_client(sync_client=True) as client:
        deployment = client.read_deployment(flow_run.deployment_id)
    cron, timezone = "", "UTC"
    for s in deployment.schedules or []:
        if s.active and isinstance(s.schedule, CronSchedule):
            cron, timezone = s.schedule.cron, s.schedule.timezone or "UTC"
            break
    return deployment.name, cron, timezone


def started(flow: Any, flow_run: Any, state: Any) -> None:
    """``on_running``: a run of a scheduled deployment began."""
    found = _deployment(flow_run)
    if found is None:
        return
    name, cron, timezone = found
    with session_scope(get_settings()) as session:
        schedules.run_started(
            session, name=name, flow=flow.name, cron=cron, timezone=timezone, flow_run=str(flow_run.id)
        )


def finished(flow: Any, flow_run: Any, state: Any) -> None:
    """``on_completion``, ``on_failure``, ``on_crashed``, ``on_cancellation``: it ended."""
    found = _deployment(flow_run)
    if found is None:
        return
    if state.is_completed():
        outcome, error = "success", ""
    else:
        outcome = "crashed" if state.is_crashed() else "cancelled" if state.is_cancelled() else "failure"
        error = str(state.message or state.name or outcome)
    with session_scope(get_settings()) as session:
        schedules.run_finished(
            session, name=found[0], flow_run=str(flow_run.id), outcome=outcome, error=error
        )
    if outcome != "success":
        log.error("scheduled run of %s ended: %s: %s", found[0], outcome, error)


# the keyword arguments a scheduled flow's decorator takes
HOOKS: dict[str, Any] = {
    "on_running": [started],
    "on_completion": [finished],
    "on_failure": [finished],
    "on_crashed": [finished],
    "on_cancellation": [finished],
}
