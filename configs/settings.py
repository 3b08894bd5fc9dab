"""Settings: ``configs/default.toml`` < ``$LANTAI_CONFIG`` file < ``LANTAI_*`` environment."""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from configs.errors import ConfigError

DEFAULT_TOML = Path(__file__).with_name("default.toml")


class StorageSettings(BaseModel):
    backend: Literal["local", "minio"] = "local"
    root: str = ""
    endpoint: str = "127.0.0.1:9000"
    access_key: str = ""
    secret_key: str = ""
    secure: bool = False
    region: str = ""
    bucket: str = "lantai"
    create_bucket: bool = True


class IngestSettings(BaseModel):
    # files hashed, checked and uploaded at once (I/O bound: more than the cores is right);
    # catalog rows are written in one short transaction per `commit_every` files
    workers: int = Field(8, ge=1, le=64)
    commit_every: int = Field(200, ge=1, le=10_000)


class OcrSettings(BaseModel):
    languages: str = "chi_sim+eng"
    # auto: PP-OCR for Chinese (with English), Tesseract for every other language
    engine: Literal["auto", "ppocr", "tesseract"] = "auto"
    dpi: int = Field(300, ge=70, le=1200)
    page_timeout: int = Field(300, ge=1)
    workers: int = Field(0, ge=0)


class AsrSettings(BaseModel):
    # auto: faster-whisper wherever CTranslate2 runs on the device; openai-whisper on a GPU
    # only PyTorch can use (CUDA 13 without CTranslate2's CUDA 12 libraries)
    engine: Literal["auto", "faster-whisper", "openai-whisper"] = "auto"
    model: str = "base"
    device: Literal["auto", "cpu", "cuda"] = "auto"
    compute_type: str = "auto"  # int8 on the CPU, float16 on CUDA (faster-whisper)
    beam_size: int = Field(5, ge=1)
    vad: bool = False  # a voice-activity filter before sequential decoding (Whisper's default: none)
    language: str = ""
    script: Literal["zh-Hans", "zh-Hant", "zh-TW", "zh-HK"] = "zh-Hans"
    condition_on_previous_text: bool = True  # Whisper's default
    low_confidence: float = Field(0.5, ge=0, le=1)
    track: int = Field(-1, ge=-1)  # audio track to transcribe; -1: the first one that is not silent
    # batched decoding of VAD windows: on, off, or auto (recordings of batch_minutes and
    # more, and every recording on a GPU)
    batch: Literal["auto", "on", "off"] = "auto"
    batch_size: int = Field(8, ge=1, le=256)
    batch_minutes: float = Field(10.0, ge=0)
    # speaker turns: 0 = as many as the manifest names (口述者 + 采集者; fewer than two: none),
    # 1 = never, N = always N
    speakers: int = Field(0, ge=0, le=20)
    # a transcription runs in a child process and is stopped after deadline_base +
    # deadline_factor × the recording's length (seconds): base on 2 CPU cores runs at
    # 0.15-0.17 × real time, so 2 × real time (+10 minutes to load a model) is a wide margin;
    # raise the factor for large models on a CPU
    deadline_base: float = Field(600.0, gt=0)
    deadline_factor: float = Field(2.0, ge=0)


class ScreeningSettings(BaseModel):
    terms_dir: str = ""  # folder of term-list TOML files; empty: the lists shipped in configs/terms
    rounds: int = Field(2, ge=1, le=2)  # review rounds before a 开放标识 decision takes effect

    @property
    def terms_path(self) -> Path:
        return Path(self.terms_dir) if self.terms_dir else Path(__file__).with_name("terms")


class WebSettings(BaseModel):
    """The web application behind its reverse proxy, and sign-in throttling."""

    # addresses of reverse proxies whose X-Forwarded-For/-Proto are trusted ("*" for any);
    # empty: none, the client address and scheme are the connection's own
    forwarded_allow_ips: str = ""
    secure_cookies: bool = False  # always mark cookies Secure (they are whenever a request is HTTPS)
    login_free_attempts: int = Field(5, ge=1)  # failed sign-ins per account or address before back-off
    login_max_lockout: float = Field(900.0, gt=0)  # seconds: the back-off doubles up to this
    login_hash_slots: int = Field(2, ge=1)  # password hashes computed at once (argon2id, 64 MiB each)


class OaiSettings(BaseModel):
    """This archive as an OAI-PMH repository (/oai) and as a harvester of others."""

    repository_name: str = "兰台 Lantai"
    # record identifiers are oai:<repository_identifier>:<item id>; use the archive's domain
    repository_identifier: str = Field("lantai.local", pattern=r"^[A-Za-z0-9\-.]+$")
    admin_email: str = "archive@lantai.local"
    # seconds one harvest of one source may take in all; past it the source stops and the
    # next run resumes from its saved resumption token (a feed that trickles or never ends)
    harvest_deadline: float = Field(3600.0, gt=0)


