"""Exports of one item: text formats from the catalog, hOCR and PDF from storage."""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path
from typing import Any, BinaryIO

from sqlmodel import Session, col, select

from catalog.crud import add_event
from catalog.models import Asset, EventType, Item
from catalog.publish import exports
from configs import get_settings
from configs.errors import BadInputError
from storage import open_store

TEXT_FORMATS = {
    "txt": exports.to_txt,
    "vtt": exports.to_vtt,
    "srt": exports.to_srt,
    "json": exports.to_json,
    "dc": exports.to_dc,
    "ohms": exports.to_ohms,
}
COLLECTION_FORMATS = {
    "csv": lambda s, code: exports.collection_csv(s, code).encode("utf-8"),
    "xlsx": exports.collection_xlsx,
    "jsonl": lambda s, code: exports.collection_jsonl(s, code).encode("utf-8"),
}
STORED = {"hocr": "hocr", "pdf": "pdf"}
# every item format with the media type it is served as
FORMATS = {
    "txt": "text/plain; charset=utf-8",
    "vtt": "text/vtt; charset=utf-8",
    "srt": "application/x-subrip; charset=utf-8",
    "json": "application/json",
    "dc": "application/xml",
    "ohms": "application/xml",
    "hocr": "text/html; charset=utf-8",
    "pdf": "application/pdf",
}


def find_item(session: Session, ref: str) -> Item:
    item = session.get(Item, int(ref)) if ref.isdigit() else None
    item = item or session.exec(select(Item).where(Item.reference_code == ref)).first()
    if item is None:
        raise BadInputError(f"no item with id or 档号 {ref!r}", hint="see lantai list")
    return item


def export_item(session: Session, ref: str, fmt: str, dest: BinaryIO, *, agent: str = "lantai") -> None:
    """Write the item in ``fmt`` to ``dest``: txt, vtt, srt, json (from the catalog) or
    hocr, pdf (stored derivatives, streamed); ``csv``, ``xlsx``, ``jsonl`` for a collection.
    Each export is recorded as an event (who, what, which format) in the caller's session."""
    if fmt in COLLECTION_FORMATS:  # ``ref`` names a collection
        dest.write(COLLECTION_FORMATS[fmt](session, ref))
        add_event(session, type=EventType.export, agent=agent, collection=ref, format=fmt)
        return
    item = find_item(session, ref)
    if fmt in TEXT_FORMATS:
        dest.write(TEXT_FORMATS[fmt](session, item).encode("utf-8"))
        add_event(session, type=EventType.export, item_id=item.id, agent=agent, format=fmt)
        return
    if fmt not in STORED:
        raise BadInputError(
            f"unknown export format {fmt!r}",
            hint="use one of " + ", ".join([*TEXT_FORMATS, *STORED, *COLLECTION_FORMATS]),
        )
    derived = session.exec(
        select(Asset).where(Asset.item_id == item.id, Asset.role == STORED[fmt]).order_by(col(Asset.id))
    ).all()
    if not derived:
        raise BadInputError(f"item {item.reference_code} has no {fmt} (is it an enriched scan?)")
    masters = {a.id: a.sequence for a in session.exec(select(Asset).where(Asset.item_id == item.id)).all()}
    assets = sorted(derived, key=lambda a: (masters.get(a.source_asset_id, 0), a.id or 0))  # file order
    store = open_store(get_settings())
    add_event(session, type=EventType.export, item_id=item.id, agent=agent, format=fmt)
    if len(assets) == 1:
        with store.open(assets[0].key) as fh:
            shutil.copyfileobj(fh, dest, 1 << 20)
        return
    with tempfile.TemporaryDirectory(prefix="lantai-export-") as tmp:
        parts = []
        for n, asset in enumerate(assets):
            part = Path(tmp) / f"{n:05d}.{fmt}"
            with store.open(asset.key) as fh, part.open("wb") as out:
                shutil.copyfileobj(fh, out, 1 << 20)
            parts.append(part)
        if fmt == "pdf":  # one searchable PDF, the files' pages in order
            from tasks.ocr import merge_pdfs

            with merge_pdfs(parts, Path(tmp) / "item.pdf").open("rb") as fh:
                shutil.copyfileobj(fh, dest, 1 << 20)
        else:
            _merge_hocr(parts, dest)


