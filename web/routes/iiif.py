"""IIIF: the Image API 3.0 (level 1 and more) for page images and Presentation 3.0 manifests
of items, for any IIIF viewer (Mirador, the Universal Viewer). Both ask the one access
policy: the public (and any viewer from another site: no credentials cross origins) gets
open items only, with redacted page images and masked text; signed-in staff get what they
may see. Rendered tiles are cached on disk; sources are cut without being decoded whole
(tasks.iiif_image)."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from catalog.models import Item, Page
from catalog.publish import iiif_search
from catalog.publish.iiif import Links, manifest
from catalog.review.access import PUBLIC, masks_text, may_see
from catalog.review.editing import NotFound
from catalog.review.redaction import masks_for, public_page_asset
from configs.errors import BadInputError
from storage import ObjectNotFound, download
from tasks import iiif_image
from web.deps import AnyViewer, DbSession, Int, settings_of, store_of

router = APIRouter(prefix="/iiif")
IMAGE_CONTEXT = "http://iiif.io/api/image/3/context.json"
CACHE_LIMIT = 1024 * 1024 * 1024  # bytes of rendered tiles kept; the oldest go first
_prune_lock = threading.Lock()
_writes = {"n": 0}


def _role(viewer: AnyViewer) -> str:
    return viewer.role if getattr(viewer, "signed_in", False) else PUBLIC


# Public images and manifests are cached briefly and then revalidated by their ETag: when an
# item is withdrawn or a page is redacted further, browsers and proxies hold the old image
# at most this long (a day-long max-age let a formerly unredacted image outlive its
# withdrawal). Revalidation of an unchanged tile costs a 304 from the disk cache.
PUBLIC_MAX_AGE = 300


def _headers(role: str) -> dict[str, str]:
    public = role == PUBLIC
    return {
        "Access-Control-Allow-Origin": "*",
        "Cache-Control": (
            f"public, max-age={PUBLIC_MAX_AGE}, must-revalidate" if public else "private, max-age=600"
        ),
        "Vary": "Cookie",
    }


def _answer(request: Request, body: bytes, media_type: str, role: str) -> Response:
    """The body with its ETag, or 304 when the client already holds this very body."""
    etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    headers = _headers(role) | {"ETag": etag}
    held = request.headers.get("if-none-match", "")
    if etag in (tag.strip().removeprefix("W/") for tag in held.split(",")):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


def _page_id(identifier: str) -> int:
    """An image identifier is a page id; anything else names no image (404, as an id that
    does not exist)."""
    if not identifier.isdigit() or len(identifier) > 18:
        raise NotFound("no such image")
    return int(identifier)


def _page_source(request: Request, db: DbSession, page_id: Int, role: str) -> tuple[Path, int, int]:
    """The page image this viewer may see, as a local baseline JPEG (cached): path, size."""
    page = db.get(Page, page_id)
    item = db.get(Item, page.item_id) if page else None
    if page is None or item is None or not may_see(role, item) or not page.image_key:
        raise NotFound("no such image")
    key = page.image_key
    if masks_text(role):
        key, ready = public_page_asset(db, page, masks_for(db, item.id or 0))
        if not ready or not key:
            raise NotFound("the redacted image is being prepared")
    store = store_of(request)
    try:
        info = store.stat(key)
    except ObjectNotFound:
        raise NotFound("no such image") from None
    # named by the object's content, not only its key: a page re-redacted with more boxes is
    # written under the same key, and its old cut-outs must never be served again
    version = f"{key}|{info.sha256 or ''}|{info.size}|{info.modified.isoformat() if info.modified else ''}"
    cache = settings_of(request).home_dir / "cache" / "iiif"
    source = cache / "sources" / f"{hashlib.sha256(version.encode()).hexdigest()[:40]}.jpg"
    size_file = source.with_suffix(".size")
    if not source.exists() or not size_file.exists():
        source.parent.mkdir(parents=True, exist_ok=True)
        raw = source.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        download(store, key, raw)
        staged = source.with_suffix(f".{os.getpid()}.{threading.get_ident()}.jpg")
        width, height = iiif_image.jpeg_source(raw, staged)
        raw.unlink(missing_ok=True)
        staged.replace(source)
        size_file.write_text(f"{width} {height}")
    width, height = (int(v) for v in size_file.read_text().split())
    return source, width, height


def _service(request: Request, page_id: Int) -> str:
    return str(request.url_for("iiif_base", identifier=str(page_id)))


@router.get("/image/{identifier}", name="iiif_base")
def image_base(request: Request, identifier: str) -> Response:
    return RedirectResponse(f"{_service(request, _page_id(identifier))}/info.json", status_code=303)


@router.get("/image/{identifier}/info.json")
def image_info(request: Request, db: DbSession, viewer: AnyViewer, identifier: str) -> Response:
    role = _role(viewer)
    page_id = _page_id(identifier)
    _, width, height = _page_source(request, db, page_id, role)
    factors, f = [], 1
    while f <= 64 and max(width, height) / f >= iiif_image.TILE / 2:
        factors.append(f)
        f *= 2
    info = {
        "@context": IMAGE_CONTEXT,
        "id": _service(request, page_id),
        "type": "ImageService3",
        "protocol": "http://iiif.io/api/image",
        "profile": "level1",
        "width": width,
        "height": height,
        "maxWidth": iiif_image.MAX_SIDE if role != PUBLIC else min(width, iiif_image.MAX_SIDE),
        "maxHeight": iiif_image.MAX_SIDE if role != PUBLIC else min(height, iiif_image.MAX_SIDE),
        "tiles": [{"width": iiif_image.TILE, "scaleFactors": factors or [1]}],
        "extraFeatures": ["regionByPct", "sizeByConfinedWh", "sizeByPct", "rotationBy90s"]
        + ([] if role == PUBLIC else ["sizeUpscaling"]),
        "extraQualities": ["color", "gray"],
        "extraFormats": ["png"],
    }
    accept = request.headers.get("accept", "")
    media_type = (
        f'application/ld+json;profile="{IMAGE_CONTEXT}"'
        if "application/ld+json" in accept
        else "application/json"
    )
    return _answer(request, json.dumps(info).encode(), media_type, role)


@router.get("/image/{identifier}/{region}/{size}/{rotation}/{name}")
async def image(
    request: Request,
    db: DbSession,
    viewer: AnyViewer,
    identifier: str,
    region: str,
    size: str,
    rotation: str,
    name: str,
) -> Response:
    role = _role(viewer)
    page_id = _page_id(identifier)
    quality, dot, fmt = name.rpartition(".")
    if not dot:
        return _error(400, "the last part is quality.format, e.g. default.jpg")
    source, width, height = await run_in_threadpool(_page_source, request, db, page_id, role)
    try:
        req = iiif_image.parse(region, size, rotation, quality, fmt, width, height, upscale=role != PUBLIC)
    except iiif_image.IiifRequestError as e:
        return _error(e.status, e.message)
    cache = settings_of(request).home_dir / "cache" / "iiif" / "tiles"
    digest = hashlib.sha256(f"{source.name}|{req}".encode()).hexdigest()[:40]
    tile = cache / f"{digest}.{fmt}"
    if tile.exists():
        data = tile.read_bytes()
    else:
        try:
            data = await run_in_threadpool(iiif_image.render, source, req)
        except BadInputError as e:
            return _error(500, e.message)
        cache.mkdir(parents=True, exist_ok=True)
        staged = tile.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        staged.write_bytes(data)
        staged.replace(tile)
        _maybe_prune(cache)
    return _answer(request, data, iiif_image.FORMATS[fmt][1], role)


def _error(status: int, message: str) -> Response:
    return Response(
        message, status_code=status, media_type="text/plain", headers={"Access-Control-Allow-Origin": "*"}
    )


def _maybe_prune(cache: Path) -> None:
    """Every 200 new tiles, drop the oldest while the cache holds more than CACHE_LIMIT."""
    _writes["n"] += 1
    if _writes["n"] % 200 or not _prune_lock.acquire(blocking=False):
        return
    try:
        tiles = sorted(cache.iterdir(), key=lambda p: p.stat().st_mtime)
        total = sum(p.stat().st_size for p in tiles)
        for old in tiles:
            if total <= CACHE_LIMIT * 0.8:
                break
            total -= old.stat().st_size
            old.unlink(missing_ok=True)
    finally:
        _prune_lock.release()


def _absolute(request: Request, url: str) -> str:
    """Object links of the local store are paths on this site; a manifest needs full URLs."""
    return str(request.base_url).rstrip("/") + url if url.startswith("/") else url


@router.get("/manifest/{item_id}", name="iiif_manifest")
def item_manifest(request: Request, db: DbSession, viewer: AnyViewer, item_id: Int) -> Response:
    role = _role(viewer)
    item = db.get(Item, item_id)
    if item is None or not may_see(role, item):
        raise NotFound("no such record")
    store = store_of(request)
    public = role == PUBLIC
    links = Links(
        manifest=str(request.url_for("iiif_manifest", item_id=item_id)),
        image_service=lambda page_id: _service(request, page_id),
        media=lambda key: _absolute(request, store.presigned_get(key, expires_seconds=24 * 3600)),
        homepage=str(request.url_for("public_item", item_id=item_id))
        if public
        else f"{request.base_url}items/{item_id}",
        search=(
            str(request.url_for("iiif_search", item_id=item_id)),
            str(request.url_for("iiif_search1", item_id=item_id)),
        ),
    )
    body = json.dumps(manifest(db, item, role, links), ensure_ascii=False).encode()
    return _answer(
        request, body, 'application/ld+json;profile="http://iiif.io/api/presentation/3/context.json"', role
    )


# ---------------------------------------------------------------- Content Search


def _found(request: Request, db: DbSession, viewer: AnyViewer, item_id: int, q: str) -> list[Any]:
    role = _role(viewer)
    item = db.get(Item, item_id)
    if item is None or not may_see(role, item):
        raise NotFound("no such record")
    if not q.strip():
        return []
    manifest = str(request.url_for("iiif_manifest", item_id=item_id))
    return iiif_search.matches(db, item, q, role, manifest)


@router.get("/search/{item_id}", name="iiif_search")
def content_search(request: Request, db: DbSession, viewer: AnyViewer, item_id: Int, q: str = "") -> Response:
    """IIIF Content Search API 2.0 within one item: ``highlighting`` annotations on the
    regions of its canvases (the public searches masked text only)."""
    found = _found(request, db, viewer, item_id, q)
    base = str(request.url_for("iiif_search", item_id=item_id))
    manifest = str(request.url_for("iiif_manifest", item_id=item_id))
    body = json.dumps(iiif_search.answer2(str(request.url), base, manifest, found), ensure_ascii=False)
    media = f'application/ld+json;profile="{iiif_search.SEARCH2_CONTEXT}"'
    return _answer(request, body.encode(), media, _role(viewer))


@router.get("/search1/{item_id}", name="iiif_search1")
def content_search1(
    request: Request, db: DbSession, viewer: AnyViewer, item_id: Int, q: str = ""
) -> Response:
    """The same search answered in the Content Search API 1.0 form (Mirador 4.0 reads it)."""
    found = _found(request, db, viewer, item_id, q)
    base = str(request.url_for("iiif_search1", item_id=item_id))
    body = json.dumps(iiif_search.answer1(str(request.url), base, found), ensure_ascii=False)
    return _answer(request, body.encode(), "application/ld+json", _role(viewer))