class WorkerSettings(BaseModel):
    name: str = ""  # this worker's name in item claims; empty: the host name
    runs: int = Field(1, ge=1)  # flow runs at once per worker: one item, so one ASR job, at a time
    lease_hours: float = Field(6.0, gt=0)  # another worker may take over an item claimed this long ago
    watch_seconds: float = Field(60.0, gt=0)  # how often the worker checks Prefect's scheduler and heartbeats

    @property
    def worker_name(self) -> str:
        import socket

        return self.name or socket.gethostname()


class ScheduleSettings(BaseModel):
    """Cron schedules of the deployments ``lantai worker`` serves; empty disables one."""

    inbox_sweep: str = "*/10 * * * *"
    jobs: str = "* * * * *"
    fixity_audit: str = "0 2 * * *"
    replication: str = "0 3 * * 0"
    harvest: str = "30 1 * * *"  # other archives' OAI-PMH feeds (跨馆查询), incrementally
    timezone: str = "Asia/Shanghai"

    @field_validator("inbox_sweep", "jobs", "fixity_audit", "replication", "harvest")
    @classmethod
    def _cron(cls, value: str) -> str:
        from datetime import UTC, datetime

        from cronsim import CronSim, CronSimError

        value = value.strip()
        if value:
            try:
                CronSim(value, datetime.now(UTC))
            except CronSimError as e:
                raise ValueError(f"not a cron expression ({e}): {value!r}") from e
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as e:
            raise ValueError(f"unknown timezone: {value!r}") from e
        return value


class CollectionDefaults(BaseModel):
    code: str = "DEFAULT"
    name: str = "默认全宗"
    fonds: str = "J001"
    retention: Literal["Y", "D30", "D10"] = "Y"


class Settings(BaseSettings):
    """All of Lantai's settings. Paths are resolved against the working directory."""

    model_config = SettingsConfigDict(env_prefix="LANTAI_", env_nested_delimiter="__", extra="ignore")

    home: Path = Path("./data")
    database_url: str = ""
    models_dir: str = ""
    screening: ScreeningSettings = ScreeningSettings()
    worker: WorkerSettings = WorkerSettings()
    web: WebSettings = WebSettings()
    oai: OaiSettings = OaiSettings()
    schedules: ScheduleSettings = ScheduleSettings()
    # the second store masters and catalog exports are replicated to (异地备份): another
    # bucket, or another S3 endpoint (LANTAI_REPLICA__BACKEND=minio, __ENDPOINT, …)
    replica: StorageSettings = StorageSettings(bucket="lantai-replica")
    metrics_token: str = ""  # bearer token Prometheus sends to /metrics; empty: operators' sessions only
    prefect_ui_url: str = ""  # e.g. http://prefect.archive.lan:4200 to link flow runs from the dashboard
    # Signs sessions and local presigned URLs. From the environment (LANTAI_SECRET_KEY);
    # when empty, a random key is generated once and kept in <home>/.secret_key.
    secret_key: str = ""
    storage: StorageSettings = StorageSettings()
    ingest: IngestSettings = IngestSettings()
    ocr: OcrSettings = OcrSettings()
    asr: AsrSettings = AsrSettings()
    collection: CollectionDefaults = CollectionDefaults()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        files = [DEFAULT_TOML]
        user_file = os.environ.get("LANTAI_CONFIG")
        if user_file:
            files.append(Path(user_file))
        # Later sources win in TomlConfigSettingsSource's deep merge; earlier tuple entries win overall.
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=files, deep_merge=True),
        )

    @property
    def home_dir(self) -> Path:
        return self.home.expanduser().resolve()

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home_dir / 'catalog.db'}"

    @property
    def models_path(self) -> Path:
        return Path(self.models_dir).expanduser().resolve() if self.models_dir else self.home_dir / "models"

    @property
    def secret(self) -> str:
        if self.secret_key:
            return self.secret_key
        path = self.home_dir / ".secret_key"
        if not path.exists():
            # written whole under another name, then linked into place: of a web server
            # and a worker starting at once, one key wins and nobody reads a half-written file
            path.parent.mkdir(parents=True, exist_ok=True)
            staged = path.with_name(f".secret_key.{os.getpid()}.{secrets.token_hex(4)}")
            fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
            try:
                os.link(staged, path)
            except FileExistsError:
                pass  # another process was first: its key is the key
            finally:
                staged.unlink(missing_ok=True)
        return path.read_text().strip()

    @property
    def objects_path(self) -> Path:
        root = self.storage.root
        return Path(root).expanduser().resolve() if root else self.home_dir / "objects"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, built on first use (never at import time)."""
    try:
        return Settings()
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in e.errors())
        raise ConfigError(
            f"invalid configuration: {problems}",
            hint="check configs/default.toml, $LANTAI_CONFIG and the LANTAI_* environment variables",
        ) from None
