"""One contract, both backends: the local directory and a real S3-compatible server."""

from __future__ import annotations

import hashlib
import os
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage import ChecksumMismatch, InvalidKeyError, ObjectNotFound, StorageError, WriteOnceError, download
from storage.base import ObjectStore
from storage.keys import inbox_key, master_key
from storage.local import LocalStore
from storage.minio import MinioStore
from tests.conftest import S3Server


@pytest.fixture(params=["local", "minio"])
def store(request: pytest.FixtureRequest, tmp_path: Path, bucket_name: str) -> Iterator[ObjectStore]:
    if request.param == "local":
        yield LocalStore(tmp_path / "objects", "lantai", secret=b"test-secret")
        return
    server: S3Server = request.getfixturevalue("s3_server")
    yield MinioStore(
        endpoint=server.endpoint,
        access_key=server.access_key,
        secret_key=server.secret_key,
        secure=server.secure,
        bucket=bucket_name,
        create_bucket=True,
    )


@pytest.fixture
def blob(tmp_path: Path) -> Path:
    path = tmp_path / "blob.bin"
    path.write_bytes(bytes(range(256)) * 4096)  # 1 MiB
    return path


def test_put_stat_and_read_back(store: ObjectStore, blob: Path) -> None:
    key = inbox_key("C1", "批次 1", "访谈 录音.wav")
    info = store.put_file(key, blob, content_type="audio/wav")
    expected = hashlib.sha256(blob.read_bytes()).hexdigest()
    assert info.sha256 == expected and info.size == blob.stat().st_size
    stat = store.stat(key)
    assert stat.sha256 == expected and stat.content_type == "audio/wav"
    with store.open(key) as fh:
        assert fh.read() == blob.read_bytes()


def test_ranged_read(store: ObjectStore, blob: Path) -> None:
    store.put_file("inbox/a/b", blob)
    with store.open("inbox/a/b", offset=1000, length=300) as fh:
        assert fh.read() == blob.read_bytes()[1000:1300]


def test_list_by_prefix_in_key_order(store: ObjectStore, blob: Path) -> None:
    for key in ("inbox/c/2", "inbox/c/1", "inbox/d/1", "masters/x"):
        store.put_file(key, blob)
    assert [o.key for o in store.list("inbox/c/")] == ["inbox/c/1", "inbox/c/2"]
    assert [o.key for o in store.list("inbox/")] == ["inbox/c/1", "inbox/c/2", "inbox/d/1"]


KEYS = (
    "inbox/c/2",
    "inbox/c/1",
    "inbox/c-x/1",
    "inbox/cd/9",
    "inbox/d/1",
    "masters/ab/x",
    "masters/abc/y",
    "top",
)


@pytest.mark.parametrize(
    "prefix",
    ["", "in", "inbox/", "inbox/c", "inbox/c/", "inbox/c/1", "masters/ab", "masters/ab/", "nothing/", "top"],
)
def test_keys_match_s3_prefix_semantics(store: ObjectStore, blob: Path, prefix: str) -> None:
    """A prefix is a string prefix, not a folder: both backends list every key that starts
    with it, once, whatever the prefix's last segment. (The order of keys across folders is
    the server's: AWS and MinIO list in byte order, SeaweedFS folder by folder; the local
    store uses byte order.)"""
    for key in KEYS:
        store.put_file(key, blob)
    listed = list(store.keys(prefix))
    expected = sorted(k for k in KEYS if k.startswith(prefix))
    assert sorted(listed) == expected and len(listed) == len(expected)
    if isinstance(store, LocalStore):
        assert listed == expected


