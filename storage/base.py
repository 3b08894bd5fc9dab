"""The ObjectStore protocol every backend implements, and its errors."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable

from configs.errors import BadInputError, LantaiError

CHUNK = 1024 * 1024
SHA256_META = "sha256"


class StorageError(LantaiError):
    """The object store failed or refused an operation (unreachable, credentials, permission)."""

    exit_code = 4
    http_status = 503


class ObjectNotFound(StorageError):
    """An object the catalog names is not in storage."""

    http_status = 404
    title_key = "not_found"

    def __init__(self, key: str) -> None:
        super().__init__(f"object not found: {key}")
        self.key = key


class WriteOnceError(StorageError):
    """An attempt to replace an immutable object (a master) with other content."""

    http_status = 409


class ChecksumMismatch(StorageError):
    """A master whose content no longer matches its recorded SHA-256: it was altered."""

    def __init__(self, key: str, expected: str, actual: str) -> None:
        super().__init__(
            f"checksum mismatch for {key}: catalog has {expected[:12]}…, object has {actual[:12]}…",
            hint="the object was altered or damaged in storage: restore it from a replica",
        )
        self.key, self.expected, self.actual = key, expected, actual


class InvalidKeyError(BadInputError):
    """An object name that could escape its prefix or that storage cannot hold."""


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    sha256: str | None = None
    content_type: str = "application/octet-stream"
    modified: datetime | None = None
    metadata: dict[str, str] = field(default_factory=dict)


@runtime_checkable
class ObjectStore(Protocol):
    """What Lantai needs from object storage. Keys are validated; bodies always stream."""

    name: str

    def put_file(
        self,
        key: str,
        path: Path,
        *,
        content_type: str = "application/octet-stream",
        sha256: str | None = None,
        write_once: bool = False,
    ) -> ObjectInfo:
        """Upload a local file (streamed). Its SHA-256 is computed when not given and stored
        as object metadata. ``write_once`` refuses to replace an existing object with
        different content; the same content again is accepted and changes nothing."""
        ...

    def open(self, key: str, *, offset: int = 0, length: int | None = None) -> BinaryIO:
        """A readable stream over the object, or over ``length`` bytes from ``offset``."""
        ...

    def stat(self, key: str) -> ObjectInfo: ...

    def exists(self, key: str) -> bool: ...

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        """Objects under ``prefix``, recursively, in key order."""
        ...

    def keys(self, prefix: str) -> Iterator[str]:
        """The keys under ``prefix``, recursively, in key order: a listing alone, without
        reading each object's metadata (one request per thousand keys on S3)."""
        ...

    def copy(self, src: str, dst: str, *, write_once: bool = False) -> ObjectInfo:
        """Server-side copy keeping the checksum metadata."""
        ...

    def delete(self, key: str) -> None: ...

    def presigned_get(self, key: str, *, expires_seconds: int = 3600) -> str: ...


def sha256_file(path: Path) -> str:
    """SHA-256 of a local file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download(store: ObjectStore, key: str, dest: Path, *, expect_sha256: str | None = None) -> str:
    """Stream an object to ``dest`` and return its SHA-256, computed on the way.

    With ``expect_sha256`` a mismatch raises :class:`ChecksumMismatch` and removes ``dest``.
    """
    digest = hashlib.sha256()
    dest.parent.mkdir(parents=True, exist_ok=True)
    with store.open(key) as src, dest.open("wb") as out:
        for chunk in iter(lambda: src.read(CHUNK), b""):
            digest.update(chunk)
            out.write(chunk)
    actual = digest.hexdigest()
    if expect_sha256 and actual != expect_sha256:
        dest.unlink(missing_ok=True)
        raise ChecksumMismatch(key, expect_sha256, actual)
    return actual
