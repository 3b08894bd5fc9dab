"""Object storage: one ObjectStore protocol, a local-directory and an S3 (minio SDK) backend."""

from __future__ import annotations

from pathlib import Path

from configs import Settings
from configs.settings import StorageSettings
from storage.base import (
    ChecksumMismatch,
    InvalidKeyError,
    ObjectInfo,
    ObjectNotFound,
    ObjectStore,
    StorageError,
    WriteOnceError,
    download,
    sha256_file,
)

__all__ = [
    "ChecksumMismatch",
    "InvalidKeyError",
    "ObjectInfo",
    "ObjectNotFound",
    "ObjectStore",
    "StorageError",
    "WriteOnceError",
    "download",
    "open_store",
    "sha256_file",
]


def open_store(settings: Settings, cfg: StorageSettings | None = None) -> ObjectStore:
    """The configured backend (``settings.storage``, or ``cfg`` — e.g. the replica),
    connected, its bucket created when configured to."""
    cfg = cfg or settings.storage
    if cfg.backend == "minio":
        from storage.minio import MinioStore

        return MinioStore(
            endpoint=cfg.endpoint,
            access_key=cfg.access_key,
            secret_key=cfg.secret_key,
            bucket=cfg.bucket,
            secure=cfg.secure,
            region=cfg.region,
            create_bucket=cfg.create_bucket,
        )
    from storage.local import LocalStore

    root = Path(cfg.root).expanduser().resolve() if cfg.root else settings.objects_path
    return LocalStore(root, cfg.bucket, secret=settings.secret.encode())
