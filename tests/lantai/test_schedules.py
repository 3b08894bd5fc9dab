"""Schedules that really fire: per-minute crons on a real Prefect server, a file put into
the inbox of a real S3 server with an S3 client, and nothing triggered by hand. Once with
`lantai worker` and the local Prefect server it starts (the embedded default, SQLite), once
with `prefect server start`, a process work pool and the deployments of `prefect.yaml`
(PostgreSQL). Each waits until the scheduled inbox sweep has ingested and enriched the
file and the scheduled fixity audit has run, then reads them back from `lantai status`."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from minio import Minio
from PIL import Image, ImageDraw

from lantai.prefect_server import start_local_server
from tests.conftest import REPO, S3Server, free_port
from tests.lantai.conftest import worker_env

pytestmark = pytest.mark.slow  # the fast tier: bash scripts/test -m "not slow"

EVERY_MINUTE = "* * * * *"


def _upload_to_inbox(s3: S3Server, bucket: str, key: str) -> None:
    """What a collection team's S3 client does: put a page scan under inbox/."""
    client = Minio(s3.endpoint, access_key=s3.access_key, secret_key=s3.secret_key, secure=s3.secure)
    if not client.bucket_exists(bucket):
        client.make_bucket(bucket)
    img = Image.new("L", (600, 120), 255)
    ImageDraw.Draw(img).text((10, 40), "scheduled sweep page", fill=0)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    client.put_object(bucket, key, io.BytesIO(buf.getvalue()), len(buf.getvalue()), content_type="image/png")


