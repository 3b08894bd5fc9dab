"""Object storage: one ObjectStore protocol, a local-directory and an S3 (minio SDK) backend."""

from __future__ import annotations

from configs import Settings
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


def open_store(settings: Settings) -> ObjectStore:
    """The configured backend, connected (and its bucket created when configured to)."""
    cfg = settings.storage
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

    return LocalStore(settings.objects_path, cfg.bucket, secret=settings.secret.encode())
