"""Redacted public derivatives of an open item: page images with confirmed (and undecided)
screening boxes blacked out, the access copy with flagged spans silenced. Each derivative
records the masks it was made for, so it is remade only when the masks change and the
public pages never serve one that is out of date."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlmodel import select

from catalog import crud
from catalog.db import session_scope
from catalog.models import Asset, AssetRole, EventType, Item, Page
from catalog.parts import recording_parts
from catalog.review.redaction import (
    PUBLIC_ACCESS,
    PUBLIC_PAGE,
    fingerprint,
    masks_for,
    page_boxes,
    part_spans,
    public_media_asset,
    public_page_asset,
)
from configs import Settings, get_settings
from storage import ObjectStore, download, open_store
from storage.keys import derivative_key
from tasks import redact


def _put(
    settings: Settings,
    store: ObjectStore,
    *,
    item_id: int,
    source: Asset,
    role: str,
    name: str,
    path: Path,
    media_type: str,
    marks: str,
    label: str,
) -> None:
    """Upload a redacted derivative (no transaction open), then record it in a short write."""
    key = derivative_key(source.sha256, name)
    info = store.put_file(key, path, content_type=media_type)
    with session_scope(settings) as session:
        asset = session.exec(select(Asset).where(Asset.key == key)).first() or Asset(
            item_id=item_id, role=role, key=key, sha256="", source_asset_id=source.id, original_name=label
        )
        asset.sha256, asset.size, asset.media_type, asset.tech = (
            info.sha256 or "",
            info.size,
            media_type,
            {"masks": marks},
        )
        session.add(asset)


@dataclass
class _Plan:
    pages: list[tuple[int, str, Asset, list[list[int]]]]  # page number, image key, master, boxes
    parts: list[tuple[Asset, Asset, list[tuple[float, float]]]]  # access copy, master, spans
    masks: int


def _plan(settings: Settings, item_id: int) -> _Plan | None:
    """What is out of date (one read): pages whose boxes changed, parts whose spans did."""
    with session_scope(settings) as session:
        if session.get(Item, item_id) is None:
            return None
        masks = masks_for(session, item_id)
        plan = _Plan([], [], masks.count)
        for page in session.exec(select(Page).where(Page.item_id == item_id)).all():
            boxes = page_boxes(page, masks)
            if not boxes or not page.image_key or public_page_asset(session, page, masks)[1]:
                continue
            source = session.get(Asset, page.asset_id)
            assert source is not None
            plan.pages.append((page.page_no, page.image_key, source, boxes))
        for part in recording_parts(session, item_id):  # every part of a multi-part recording
            spans = part_spans(session, part.transcript, masks)
            if not spans or public_media_asset(session, part.transcript, masks)[1]:
                continue
            access = session.exec(
                select(Asset).where(Asset.source_asset_id == part.asset_id, Asset.role == AssetRole.access)
            ).first()
            master = session.get(Asset, part.asset_id)
            if access is not None and master is not None:
                plan.parts.append((access, master, spans))
        return plan


def redact_item(item_id: int) -> dict[str, int]:
    """Make the public derivatives an open item needs; returns what was made. The images
    and audio are made with no transaction open; each is recorded in a short write."""
    settings = get_settings()
    store = open_store(settings)
    made = {"pages": 0, "recordings": 0}
    plan = _plan(settings, item_id)
    if plan is None:
        return made
    with tempfile.TemporaryDirectory(prefix="lantai-redact-") as tmp:
        for page_no, image_key, source, boxes in plan.pages:
            src = Path(tmp) / f"page-{page_no}"
            download(store, image_key, src)
            out = redact.black_out(src, boxes, Path(tmp) / f"public-{page_no}.png")
            _put(
                settings,
                store,
                item_id=item_id,
                source=source,
                role=PUBLIC_PAGE,
                name=f"public-page-{page_no}.png",
                path=out,
                media_type="image/png",
                marks=fingerprint(boxes),
                label=f"page-{page_no}",
            )
            src.unlink(missing_ok=True)
            made["pages"] += 1
        for n, (access, master, spans) in enumerate(plan.parts):
            src = Path(tmp) / f"access-{n}"
            download(store, access.key, src)
            video = access.media_type.startswith("video")
            out = redact.silence(src, spans, Path(tmp) / f"public-{n}.mp4", video=video)
            _put(
                settings,
                store,
                item_id=item_id,
                source=master,
                role=PUBLIC_ACCESS,
                name="public-access.mp4",
                path=out,
                media_type=access.media_type,
                marks=fingerprint(spans),
                label="access",
            )
            src.unlink(missing_ok=True)
            made["recordings"] += 1
    if made["pages"] or made["recordings"]:
        with session_scope(settings) as session:
            crud.add_event(
                session,
                type=EventType.redaction,
                item_id=item_id,
                masks=plan.masks,
                pages=made["pages"],
                recordings=made["recordings"],
            )
    return made
