"""Helpers for tests that run `lantai worker` or Prefect workers as separate processes."""

from __future__ import annotations

import os
from pathlib import Path

from tests.conftest import MODELS, S3Server


def worker_env(
    home: Path,
    s3: S3Server,
    bucket: str,
    *,
    name: str,
    db_url: str = "",
    api: str = "",
    schedules: tuple[str, str, str] = ("", "", ""),
    jobs: str = "",
    harvest: str = "",
) -> dict[str, str]:
    """The environment of a Lantai process as on its own machine: its own home, the shared
    S3 bucket, a catalog (PostgreSQL, or SQLite in the home when ``db_url`` is empty), the
    Prefect server in ``api`` (none: `lantai worker` starts a local one) and the cron of
    the inbox sweep, fixity audit and replication, and of the job queue ("" disables one)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LANTAI_", "PREFECT_"))}
    env.update(
        {
            "LANTAI_HOME": str(home),
            "LANTAI_MODELS_DIR": str(MODELS),
            "LANTAI_STORAGE__BACKEND": "minio",
            "LANTAI_STORAGE__ENDPOINT": s3.endpoint,
            "LANTAI_STORAGE__ACCESS_KEY": s3.access_key,
            "LANTAI_STORAGE__SECRET_KEY": s3.secret_key,
            "LANTAI_STORAGE__BUCKET": bucket,
            "LANTAI_WORKER__NAME": name,
            "LANTAI_SCHEDULES__INBOX_SWEEP": schedules[0],
            "LANTAI_SCHEDULES__FIXITY_AUDIT": schedules[1],
            "LANTAI_SCHEDULES__REPLICATION": schedules[2],
            "LANTAI_SCHEDULES__JOBS": jobs,
            "LANTAI_SCHEDULES__HARVEST": harvest,  # no other archives to harvest here
            "PREFECT_RUNNER_POLL_FREQUENCY": "2",
            "PREFECT_WORKER_QUERY_SECONDS": "2",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "DO_NOT_TRACK": "1",
        }
    )
    if db_url:
        env["LANTAI_DATABASE_URL"] = db_url
    if api:
        env["PREFECT_API_URL"] = api
    return env