def test_local_keys_walk_only_the_prefix_folder(
    tmp_path: Path, blob: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    store = LocalStore(tmp_path / "objects", "lantai", secret=b"test-secret")
    for key in KEYS:
        store.put_file(key, blob)
    walked: list[str] = []
    real_walk = os.walk

    def recording_walk(top: str | os.PathLike[str], *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        walked.append(Path(top).relative_to(tmp_path / "objects" / "lantai").as_posix())
        return real_walk(top, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "walk", recording_walk)
    assert list(store.keys("inbox/c/")) == ["inbox/c/1", "inbox/c/2"]
    assert list(store.keys("masters/ab")) == ["masters/ab/x", "masters/abc/y"]
    assert walked == ["inbox/c", "masters"]


def test_copy_keeps_checksum_and_delete(store: ObjectStore, blob: Path) -> None:
    src = store.put_file("inbox/x/a.tif", blob)
    copied = store.copy("inbox/x/a.tif", "masters/aa/a.tif")
    assert copied.sha256 == src.sha256
    store.delete("inbox/x/a.tif")
    assert not store.exists("inbox/x/a.tif")
    with pytest.raises(ObjectNotFound):
        store.stat("inbox/x/a.tif")
    with pytest.raises(ObjectNotFound):
        store.open("inbox/x/a.tif")


def test_masters_are_write_once(store: ObjectStore, blob: Path, tmp_path: Path) -> None:
    sha = hashlib.sha256(blob.read_bytes()).hexdigest()
    key = master_key(sha, "页 1.tif")
    assert key == f"masters/{sha[:2]}/{sha}/页 1.tif"
    store.put_file(key, blob, write_once=True)
    store.put_file(key, blob, write_once=True)  # the same content again is accepted
    other = tmp_path / "other.bin"
    other.write_bytes(b"different")
    with pytest.raises(WriteOnceError):
        store.put_file(key, other, write_once=True)
    with store.open(key) as fh:
        assert hashlib.sha256(fh.read()).hexdigest() == sha


def test_download_verifies_checksum(store: ObjectStore, blob: Path, tmp_path: Path) -> None:
    store.put_file("masters/k", blob)
    good = hashlib.sha256(blob.read_bytes()).hexdigest()
    assert download(store, "masters/k", tmp_path / "out", expect_sha256=good) == good
    with pytest.raises(ChecksumMismatch):
        download(store, "masters/k", tmp_path / "bad", expect_sha256="0" * 64)
    assert not (tmp_path / "bad").exists()


@pytest.mark.parametrize(
    "name",
    ["../etc/passwd", "/abs/path", "a/../b", "bad\x00name", "tab\tname", "x" * 300, "a//b", "back\\slash"],
)
def test_bad_names_are_refused(store: ObjectStore, blob: Path, name: str) -> None:
    with pytest.raises(InvalidKeyError):
        store.put_file("inbox/" + name if not name.startswith("/") else name, blob)


def test_presigned_url(store: ObjectStore, blob: Path) -> None:
    store.put_file("derivatives/p.bin", blob)
    url = store.presigned_get("derivatives/p.bin", expires_seconds=60)
    if isinstance(store, LocalStore):
        from urllib.parse import parse_qs, urlparse

        q = parse_qs(urlparse(url).query)
        assert store.verify_signature("derivatives/p.bin", int(q["expires"][0]), q["signature"][0])
        assert not store.verify_signature("derivatives/other", int(q["expires"][0]), q["signature"][0])
        assert not store.verify_signature("derivatives/p.bin", 1, store.sign("derivatives/p.bin", 1))
    else:
        with urllib.request.urlopen(url, timeout=30) as resp:
            assert resp.read() == blob.read_bytes()


def test_wrong_credentials_are_named(s3_server: S3Server, bucket_name: str) -> None:
    with pytest.raises(StorageError, match="rejected the credentials"):
        MinioStore(
            endpoint=s3_server.endpoint,
            access_key=s3_server.access_key,
            secret_key="wrong",
            bucket=bucket_name,
        )


def test_unreachable_server_names_the_endpoint(bucket_name: str) -> None:
    from tests.conftest import free_port

    endpoint = f"127.0.0.1:{free_port()}"
    with pytest.raises(StorageError, match=f"{endpoint} is unreachable"):
        MinioStore(endpoint=endpoint, access_key="a", secret_key="b", bucket=bucket_name)


def test_missing_bucket_without_create(s3_server: S3Server, bucket_name: str) -> None:
    with pytest.raises(StorageError, match="does not exist"):
        MinioStore(
            endpoint=s3_server.endpoint,
            access_key=s3_server.access_key,
            secret_key=s3_server.secret_key,
            bucket=bucket_name,
            create_bucket=False,
        )


def test_permission_denied_is_named(s3_server: S3Server, bucket_name: str, blob: Path) -> None:
    from tests.servers import READER

    MinioStore(
        endpoint=s3_server.endpoint,
        access_key=s3_server.access_key,
        secret_key=s3_server.secret_key,
        bucket=bucket_name,
    )
    if os.environ.get("LANTAI_TEST_S3_ENDPOINT"):
        pytest.skip("needs the read-only identity of the bundled SeaweedFS")
    reader = MinioStore(
        endpoint=s3_server.endpoint,
        access_key=READER[0],
        secret_key=READER[1],
        bucket=bucket_name,
        create_bucket=False,
    )
    with pytest.raises(StorageError, match="permission denied"):
        reader.put_file("inbox/x", blob)


def test_local_partial_uploads_are_swept(tmp_path: Path, blob: Path) -> None:
    import time

    store = LocalStore(tmp_path / "objects", "lantai", secret=b"s")
    store.put_file("inbox/a/b.bin", blob)
    stale = tmp_path / "objects" / "lantai" / "inbox" / "a" / ".upload-x1"
    stale.write_bytes(b"half")
    fresh = stale.with_name(".upload-x2")
    fresh.write_bytes(b"in progress")
    old = time.time() - 7200
    os.utime(stale, (old, old))
    assert [o.key for o in store.list("inbox/")] == ["inbox/a/b.bin"]
    assert store.sweep_partial_uploads() == 1
    assert not stale.exists() and fresh.exists()
