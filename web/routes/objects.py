"""``/objects/{key}``: the local backend's presigned URLs, with HTTP range requests so
players can seek in long recordings. The signature (HMAC over key and expiry) is the
authorisation; without a valid, unexpired one the answer is 403."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import StreamingResponse

from storage import InvalidKeyError, ObjectNotFound
from storage.local import LocalStore
from web.deps import Int, store_of

router = APIRouter()
CHUNK = 256 * 1024
_RANGE = re.compile(r"bytes=(\d{0,18})-(\d{0,18})$")  # 18 digits: past any object, short of overflow


def _stream(store: LocalStore, key: str, offset: int, length: int) -> Iterator[bytes]:
    with store.open(key, offset=offset, length=length) as fh:
        while chunk := fh.read(CHUNK):
            yield chunk


@router.get("/objects/{key:path}")
def get_object(
    request: Request,
    key: str,
    expires: Int,
    signature: Annotated[str, Query(max_length=128)],
) -> StreamingResponse:
    store = store_of(request)
    if not isinstance(store, LocalStore):
        raise HTTPException(404, "objects are served by the object store itself (presigned S3 URLs)")
    try:
        valid = store.verify_signature(key, expires, signature)
        info = store.stat(key) if valid else None
    except (InvalidKeyError, ObjectNotFound):
        info = None
    if not valid:
        raise HTTPException(403, "invalid or expired link")
    if info is None:
        raise HTTPException(404, "no such object")
    size = info.size
    headers = {"Accept-Ranges": "bytes", "Cache-Control": "private, max-age=300"}
    header = request.headers.get("range")
    if header is None:
        headers["Content-Length"] = str(size)
        return StreamingResponse(_stream(store, key, 0, size), media_type=info.content_type, headers=headers)
    m = _RANGE.match(header.strip())
    if not m or (not m[1] and not m[2]):
        raise HTTPException(416, "unsupported Range header", headers={"Content-Range": f"bytes */{size}"})
    if m[1]:
        start, end = int(m[1]), min(int(m[2]) if m[2] else size - 1, size - 1)
    else:  # a suffix: the last N bytes
        start, end = max(0, size - int(m[2])), size - 1
    if start >= size or start > end:
        raise HTTPException(416, "range not satisfiable", headers={"Content-Range": f"bytes */{size}"})
    headers |= {"Content-Range": f"bytes {start}-{end}/{size}", "Content-Length": str(end - start + 1)}
    return StreamingResponse(
        _stream(store, key, start, end - start + 1),
        status_code=206,
        media_type=info.content_type,
        headers=headers,
    )
