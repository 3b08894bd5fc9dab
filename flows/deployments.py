"""The Prefect flow objects themselves, for work-pool deployments (``prefect.yaml``):
Prefect's loader wants a ``Flow`` at the entrypoint. Everywhere else Lantai's flows are
made on first use (``flows.runner.flow``), so that commands running in-process need not
import Prefect."""

from __future__ import annotations

from flows.audit import audit_flow as _audit
from flows.enrich import enrich_flow as _enrich
from flows.harvest import harvest_flow as _harvest
from flows.jobs import jobs_flow as _jobs
from flows.replicate import replicate_flow as _replicate
from flows.schedules import inbox_sweep_flow as _sweep

enrich_flow = _enrich.prefect
inbox_sweep_flow = _sweep.prefect
jobs_flow = _jobs.prefect
audit_flow = _audit.prefect
replicate_flow = _replicate.prefect
harvest_flow = _harvest.prefect
