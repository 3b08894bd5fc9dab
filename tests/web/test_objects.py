"""Local presigned URLs served by the web app, with range requests."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from configs import get_settings
from storage import open_store
from storage.local import LocalStore
from web.app import create_app


@pytest.fixture
def stored(home: Path, tmp_path: Path) -> tuple[TestClient, LocalStore, bytes]:
    data = bytes(range(256)) * 2000
    src = tmp_path / "a.bin"
    src.write_bytes(data)
    store = open_store(get_settings())
    assert isinstance(store, LocalStore)
    store.put_file("derivatives/ab/访谈 音频.m4a", src, content_type="audio/mp4")
    return TestClient(create_app()), store, data


def test_full_and_ranged_reads(stored: tuple[TestClient, LocalStore, bytes]) -> None:
    client, store, data = stored
    url = store.presigned_get("derivatives/ab/访谈 音频.m4a", expires_seconds=60)
    full = client.get(url)
    assert full.status_code == 200 and full.content == data
    assert full.headers["content-type"] == "audio/mp4" and full.headers["accept-ranges"] == "bytes"
    part = client.get(url, headers={"Range": "bytes=1000-1999"})
    assert part.status_code == 206 and part.content == data[1000:2000]
    assert part.headers["content-range"] == f"bytes 1000-1999/{len(data)}"
    tail = client.get(url, headers={"Range": "bytes=-10"})
    assert tail.content == data[-10:]
    open_end = client.get(url, headers={"Range": "bytes=500000-"})
    assert open_end.content == data[500000:]
    assert client.get(url, headers={"Range": f"bytes={len(data)}-"}).status_code == 416
    assert client.get(url, headers={"Range": "lines=1-2"}).status_code == 416


def test_bad_signatures_and_expired_links_are_refused(stored: tuple[TestClient, LocalStore, bytes]) -> None:
    client, store, _ = stored
    key = "derivatives/ab/访谈 音频.m4a"
    url = store.presigned_get(key, expires_seconds=60)
    assert client.get(url.replace("signature=", "signature=0")).status_code == 403
    expired = f"/objects/{quote(key)}?expires=1&signature={store.sign(key, 1)}"
    assert client.get(expired).status_code == 403
    other = store.presigned_get("derivatives/ab/other", expires_seconds=60)
    assert client.get(other).status_code == 404
    assert client.get(f"/objects/{quote(key)}").status_code == 422  # no signature at all
    evil = "../../etc/passwd"  # even correctly signed, a path outside the store is never served
    traversal = f"/objects/{quote(evil, safe='')}?expires=9999999999&signature={store.sign(evil, 9999999999)}"
    assert client.get(traversal).status_code == 404
