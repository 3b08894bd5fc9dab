"""Shared fixtures: a fresh Lantai home per test, real PostgreSQL databases, a real
S3-compatible server (SeaweedFS, or a MinIO named by LANTAI_TEST_S3_ENDPOINT)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import S3Server, free_port, seaweedfs

__all__ = ["S3Server", "free_port"]

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
    try:
        with seaweedfs(tmp_path_factory.mktemp("seaweedfs")) as server:
            yield server
    except FileNotFoundError as e:
        pytest.fail(str(e))


def point_at_s3(monkeypatch: pytest.MonkeyPatch, prefix: str, server: S3Server, bucket: str) -> None:
    """Set ``LANTAI_<prefix>__*`` (STORAGE or REPLICA) to the test S3 server and bucket."""
    from configs.settings import get_settings

    for var, value in (
        ("BACKEND", "minio"),
        ("ENDPOINT", server.endpoint),
        ("BUCKET", bucket),
        ("ACCESS_KEY", server.access_key),
        ("SECRET_KEY", server.secret_key),
    ):
        monkeypatch.setenv(f"LANTAI_{prefix}__{var}", value)
    get_settings.cache_clear()


@pytest.fixture
def bucket_name() -> str:
    return f"t-{uuid.uuid4().hex[:16]}"
