"""Process set-up for the command line: the home folder and Prefect's embedded mode."""

from __future__ import annotations

import os

from configs import Settings


def prepare(settings: Settings) -> None:
    """Create the home folder and point Prefect at it, before Prefect is imported.

    Without ``PREFECT_API_URL`` Prefect runs flows with a temporary local server whose
    database lives in ``<home>/prefect``: no Prefect server to install or start.
    """
    home = settings.home_dir
    home.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PREFECT_HOME", str(home / "prefect"))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")  # offline: no telemetry
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    if not os.environ.get("PREFECT_API_URL"):
        # The temporary server lives only as long as this command; its complaints about
        # being stopped (e.g. unflushed task-run events) are not the user's to act on.
        os.environ.setdefault("PREFECT_SERVER_LOGGING_LEVEL", "CRITICAL")
    os.environ.setdefault("PREFECT_SERVER_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing downloads at run time
