"""What ``lantai worker`` watches while it serves: that Prefect's scheduler really puts
runs of each schedule on the calendar, and what the Prefect server logs as errors.

Once a minute it asks the Prefect API for the next scheduled run of each served schedule
and records it (or the problem: no run scheduled after a few minutes, a run long overdue
to start, the API not answering) with a heartbeat in the catalog; and it follows the log
of the local Prefect server it started, echoing every ERROR/CRITICAL entry into the
worker's own log and recording it for ``lantai status``. Everything is written in short
transactions of its own.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from catalog.db import session_scope
from catalog.models import utcnow
from catalog.ops import schedules as catalog_schedules
from configs import Settings

_HEADER = re.compile(r"^\d\d:\d\d:\d\d\.\d+ \| (?P<level>[A-Z]+)\s*\| (?P<message>.*)$")
_TIMING = re.compile(r"\[\s*\d+ms\]\s*")
# a scheduled run that has not started this long after it was due: nobody picks it up
LATE = timedelta(minutes=5)
REPEAT_AFTER = timedelta(minutes=10)  # the same server error is recorded again after this


def server_log_errors(lines: list[str]) -> list[tuple[str, bool]]:
    """The ERROR and CRITICAL entries in lines of a Prefect server log, each as one line of
    text (the log message and, for a traceback, its final exception line), paired with
    whether the entry is complete (another entry follows it)."""
    entries: list[tuple[str, list[str]]] = []
    current: tuple[str, list[str]] | None = None
    for raw in lines:
        line = raw.rstrip("\n")
        m = _HEADER.match(line)
        if m:
            current = None
            if m["level"] in ("ERROR", "CRITICAL"):
                current = (_TIMING.sub("", m["message"]).strip(), [])
                entries.append(current)
            else:
                entries.append(("", []))  # a boundary: the entry before it is complete
        elif current is not None and line.strip():
            current[1].append(line)
    out: list[tuple[str, bool]] = []
    for n, (message, rest) in enumerate(entries):
        if not message:
            continue
        exception = next((r.strip() for r in reversed(rest) if r and not r[0].isspace()), "")
        text = f"{message}: {exception}" if exception and exception not in message else message
        out.append((text, n < len(entries) - 1))
    return out


class LogFollower:
    """Reads what a log file gained since the last call; an entry at the very end is held
    back until more lines arrive or a call finds nothing new (its traceback is complete)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = path.stat().st_size if path.exists() else 0
        self.pending: list[str] = []

    def new_errors(self) -> list[str]:
        fresh: list[str] = []
        if self.path.exists():
            with self.path.open("rb") as fh:
                fh.seek(self.offset)
                data = fh.read(4 << 20)
            end = data.rfind(b"\n") + 1
            self.offset += end
            fresh = data[:end].decode("utf-8", "replace").splitlines()
        lines, self.pending = self.pending + fresh, []
        errors = server_log_errors(lines)
        out = [text for text, complete in errors if complete or not fresh]
        if errors and fresh and not errors[-1][1]:
            # keep the unfinished last error entry (from its header on) for the next call
            start = max(i for i, line in enumerate(lines) if _HEADER.match(line))
            self.pending = lines[start:]
        return out


def _next_runs(client: Any, served: list[tuple[str, str, str, str]]) -> dict[str, datetime | None]:
    """Prefect's earliest scheduled (not yet started) run of each schedule; None when the
    scheduler has put none on the calendar."""
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterId,
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.client.schemas.sorting import FlowRunSort
    from prefect.exceptions import ObjectNotFound

    found: dict[str, datetime | None] = {}
    for name, flow, cron, _tz in served:
        if not cron:
            continue
        try:
            deployment = client.read_deployment_by_name(f"{flow}/{name}")
        except ObjectNotFound:
            found[name] = None
            continue
        runs = client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment.id])),
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED]))
            ),
            sort=FlowRunSort.EXPECTED_START_TIME_ASC,
            limit=1,
        )
        found[name] = runs[0].expected_start_time if runs else None
    return found


def check_schedules(
    served: list[tuple[str, str, str, str]], since: datetime, now: datetime
) -> tuple[dict[str, datetime | None], dict[str, str]]:
    """Next runs and problems per schedule, from the Prefect API in PREFECT_API_URL."""
    from prefect.client.orchestration import get_client

    problems: dict[str, str] = {}
    try:
        with get_client(sync_client=True) as client:
            next_runs = _next_runs(client, served)
    except Exception as e:  # the API down or failing: that is the problem to report
        reason = f"the Prefect API does not answer: {type(e).__name__}: {e}"
        return {}, {name: reason for name, _f, cron, _t in served if cron}
    for name, at in next_runs.items():
        if at is None:
            if now - since > catalog_schedules.SCHEDULER_GRACE:
                problems[name] = (
                    "Prefect's scheduler has put no run of this schedule on the calendar "
                    "(see the Prefect server errors)"
                )
            else:
                problems[name] = ""
        elif now - at > LATE:
            problems[name] = (
                f"the run due at {at.isoformat(timespec='seconds')} has not started: no worker picks it up"
            )
        else:
            problems[name] = ""
    return next_runs, problems


class Watchdog(threading.Thread):
    """The worker's minute-by-minute check, in a daemon thread."""

    def __init__(
        self,
        settings: Settings,
        served: list[tuple[str, str, str, str]],
        *,
        server_log: Path | None,
        echo: Callable[[str], None],
        interval: float = 60.0,
    ) -> None:
        super().__init__(name="lantai-watchdog", daemon=True)
        self.settings, self.served, self.echo, self.interval = settings, served, echo, interval
        self.worker = settings.worker.worker_name
        self.follower = LogFollower(server_log) if server_log else None
        self.since = utcnow()
        self.stopped = threading.Event()
        self.recorded: dict[str, datetime] = {}

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            try:
                self.check()
            except Exception as e:  # the watchdog must outlive a failing database or API
                self.echo(f"watchdog: {type(e).__name__}: {e}")

    def check(self) -> None:
        now = utcnow()
        errors = self.follower.new_errors() if self.follower else []
        for text in errors:
            self.echo(f"Prefect server ERROR: {text}")
        next_runs, problems = check_schedules(self.served, self.since, now)
        for name, problem in problems.items():
            if problem:
                self.echo(f"schedule {name}: {problem}")
        with session_scope(self.settings) as session:
            for text in errors:
                last = self.recorded.get(text)
                if last is None or now - last > REPEAT_AFTER:
                    self.recorded[text] = now
                    catalog_schedules.server_error(session, message=text, source="prefect server", now=now)
            catalog_schedules.heartbeat(
                session, worker=self.worker, next_runs=next_runs, problems=problems, now=now
            )

    def stop(self) -> None:
        self.stopped.set()
