"""Flows from the command line run in-process when no Prefect server can track them, with
the tasks' retry policy applied the same way; inside a tracked run they stay tracked."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from configs.errors import BadInputError
from flows import runner
from flows.retry import is_transient
from tests.conftest import REPO

attempts: list[str] = []


@runner.task(retries=2, retry_delay_seconds=0, retry_condition_fn=is_transient)
def flaky(fail_times: int, error: str) -> str:
    attempts.append(error)
    if len(attempts) <= fail_times:
        raise BadInputError("bad input") if error == "bad" else OSError("storage hiccup")
    return "done"


@runner.flow()
def outer(fail_times: int, error: str) -> tuple[bool, str]:
    return runner.in_run(), runner.run_task(flaky, fail_times, error)


@pytest.fixture(autouse=True)
def no_server(monkeypatch: pytest.MonkeyPatch) -> None:
    attempts.clear()
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setattr(runner, "_local_server", lambda port: None)


def test_in_process_with_the_tasks_retries() -> None:
    assert runner.run_flow(outer, 2, "transient") == (False, "done")
    assert len(attempts) == 3  # two failures retried, then success


def test_in_process_bad_input_is_not_retried() -> None:
    with pytest.raises(BadInputError):
        runner.run_flow(outer, 1, "bad")
    assert len(attempts) == 1


def test_in_process_retries_run_out() -> None:
    with pytest.raises(OSError, match="hiccup"):
        runner.run_flow(outer, 5, "transient")
    assert len(attempts) == 3


def test_tracked_inside_a_flow_run() -> None:
    """Called as a flow (the worker's deployments, the tests' temporary server), the task is
    a tracked task run with Prefect's own retries."""
    assert outer(1, "transient") == (True, "done")
    assert len(attempts) == 2


def test_a_running_workers_server_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "_local_server", lambda port: "http://127.0.0.1:9/api")
    context = runner.tracking()
    assert context is not None
    from prefect.settings import PREFECT_API_URL

    with context:
        assert PREFECT_API_URL.value() == "http://127.0.0.1:9/api"


def test_commands_running_in_process_do_not_import_prefect() -> None:
    """Declaring flows and tasks costs nothing; the Prefect objects (for work pools) are
    the real ones."""
    code = (
        "import sys, flows.ingest, flows.enrich, flows.schedules;"
        "assert 'prefect' not in sys.modules, 'prefect imported';"
        "import flows.deployments as d; from prefect import Flow;"
        "assert all(isinstance(f, Flow) for f in (d.enrich_flow, d.inbox_sweep_flow, d.jobs_flow,"
        " d.audit_flow, d.replicate_flow)); assert d.inbox_sweep_flow.name == 'inbox-sweep'"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)


def test_every_deployment_loads_its_flow_from_flows_deployments(home: Path) -> None:
    """A worker's flow runs load their flow from ``flows/deployments.py`` (the Prefect
    objects), wherever the flow's code lives (``flows/enrich/flow.py`` …): a wrong path is
    a FileNotFoundError in every run of the deployment."""
    import flows.deployments as objects
    from configs import get_settings
    from flows.schedules import deployments

    made = deployments(get_settings())
    assert {d.name for d in made} >= {"enrich"}
    for d in made:
        path, _, attr = d.entrypoint.rpartition(":")
        assert Path(path).resolve() == Path(objects.__file__).resolve(), d.entrypoint
        assert getattr(objects, attr).name == d.flow_name
