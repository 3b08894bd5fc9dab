"""The worker's watch on the Prefect server's log: the real log of a scheduler that failed
on every pass, read as it grows."""

from __future__ import annotations

from pathlib import Path

import pytest

from lantai.worker_watch import LogFollower, server_log_errors
from tests.conftest import RESOURCES

pytestmark = pytest.mark.slow  # the fast tier: bash scripts/test -m "not slow"

LOG = (RESOURCES / "prefect_server_errors.log").read_text()
BULK_DML = "sqlalchemy.exc.InvalidRequestError: Can't evaluate bulk DML statement"


def test_errors_are_read_with_their_exception() -> None:
    found = server_log_errors(LOG.splitlines())
    assert [complete for _, complete in found] == [True, True, False]
    first, second = found[0][0], found[1][0]
    assert first.startswith("docket.dependencies - ↩ schedule_recent_deployments()")  # no timings
    assert BULK_DML in first and BULK_DML in second
    assert "Traceback" not in first and "/.venv/" not in first  # one line, not the whole traceback


def test_follower_reads_only_what_was_added_and_waits_for_a_whole_traceback(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    lines = LOG.splitlines(keepends=True)
    log.write_text("".join(lines[:20]))  # written before the worker started: not reported
    follower = LogFollower(log)
    with log.open("a") as fh:
        fh.write("".join(lines[20:40]))
    assert follower.new_errors() == []
    with log.open("a") as fh:
        fh.write("".join(lines[40:]) + "00:25:00.000 | WARNING | prefect.server - something else\n")
    # the second error entry is whole once another entry follows it (the third, cut short
    # in the file, has only its first line)
    got = follower.new_errors()
    assert len(got) == 2 and BULK_DML in got[0]
    assert got[1] == "docket.dependencies - ↩ schedule_deployments(){schedule_deployments}"
    assert follower.new_errors() == []
    with log.open("a") as fh:
        fh.write("00:26:00.000 | ERROR   | prefect.server.database - could not connect\n")
        fh.write("Traceback (most recent call last):\n  File x\n")
    assert follower.new_errors() == []  # the traceback may go on
    with log.open("a") as fh:
        fh.write("OSError: [Errno 111] Connection refused\n")
    assert follower.new_errors() == []
    # nothing new on the next pass: the entry is complete
    assert follower.new_errors() == [
        "prefect.server.database - could not connect: OSError: [Errno 111] Connection refused"
    ]
