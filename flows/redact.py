"""Redacted public derivatives of an open item: page images with confirmed (and undecided)
screening boxes blacked out, the access copy with flagged spans silenced. Each derivative
records the masks it was made for, so it is remade only when the masks change and the
public pages never serve one that is out of date."""

from __future__ import annotations

import tempfile
from pathlib import Path

from sqlmodel import Session, select

from catalog import crud
from catalog.db import session_scope
from catalog.models import Asset, Item, Page, Transcript
from catalog.redaction import (
    PUBLIC_ACCESS,
    PUBLIC_PAGE,
    fingerprint,
    masks_for,
    public_media_asset,
    public_page_asset,
)
from configs import get_settings
from storage import ObjectStore, download, open_store
from storage.keys import derivative_key
from tasks import redact


def _put(
    session: Session,
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
    key = derivative_key(source.sha256, name)
    info = store.put_file(key, path, content_type=media_type)
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


def redact_item(item_id: int) -> dict[str, int]:
    """Make the public derivatives an open item needs; returns what was made."""
    settings = get_settings()
    store = open_store(settings)
    made = {"pages": 0, "recordings": 0}
    with session_scope(settings) as session, tempfile.TemporaryDirectory(prefix="lantai-redact-") as tmp:
        item = session.get(Item, item_id)
        if item is None:
            return made
        masks = masks_for(session, item_id)
        for page in session.exec(select(Page).where(Page.item_id == item_id)).all():
            boxes = masks.boxes.get(page.page_no)
            if not boxes or not page.image_key or public_page_asset(session, page, masks)[1]:
                continue
            source = session.get(Asset, page.asset_id)
            assert source is not None
            src = Path(tmp) / f"page-{page.page_no}"
            download(store, page.image_key, src)
            out = redact.black_out(src, boxes, Path(tmp) / f"public-{page.page_no}.png")
            _put(
                session,
                store,
                item_id=item_id,
                source=source,
                role=PUBLIC_PAGE,
                name=f"public-page-{page.page_no}.png",
                path=out,
                media_type="image/png",
                marks=fingerprint(boxes),
                label=f"page-{page.page_no}",
            )
            made["pages"] += 1
        spans = masks.segment_times()
        tr = session.exec(select(Transcript).where(Transcript.item_id == item_id)).first()
        if spans and tr is not None and not public_media_asset(session, item_id, masks)[1]:
            access = session.exec(
                select(Asset).where(Asset.source_asset_id == tr.asset_id, Asset.role == "access")
            ).first()
            master = session.get(Asset, tr.asset_id)
            if access is not None and master is not None:
                src = Path(tmp) / "access"
                download(store, access.key, src)
                video = access.media_type.startswith("video")
                out = redact.silence(src, spans, Path(tmp) / "public.mp4", video=video)
                _put(
                    session,
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
                made["recordings"] += 1
        if made["pages"] or made["recordings"]:
            crud.add_event(
                session,
                type="redaction",
                item_id=item_id,
                masks=masks.count,
                pages=made["pages"],
                recordings=made["recordings"],
            )
    return made