_BODY = re.compile(r"<body[^>]*>(.*)</body>", re.S | re.I)
_ID = re.compile(r"""\bid=(['"])([^'"]+)\1""")


def _merge_hocr(parts: list[Path], dest: BinaryIO) -> None:
    """One hOCR document from the hOCR of each file: the first file's head, then every
    file's pages in order, their element ids prefixed by the file's number so they stay
    unique."""
    first = parts[0].read_text(encoding="utf-8")
    opening = _BODY.search(first)
    head = first[: opening.start()] if opening else first
    dest.write(head.encode("utf-8") + b"<body>\n")
    for n, part in enumerate(parts, 1):
        found = _BODY.search(part.read_text(encoding="utf-8"))
        body = found[1] if found else ""
        dest.write(_ID.sub(rf"id=\1f{n}_\2\1", body).encode("utf-8"))
    dest.write(b"</body>\n</html>\n")


# ---------------------------------------------------------------- BagIt


def _premis(events: list[Any]) -> str:
    """The item's events as PREMIS 3 XML."""
    import xml.etree.ElementTree as ET

    ns = "http://www.loc.gov/premis/v3"
    ET.register_namespace("premis", ns)
    root = ET.Element(f"{{{ns}}}premis", {"version": "3.0"})
    for e in events:
        ev = ET.SubElement(root, f"{{{ns}}}event")
        ident = ET.SubElement(ev, f"{{{ns}}}eventIdentifier")
        ET.SubElement(ident, f"{{{ns}}}eventIdentifierType").text = "lantai"
        ET.SubElement(ident, f"{{{ns}}}eventIdentifierValue").text = str(e.id)
        ET.SubElement(ev, f"{{{ns}}}eventType").text = e.type
        ET.SubElement(ev, f"{{{ns}}}eventDateTime").text = e.at.isoformat()
        ET.SubElement(ev, f"{{{ns}}}eventDetailInformation").append(_detail(ns, e.detail))
        outcome = ET.SubElement(ev, f"{{{ns}}}eventOutcomeInformation")
        ET.SubElement(outcome, f"{{{ns}}}eventOutcome").text = e.outcome
        agent = ET.SubElement(ev, f"{{{ns}}}linkingAgentIdentifier")
        ET.SubElement(agent, f"{{{ns}}}linkingAgentIdentifierType").text = "name"
        ET.SubElement(agent, f"{{{ns}}}linkingAgentIdentifierValue").text = e.agent
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _detail(ns: str, detail: dict[str, Any]) -> Any:
    import json
    import xml.etree.ElementTree as ET

    el = ET.Element(f"{{{ns}}}eventDetail")
    el.text = json.dumps(detail, ensure_ascii=False, sort_keys=True)[:4000]
    return el


def _mets(title: str, files: list[tuple[str, str, str, int]]) -> str:
    """A METS-like manifest: one fileSec entry per payload file (path, use, sha256, size)."""
    import xml.etree.ElementTree as ET

    mets, xlink = "http://www.loc.gov/METS/", "http://www.w3.org/1999/xlink"
    ET.register_namespace("mets", mets)
    ET.register_namespace("xlink", xlink)
    root = ET.Element(f"{{{mets}}}mets", {"LABEL": title, "PROFILE": "lantai-bag"})
    groups: dict[str, Any] = {}
    sec = ET.SubElement(root, f"{{{mets}}}fileSec")
    smap = ET.SubElement(root, f"{{{mets}}}structMap")
    div = ET.SubElement(smap, f"{{{mets}}}div", {"LABEL": title})
    for n, (path, use, sha, size) in enumerate(files, 1):
        grp = groups.get(use)
        if grp is None:
            grp = groups[use] = ET.SubElement(sec, f"{{{mets}}}fileGrp", {"USE": use})
        f = ET.SubElement(
            grp,
            f"{{{mets}}}file",
            {"ID": f"F{n}", "CHECKSUMTYPE": "SHA-256", "CHECKSUM": sha, "SIZE": str(size)},
        )
        ET.SubElement(f, f"{{{mets}}}FLocat", {"LOCTYPE": "URL", f"{{{xlink}}}href": path})
        ET.SubElement(div, f"{{{mets}}}fptr", {"FILEID": f"F{n}"})
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _safe(name: str) -> str:
    import re

    return re.sub(r"[\\/:*?\"<>|\s·]+", "_", name).strip("_") or "item"