def _wait(check: Callable[[], bool], timeout: float, logs: Callable[[], str]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(3)
    raise AssertionError(f"not done within {timeout:.0f} s\n{logs()}")


def _swept_and_audited(
    db_url: str, names: frozenset[str] = frozenset({"inbox-sweep", "nightly-fixity-audit"})
) -> Callable[[], bool]:
    """True once the scheduled sweep enriched an item and both schedules ran successfully."""

    def check() -> bool:
        if db_url.startswith("sqlite:///") and not Path(db_url.removeprefix("sqlite:///")).exists():
            return False  # the worker has not started yet
        engine = sa.create_engine(db_url)
        try:
            with engine.connect() as c:
                if not sa.inspect(c).has_table("schedule"):
                    return False
                enriched = c.execute(
                    sa.text("SELECT count(*) FROM item WHERE status = 'enriched'")
                ).scalar_one()
                ok = {
                    r[0]
                    for r in c.execute(sa.text("SELECT name FROM schedule WHERE last_success_at IS NOT NULL"))
                }
        finally:
            engine.dispose()
        return enriched == 1 and names <= ok

    return check


def _status(env: dict[str, str]) -> tuple[int, dict]:  # type: ignore[type-arg]
    run = subprocess.run(
        [sys.executable, "-m", "lantai", "status", "--json"],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    return run.returncode, json.loads(run.stdout)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def test_lantai_worker_schedules_fire_on_its_local_prefect_server(
    tmp_path: Path, s3_server: S3Server, bucket_name: str
) -> None:
    home = tmp_path / "home"
    env = worker_env(
        home,
        s3_server,
        bucket_name,
        name="sched-1",
        schedules=(EVERY_MINUTE, EVERY_MINUTE, ""),
        jobs=EVERY_MINUTE,
    )
    env |= {"LANTAI_WORKER__WATCH_SECONDS": "5", "LANTAI_WORKER__RUNS": "2"}
    _upload_to_inbox(s3_server, bucket_name, "inbox/T21/batch-1/page.png")
    log_path = tmp_path / "worker.log"
    with log_path.open("wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "lantai", "worker", "--port", str(free_port())],
            env=env, cwd=REPO, stdout=log, stderr=log, start_new_session=True,
        )  # fmt: skip
    db_url = f"sqlite:///{home / 'catalog.db'}"
    try:
        every = frozenset({"inbox-sweep", "jobs", "nightly-fixity-audit"})
        _wait(_swept_and_audited(db_url, every), 300, lambda: log_path.read_text(errors="replace")[-4000:])

        def next_run_known() -> bool:
            code, report = _status(env)
            sweep = next(s for s in report["schedules"] if s["name"] == "inbox-sweep")
            return code == 0 and sweep["next_run"] is not None and not sweep["alarms"]

        _wait(next_run_known, 60, lambda: log_path.read_text(errors="replace")[-4000:])
        code, report = _status(env)
        assert code == 0 and report["alarm"] is False, report
        by_name = {s["name"]: s for s in report["schedules"]}
        assert set(by_name) == {"inbox-sweep", "jobs", "nightly-fixity-audit"}  # replication disabled
        for name in ("inbox-sweep", "jobs", "nightly-fixity-audit"):
            s = by_name[name]
            assert s["served_by"] == "sched-1" and s["cron"] == EVERY_MINUTE and s["active"]
            assert s["last_run"]["outcome"] in ("success", "running") and s["last_success"]
            assert s["last_run"]["flow_run"]  # the Prefect flow run it was
        assert report["collections"]["T21"]["enriched"] == 1  # the batch's collection from the inbox layout
        assert report["audit"] is not None and report["audit"]["passed"]
        client = Minio(s3_server.endpoint, access_key=s3_server.access_key,
                       secret_key=s3_server.secret_key, secure=s3_server.secure)  # fmt: skip
        assert not [o for o in client.list_objects(bucket_name, "inbox/", recursive=True)]  # swept
    finally:
        _stop(worker)
    # stopped on purpose: the schedules are no longer served, and that is no alarm
    code, report = _status(env)
    assert code == 0 and all(not s["active"] for s in report["schedules"]), report
    assert "Prefect server ERROR" not in log_path.read_text(errors="replace")


def test_work_pool_schedules_from_prefect_yaml_fire(
    tmp_path: Path, pg_url: str, s3_server: S3Server, bucket_name: str
) -> None:
    port = free_port()
    server = start_local_server(tmp_path / "prefect-server", port)  # `prefect server start`
    api = f"http://127.0.0.1:{port}/api"
    env = worker_env(tmp_path / "home", s3_server, bucket_name, name="pool", db_url=pg_url, api=api)
    env["LANTAI_REPO"] = str(REPO)
    # prefect.yaml as shipped, with per-minute crons for the sweep and the audit
    shipped = (REPO / "prefect.yaml").read_text()
    assert '"*/10 * * * *"' in shipped and '"0 2 * * *"' in shipped
    (tmp_path / "prefect.yaml").write_text(
        shipped.replace('"*/10 * * * *"', f'"{EVERY_MINUTE}"').replace('"0 2 * * *"', f'"{EVERY_MINUTE}"')
    )
    log_path = tmp_path / "pool-worker.log"
    worker: subprocess.Popen[bytes] | None = None
    try:
        for cmd in (
            ["work-pool", "create", "lantai", "--type", "process"],
            ["--no-prompt", "deploy", "--all", "--prefect-file", str(tmp_path / "prefect.yaml")],
        ):
            run = subprocess.run(
                [sys.executable, "-m", "prefect", *cmd],
                env=env, cwd=REPO, capture_output=True, text=True, timeout=180,
            )  # fmt: skip
            assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
        _upload_to_inbox(s3_server, bucket_name, "inbox/T21/batch-2/page.png")
        with log_path.open("wb") as log:
            worker = subprocess.Popen(
                [sys.executable, "-m", "prefect", "worker", "start", "--pool", "lantai", "--limit", "1"],
                env=env, cwd=REPO, stdout=log, stderr=log, start_new_session=True,
            )  # fmt: skip
        _wait(_swept_and_audited(pg_url), 300, lambda: log_path.read_text(errors="replace")[-4000:])
        code, report = _status(env)
        by_name = {s["name"]: s for s in report["schedules"]}
        for name in ("inbox-sweep", "nightly-fixity-audit"):
            s = by_name[name]
            # no lantai worker registered these: the runs brought their deployment's cron
            assert s["served_by"] == "" and s["cron"] == EVERY_MINUTE and s["timezone"] == "Asia/Shanghai"
            assert s["last_success"] and not s["alarms"], s
        assert code == 0 and report["alarm"] is False
        assert report["collections"]["T21"]["enriched"] == 1
    finally:
        if worker is not None:
            _stop(worker)
        server.stop()
