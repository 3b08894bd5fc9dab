"""Exports of one item: text formats from the catalog, hOCR and PDF from storage."""

from __future__ import annotations

import shutil
from typing import BinaryIO

from sqlmodel import Session, col, select

from catalog import exports
from catalog.models import Asset, Item
from configs import get_settings
from configs.errors import BadInputError
from storage import open_store

TEXT_FORMATS = {
    "txt": exports.to_txt,
    "vtt": exports.to_vtt,
    "srt": exports.to_srt,
    "json": exports.to_json,
    "dc": exports.to_dc,
}
COLLECTION_FORMATS = {"csv": exports.collection_csv}
STORED = {"hocr": "hocr", "pdf": "pdf"}


def find_item(session: Session, ref: str) -> Item:
    item = session.get(Item, int(ref)) if ref.isdigit() else None
    item = item or session.exec(select(Item).where(Item.reference_code == ref)).first()
    if item is None:
        raise BadInputError(f"no item with id or 档号 {ref!r}", hint="see lantai list")
    return item


def export_item(session: Session, ref: str, fmt: str, dest: BinaryIO) -> None:
    """Write the item in ``fmt`` to ``dest``: txt, vtt, srt, json (from the catalog) or
    hocr, pdf (stored derivatives, streamed)."""
    if fmt in COLLECTION_FORMATS:  # ``ref`` names a collection
        dest.write(COLLECTION_FORMATS[fmt](session, ref).encode("utf-8"))
        return
    item = find_item(session, ref)
    if fmt in TEXT_FORMATS:
        dest.write(TEXT_FORMATS[fmt](session, item).encode("utf-8"))
        return
    if fmt not in STORED:
        raise BadInputError(
            f"unknown export format {fmt!r}",
            hint="use one of " + ", ".join([*TEXT_FORMATS, *STORED, *COLLECTION_FORMATS]),
        )
    assets = session.exec(
        select(Asset).where(Asset.item_id == item.id, Asset.role == STORED[fmt]).order_by(col(Asset.id))
    ).all()
    if not assets:
        raise BadInputError(f"item {item.reference_code} has no {fmt} (is it an enriched scan?)")
    store = open_store(get_settings())
    if len(assets) > 1 and fmt == "pdf":
        raise BadInputError(
            f"item {item.reference_code} has {len(assets)} PDFs; multi-file items "
            "are exported one master at a time in this version"
        )
    with store.open(assets[0].key) as fh:
        shutil.copyfileobj(fh, dest, 1 << 20)
