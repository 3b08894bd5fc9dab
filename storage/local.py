"""The embedded default backend: objects as files in a directory, metadata beside them.

Layout: ``<root>/<bucket>/<key>`` holds the bytes, ``<root>/.meta/<bucket>/<key>.json``
the checksum and content type. Writes go to a temporary file and are renamed into place,
so a killed process never leaves a half-written object under its real key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote

from configs.digest import equal_secrets
from storage.base import (
    CHUNK,
    ObjectInfo,
    ObjectNotFound,
    StorageError,
    WriteOnceError,
    sha256_file,
)
from storage.keys import validate_key


class _RangeReader:
    """A file object limited to ``length`` bytes, closing the file with it."""

    def __init__(self, fh: BinaryIO, length: int | None) -> None:
        self._fh, self._left = fh, length

    def read(self, size: int = -1) -> bytes:
        if self._left is None:
            return self._fh.read(size)
        if self._left <= 0:
            return b""
        size = self._left if size < 0 else min(size, self._left)
        data = self._fh.read(size)
        self._left -= len(data)
        return data

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> _RangeReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LocalStore:
    """ObjectStore on a local directory."""

    def __init__(self, root: Path, bucket: str, *, secret: bytes) -> None:
        self.root = root
        self.bucket = bucket
        self.name = f"local:{root / bucket}"
        self._data = root / bucket
        self._meta = root / ".meta" / bucket
        self._secret = secret
        try:
            self._data.mkdir(parents=True, exist_ok=True)
            self._meta.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StorageError(
                f"cannot create the local object store at {self._data}: {e.strerror}",
                hint="set LANTAI_HOME or LANTAI_STORAGE__ROOT to a writable folder",
            ) from e

    def _path(self, key: str) -> Path:
        return self._data / validate_key(key)

    def _meta_path(self, key: str) -> Path:
        return self._meta / (validate_key(key) + ".json")

    def _read_meta(self, key: str) -> dict[str, str]:
        try:
            return dict(json.loads(self._meta_path(key).read_text("utf-8")))
        except (FileNotFoundError, ValueError):
            return {}

    def _write_meta(self, key: str, meta: dict[str, str]) -> None:
        path = self._meta_path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(meta, ensure_ascii=False), "utf-8")
        os.replace(tmp, path)

    def _check_write_once(self, key: str, sha256: str) -> ObjectInfo | None:
        if not self._path(key).exists():
            return None
        current = self.stat(key)
        if current.sha256 != sha256:
            raise WriteOnceError(f"refusing to overwrite write-once object {key}")
        return current

    def put_file(
        self,
        key: str,
        path: Path,
        *,
        content_type: str = "application/octet-stream",
        sha256: str | None = None,
        write_once: bool = False,
    ) -> ObjectInfo:
        sha256 = sha256 or sha256_file(path)
        if write_once and (existing := self._check_write_once(key, sha256)):
            return existing
        dest = self._path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out, path.open("rb") as src:
                shutil.copyfileobj(src, out, CHUNK)
                out.flush()
                os.fsync(out.fileno())
            self._write_meta(key, {"sha256": sha256, "content_type": content_type})
            os.replace(tmp, dest)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return self.stat(key)

    def open(self, key: str, *, offset: int = 0, length: int | None = None) -> BinaryIO:
        try:
            fh = self._path(key).open("rb")
        except FileNotFoundError:
            raise ObjectNotFound(key) from None
        except IsADirectoryError:
            raise ObjectNotFound(key) from None
        if offset:
            fh.seek(offset)
        return _RangeReader(fh, length)  # type: ignore[return-value]

    def stat(self, key: str) -> ObjectInfo:
        path = self._path(key)
        try:
            st = path.stat()
        except FileNotFoundError:
            raise ObjectNotFound(key) from None
        if not path.is_file():
            raise ObjectNotFound(key)
        meta = self._read_meta(key)
        return ObjectInfo(
            key=key,
            size=st.st_size,
            sha256=meta.get("sha256"),
            content_type=meta.get("content_type", "application/octet-stream"),
            modified=datetime.fromtimestamp(st.st_mtime, UTC),
            metadata=meta,
        )

    def sweep_partial_uploads(self, *, older_than: float = 3600) -> int:
        """Remove temporary files left by uploads killed midway (never visible as objects).
        Returns how many were removed."""
        cutoff = time.time() - older_than
        removed = 0
        for path in self._data.rglob(".upload-*"):
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
                removed += 1
        return removed

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        for key in self.keys(prefix):
            yield self.stat(key)

    def keys(self, prefix: str) -> Iterator[str]:
        """Keys starting with ``prefix``, in the byte order S3 lists them. Only the folder
        the prefix names is walked (``inbox/C/b`` walks ``inbox/C``), not the bucket."""
        folder = prefix.rpartition("/")[0]
        top = self._data / folder if folder else self._data
        if folder and (".." in folder.split("/") or not top.is_dir()):
            return
        found = []
        for dirpath, _dirs, files in os.walk(top):
            for fname in files:
                if fname.startswith(".upload-"):
                    continue
                key = Path(dirpath, fname).relative_to(self._data).as_posix()
                if key.startswith(prefix):
                    found.append(key)
        yield from sorted(found)

    def copy(self, src: str, dst: str, *, write_once: bool = False) -> ObjectInfo:
        info = self.stat(src)
        sha = info.sha256 or sha256_file(self._path(src))
        return self.put_file(
            dst, self._path(src), content_type=info.content_type, sha256=sha, write_once=write_once
        )

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)
        self._meta_path(key).unlink(missing_ok=True)

    def presigned_get(self, key: str, *, expires_seconds: int = 3600) -> str:
        """A web-app URL (``/objects/…``) carrying an expiry and an HMAC over key and expiry."""
        validate_key(key)
        expires = int(time.time()) + expires_seconds
        return f"/objects/{quote(key)}?expires={expires}&signature={self.sign(key, expires)}"

    def sign(self, key: str, expires: int) -> str:
        return hmac.new(self._secret, f"{key}\n{expires}".encode(), hashlib.sha256).hexdigest()

    def verify_signature(self, key: str, expires: int, signature: str) -> bool:
        """True when the signature is ours and the URL has not expired."""
        return expires >= time.time() and equal_secrets(self.sign(key, expires), signature)
