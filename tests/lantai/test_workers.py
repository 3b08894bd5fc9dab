"""Scale-out: a Prefect server, two `lantai worker` processes (as on two machines, with
their own homes), one PostgreSQL catalog and one S3 server. Two enrich runs are started
at once; both workers take items, and every item is enriched exactly once."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from PIL import Image, ImageDraw

from lantai.prefect_server import start_local_server
from tests.conftest import REPO, S3Server, free_port
from tests.lantai.conftest import worker_env

pytestmark = pytest.mark.slow  # the fast tier: bash scripts/test -m "not slow"

ITEMS = 10


def test_two_workers_share_a_batch_without_doing_any_item_twice(
    tmp_path: Path, pg_url: str, s3_server: S3Server, bucket_name: str
) -> None:
    batch = tmp_path / "batch"
    batch.mkdir()
    for n in range(ITEMS):  # pages of some seconds' OCR each: one worker cannot finish the
        # batch before the other has picked up the second run (a race the test must not lose)
        img = Image.new("L", (1240, 1754), 255)
        draw = ImageDraw.Draw(img)
        for line in range(40):
            draw.text((80, 60 + line * 40), f"scale out page {n} line {line}: both take items", fill=0)
        img.save(batch / f"page-{n:02d}.png")
    port = free_port()
    server = start_local_server(tmp_path / "prefect-server", port)
    api = f"http://127.0.0.1:{port}/api"
    workers: list[subprocess.Popen[bytes]] = []
    try:
        env1 = worker_env(tmp_path / "w1", s3_server, bucket_name, name="worker-1", db_url=pg_url, api=api)
        run = subprocess.run(
            [sys.executable, "-m", "lantai", "ingest", str(batch), "--collection", "SCALE"],
            env=env1, cwd=REPO, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr
        for name in ("worker-1", "worker-2"):
            env = worker_env(tmp_path / name, s3_server, bucket_name, name=name, db_url=pg_url, api=api)
            log = (tmp_path / f"{name}.log").open("wb")
            workers.append(
                subprocess.Popen(
                    [sys.executable, "-m", "lantai", "worker"],
                    env=env,
                    cwd=REPO,
                    stdout=log,
                    stderr=log,
                    start_new_session=True,
                )
            )
        deadline = time.monotonic() + 120
        deployed = False
        while time.monotonic() < deadline and not deployed:
            ls = subprocess.run(
                [sys.executable, "-m", "prefect", "deployment", "ls"],
                env=env1,
                capture_output=True,
                text=True,
            )
            deployed = "enrich/enrich" in ls.stdout
            time.sleep(1)
        assert deployed, (tmp_path / "worker-1.log").read_text()
        time.sleep(3)  # both workers serve the deployment
        for _ in range(2):
            started = subprocess.run(
                [sys.executable, "-m", "prefect", "deployment", "run", "enrich/enrich"],
                env=env1, capture_output=True, text=True, timeout=60,
            )  # fmt: skip
            assert started.returncode == 0, started.stderr
        engine = sa.create_engine(pg_url)
        deadline = time.monotonic() + 300
        done = 0
        while time.monotonic() < deadline:
            with engine.connect() as c:
                done = c.execute(sa.text("SELECT count(*) FROM item WHERE status = 'enriched'")).scalar_one()
            if done == ITEMS:
                break
            time.sleep(2)
        logs = "\n".join((tmp_path / f"worker-{n}.log").read_text(errors="replace")[-3000:] for n in (1, 2))
        assert done == ITEMS, logs
        with engine.connect() as c:
            per_item = c.execute(
                sa.text(
                    "SELECT item_id, count(*) FROM event"
                    " WHERE type = 'optical character recognition' GROUP BY item_id"
                )
            ).all()
            claimed = {r[0] for r in c.execute(sa.text("SELECT DISTINCT claimed_by FROM item"))}
            pages = c.execute(sa.text("SELECT count(*) FROM page")).scalar_one()
        engine.dispose()
        assert len(per_item) == ITEMS and all(n == 1 for _, n in per_item), per_item  # each item once
        assert pages == ITEMS  # no duplicate rows
        assert claimed == {"worker-1", "worker-2"}, logs  # both workers took work
    finally:
        for w in workers:
            if w.poll() is None:
                os.killpg(w.pid, 15)
        for w in workers:
            try:
                w.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(w.pid, 9)
        server.stop()
