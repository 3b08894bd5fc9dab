"""ObjectStore on any S3-compatible server through the ``minio`` SDK (MinIO in production)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import urllib3
from minio import Minio
from minio.commonconfig import CopySource
from minio.error import S3Error

from storage.base import (
    ObjectInfo,
    ObjectNotFound,
    StorageError,
    WriteOnceError,
    sha256_file,
)
from storage.keys import validate_key

PART_SIZE = 16 * 1024 * 1024  # x PARALLEL_PARTS in flight: memory stays small whatever the size
PARALLEL_PARTS = 3
T = TypeVar("T")

_CREDENTIAL_CODES = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken"}


class _Body:
    """The SDK's HTTP response as a closable file object that returns its connection."""

    def __init__(self, response: Any) -> None:
        self._r = response

    def read(self, size: int = -1) -> bytes:
        return bytes(self._r.read(None if size < 0 else size))

    def close(self) -> None:
        self._r.close()
        self._r.release_conn()

    def __enter__(self) -> _Body:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class MinioStore:
    """ObjectStore on one bucket of an S3-compatible server."""

    def __init__(
        self,
        *,
        endpoint: str,
        access_key: str,
        secret_key: str,
        bucket: str,
        secure: bool = False,
        region: str = "",
        create_bucket: bool = True,
    ) -> None:
        self.endpoint, self.bucket = endpoint, bucket
        self.name = f"s3://{bucket}@{endpoint}"
        http = urllib3.PoolManager(
            maxsize=32,  # ingest workers and multipart parts run in parallel threads
            timeout=urllib3.Timeout(connect=5, read=120),
            retries=urllib3.Retry(total=4, backoff_factor=0.5, status_forcelist=(500, 502, 503, 504)),
        )
        self.client = Minio(
            endpoint,
            access_key=access_key or None,
            secret_key=secret_key or None,
            secure=secure,
            region=region or None,
            http_client=http,
        )
        self._ensure_bucket(create_bucket)

    def _call(self, what: str, fn: Callable[[], T], key: str | None = None) -> T:
        """Run one SDK call, turning its exceptions into errors a user can act on."""
        try:
            return fn()
        except S3Error as e:
            if e.code in ("NoSuchKey", "NoSuchObject") and key is not None:
                raise ObjectNotFound(key) from None
            if e.code in _CREDENTIAL_CODES:
                raise StorageError(
                    f"{self.endpoint} rejected the credentials ({e.code})",
                    hint="check LANTAI_STORAGE__ACCESS_KEY and LANTAI_STORAGE__SECRET_KEY",
                ) from None
            if e.code == "AccessDenied":
                raise StorageError(
                    f"permission denied to {what} on bucket {self.bucket!r} at {self.endpoint}",
                    hint="grant this access key read/write on the bucket",
                ) from None
            if e.code == "NoSuchBucket":
                raise StorageError(
                    f"bucket {self.bucket!r} does not exist at {self.endpoint}",
                    hint="create it, or set LANTAI_STORAGE__CREATE_BUCKET=true",
                ) from None
            raise StorageError(f"{what} failed at {self.endpoint}: {e.code}: {e.message}") from e
        except (urllib3.exceptions.HTTPError, OSError) as e:
            raise StorageError(
                f"object storage at {self.endpoint} is unreachable ({type(e).__name__})",
                hint="start the server or correct LANTAI_STORAGE__ENDPOINT / LANTAI_STORAGE__SECURE",
            ) from e

    def _ensure_bucket(self, create: bool) -> None:
        from minio.helpers import check_bucket_name

        try:
            check_bucket_name(self.bucket)
        except ValueError:
            raise StorageError(
                f"invalid bucket name {self.bucket!r}",
                hint="S3 bucket names are 3-63 lower-case letters, digits, '-' and '.'",
            ) from None
        if self._call("check the bucket", lambda: self.client.bucket_exists(self.bucket)):
            return
        if not create:
            raise StorageError(
                f"bucket {self.bucket!r} does not exist at {self.endpoint}",
                hint="create it, or set LANTAI_STORAGE__CREATE_BUCKET=true",
            )
        self._call("create the bucket", lambda: self.client.make_bucket(self.bucket))

    def put_file(
        self,
        key: str,
        path: Path,
        *,
        content_type: str = "application/octet-stream",
        sha256: str | None = None,
        write_once: bool = False,
    ) -> ObjectInfo:
        validate_key(key)
        sha256 = sha256 or sha256_file(path)
        if write_once:
            try:
                current = self.stat(key)
            except ObjectNotFound:
                pass
            else:
                if current.sha256 != sha256:
                    raise WriteOnceError(f"refusing to overwrite write-once object {key}")
                return current
        result = self._call(
            "upload",
            lambda: self.client.fput_object(
                self.bucket,
                key,
                str(path),
                content_type=content_type,
                metadata={"sha256": sha256},
                part_size=PART_SIZE,
                num_parallel_uploads=PARALLEL_PARTS,
            ),
        )
        return ObjectInfo(  # what was sent: no second request to read it back
            key=key,
            size=path.stat().st_size,
            sha256=sha256,
            content_type=content_type,
            modified=result.last_modified,
            metadata={"sha256": sha256},
        )

    def open(self, key: str, *, offset: int = 0, length: int | None = None) -> BinaryIO:
        validate_key(key)
        resp = self._call(
            "read", lambda: self.client.get_object(self.bucket, key, offset=offset, length=length or 0), key
        )
        return _Body(resp)  # type: ignore[return-value]

    def stat(self, key: str) -> ObjectInfo:
        validate_key(key)
        st = self._call("stat", lambda: self.client.stat_object(self.bucket, key), key)
        meta = {k.lower(): v for k, v in (st.metadata or {}).items()}
        sha = meta.get("x-amz-meta-sha256")
        return ObjectInfo(
            key=key,
            size=st.size or 0,
            sha256=sha,
            content_type=st.content_type or "application/octet-stream",
            modified=st.last_modified,
            metadata={"sha256": sha} if sha else {},
        )

    def exists(self, key: str) -> bool:
        try:
            self.stat(key)
        except ObjectNotFound:
            return False
        return True

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        for key in self.keys(prefix):
            yield self.stat(key)

    def keys(self, prefix: str) -> Iterator[str]:
        """Streamed, a thousand keys a request: S3 lists in UTF-8 binary order, which is
        the order of Python's ``sorted`` over the same strings."""
        listing = self._call(
            "list", lambda: iter(self.client.list_objects(self.bucket, prefix=prefix, recursive=True))
        )
        while (obj := self._call("list", lambda: next(listing, None))) is not None:
            if obj.object_name and not obj.is_dir:
                yield obj.object_name

    def copy(self, src: str, dst: str, *, write_once: bool = False) -> ObjectInfo:
        validate_key(dst)
        info = self.stat(src)
        if write_once:
            try:
                current = self.stat(dst)
            except ObjectNotFound:
                pass
            else:
                if current.sha256 != info.sha256:
                    raise WriteOnceError(f"refusing to overwrite write-once object {dst}")
                return current
        self._call(
            "copy", lambda: self.client.copy_object(self.bucket, dst, CopySource(self.bucket, src)), src
        )
        return ObjectInfo(dst, info.size, info.sha256, info.content_type, info.modified, info.metadata)

    def delete(self, key: str) -> None:
        validate_key(key)
        self._call("delete", lambda: self.client.remove_object(self.bucket, key))

    def presigned_get(self, key: str, *, expires_seconds: int = 3600) -> str:
        validate_key(key)
        return self._call(
            "presign",
            lambda: self.client.presigned_get_object(
                self.bucket, key, expires=timedelta(seconds=expires_seconds)
            ),
        )