def export_bag(session: Session, ref: str, dest: Path, *, agent: str = "lantai") -> Path:
    """Write a validated BagIt bag to the folder ``dest`` (which must not exist or be empty):
    for one item (id or 档号) or a whole collection (its code), with the masters, the
    derivatives, each record as JSON and Dublin Core, PREMIS events and a METS manifest."""
    import bagit

    from catalog.models import Collection, Event
    from storage.base import download, sha256_file

    coll = session.exec(select(Collection).where(Collection.code == ref)).first()
    if coll is not None:
        items = list(
            session.exec(select(Item).where(Item.collection_id == coll.id).order_by(col(Item.reference_code)))
        )
        title = f"{coll.code} {coll.name}"
    else:
        items = [find_item(session, ref)]
        title = f"{items[0].reference_code} {items[0].title}"
    if dest.exists() and any(dest.iterdir()):
        raise BadInputError(f"{dest} is not empty", hint="give a new folder for the bag")
    dest.mkdir(parents=True, exist_ok=True)
    store = open_store(get_settings())
    files: list[tuple[str, str, str, int]] = []
    for item in items:
        base = dest / _safe(item.reference_code)
        base.mkdir()
        for asset in session.exec(
            select(Asset).where(Asset.item_id == item.id).order_by(col(Asset.id))
        ).all():
            folder = "masters" if asset.role == "master" else "derivatives"
            name = _safe(asset.original_name or asset.key.rsplit("/", 1)[-1])
            if folder == "derivatives":
                name = f"{asset.role}-{asset.id}-{name}"
            target = base / folder / name
            target.parent.mkdir(exist_ok=True)
            # masters are verified against the catalog's checksum on the way out
            download(store, asset.key, target, expect_sha256=asset.sha256 if asset.role == "master" else None)
            files.append(
                (str(target.relative_to(dest)), asset.role, sha256_file(target), target.stat().st_size)
            )
        (base / "record.json").write_text(exports.to_json(session, item), encoding="utf-8")
        (base / "dc.xml").write_text(exports.to_dc(session, item), encoding="utf-8")
        events = list(session.exec(select(Event).where(Event.item_id == item.id).order_by(col(Event.id))))
        (base / "premis.xml").write_text(_premis(events), encoding="utf-8")
        if item.kind == "recording":
            (base / "ohms.xml").write_text(exports.to_ohms(session, item), encoding="utf-8")
    (dest / "mets.xml").write_text(_mets(title, files), encoding="utf-8")
    bag = bagit.make_bag(
        str(dest),
        {
            "Source-Organization": coll.name if coll else "",
            "External-Identifier": ref,
            "External-Description": title,
            "Bag-Software-Agent": "Lantai (兰台)",
        },
        checksums=["sha256"],
    )
    bag.validate()
    for item in items:
        add_event(session, type=EventType.export, item_id=item.id, agent=agent, format="bag", bag=ref)
    return dest


def export_bag_to_store(session: Session, ref: str, *, agent: str = "lantai") -> str:
    """Build the bag in a temporary folder and upload it under ``exports/bags/…`` in object
    storage; returns the prefix."""
    import tempfile
    import time

    store = open_store(get_settings())
    prefix = f"exports/bags/{_safe(ref)}-{time.strftime('%Y%m%dT%H%M%S')}/"
    with tempfile.TemporaryDirectory(prefix="lantai-bag-") as tmp:
        bag = export_bag(session, ref, Path(tmp) / "bag", agent=agent)
        for path in sorted(p for p in bag.rglob("*") if p.is_file()):
            store.put_file(prefix + path.relative_to(bag).as_posix(), path)
    return prefix
