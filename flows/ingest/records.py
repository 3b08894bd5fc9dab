"""Catalog rows of what was prepared: items (grouped by 档号 or 件号), assets and PREMIS events in
short transactions, and the records of what was quarantined, refused or went wrong."""

from __future__ import annotations

import hashlib
import posixpath
from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from catalog import crud, manifest, refcode
from catalog.db import session_scope
from catalog.models import Access, Asset, AssetRole, Collection, EventType, Item, ItemStatus, Kind
from catalog.search import description_part, reindex_item
from configs import Settings
from flows.ingest.common import CATEGORY, ObjectResult
from flows.ingest.prepare import Prepared, Run
from storage.keys import printable_name
from tasks.formats import Format


def record_refused(
    settings: Settings, refused: list[tuple[str, str]], *, collection: str, batch: str
) -> list[ObjectResult]:
    """Catalog what was refused without being read (links, FIFOs, devices), with the reason."""
    results = []
    for relative, reason in refused:
        shown = printable_name(relative)
        sha = hashlib.sha256(f"refused:{collection}/{batch}/{shown}".encode()).hexdigest()
        results.append(record_quarantine(settings, collection=collection, key="", name=shown, size=0,
                                         reason=reason, batch=batch, sha256=sha))  # fmt: skip
    return results


def _group_item(
    session: Session, coll: Collection, row: manifest.ManifestRow | None, batch: str
) -> Item | None:
    """The item this file joins: the one with the row's 档号, or with its 件号 in this batch."""
    if row is None:
        return None
    if code := row.fields.get("reference_code"):
        return crud.item_by_refcode(session, reference_code=code)
    if group := row.fields.get("item"):
        candidates = session.exec(
            select(Item).where(Item.collection_id == coll.id, Item.batch == batch)
        ).all()
        return next((i for i in candidates if i.extra.get("group") == group), None)
    return None


def _new_item(
    session: Session,
    run: Run,
    coll: Collection,
    fmt: Format,
    row: manifest.ManifestRow | None,
    *,
    name: str,
) -> Item:
    fields = dict(row.fields) if row else {}
    group = fields.pop("item", None)
    kind = Kind.scan if fmt.kind in ("image", "pdf") else Kind.recording
    retention = fields.get("retention", coll.retention)
    code = fields.get("reference_code")
    if not code:
        year = (fields.get("date") or str(datetime.now(UTC).year))[:4]
        code = run.codes.next(
            session, fonds=coll.fonds, category=CATEGORY[fmt.kind], year=year, retention=retention
        )
    fields.setdefault("title", posixpath.splitext(posixpath.basename(name))[0])
    # 开放标识 in a manifest is a proposal for open review, never a decision: every item
    # starts unreviewed and opens only through open review (or `lantai open`)
    proposed = fields.pop("access", "")
    extra: dict[str, str] = {"group": group} if group else {}
    if proposed:
        extra["proposed_access"] = proposed
    if engine := fields.pop("ocr_engine", ""):  # the row's OCR engine (ocr引擎) over the setting
        extra["ocr_engine"] = engine
    item = Item.model_validate(
        {
            **fields,
            "extra": extra,
            "collection_id": coll.id or 0,
            "kind": kind,
            "source_name": posixpath.basename(name),
            "batch": run.batch,
            "reference_code": code,
            "retention": retention,
        }
    )
    item.access = Access.unreviewed
    session.add(item)
    return item


def record_quarantine(
    settings: Settings,
    *,
    collection: str,
    key: str,
    name: str,
    sha256: str,
    size: int,
    reason: str,
    batch: str,
) -> ObjectResult:
    """Catalog a quarantined object as an item with the reason, once per content. With no
    ``key`` (a link, a FIFO: nothing was read or stored) the item is recorded without an
    asset, once per batch and name."""
    with session_scope(settings) as session:
        coll = crud.get_or_create_collection(session, code=collection)
        if not key:
            seen = session.exec(
                select(Item).where(
                    Item.collection_id == coll.id, Item.batch == batch, Item.status == ItemStatus.quarantined,
                    Item.source_name == posixpath.basename(name), Item.status_reason == reason,
                )
            ).first()  # fmt: skip
            if seen is not None:
                return ObjectResult(key, name, "quarantined", seen.id, seen.reference_code, reason)
        else:
            known = session.exec(
                select(Asset).where(Asset.sha256 == sha256, Asset.role == AssetRole.quarantine)
            ).first()
            if known is not None:
                item = session.get(Item, known.item_id)
                return ObjectResult(
                    key, name, "quarantined", known.item_id, item.reference_code if item else "", reason
                )
        code = refcode.next_code(
            session, fonds=coll.fonds, category="QT", year=str(datetime.now(UTC).year), retention="Y"
        )
        item = Item(
            collection_id=coll.id or 0,
            reference_code=code,
            title=posixpath.basename(name),
            kind=Kind.other,
            status=ItemStatus.quarantined,
            status_reason=reason,
            source_name=posixpath.basename(name),
            batch=batch,
        )
        session.add(item)
        session.flush()
        asset = None
        if key:
            asset = Asset(
                item_id=item.id or 0,
                role=AssetRole.quarantine,
                key=key,
                sha256=sha256,
                size=size,
                original_name=posixpath.basename(name),
            )
            session.add(asset)
            session.flush()
        crud.add_event(
            session,
            type=EventType.quarantine,
            item_id=item.id,
            asset_id=asset.id if asset else None,
            outcome="failure",
            reason=reason,
            key=key,
            sha256=sha256,
        )
        return ObjectResult(key, name, "quarantined", item.id, code, reason)


def _catalog_chunk(session: Session, run: Run, coll: Collection, chunk: list[Prepared]) -> list[ObjectResult]:
    """The catalog rows of a chunk of stored files — items, assets, PREMIS events, search
    entries — in a few statements per chunk rather than several per file: the new items
    are inserted together, then their assets, then the events. A file whose content is a
    master already (before or earlier in this chunk) gets a duplicate event instead."""
    known = _masters_by_sha(session, [p.sha for p in chunk])
    results: dict[int, ObjectResult] = {}
    planned: list[tuple[int, Prepared, Item, str]] = []
    first_of: dict[str, int] = {}
    repeats: list[tuple[int, Prepared]] = []
    for i, p in enumerate(chunk):
        if p.sha in known:
            results[i] = _duplicate(session, p, known[p.sha])
        elif p.sha in first_of:
            repeats.append((i, p))
        else:
            assert p.fmt is not None
            first_of[p.sha] = i
            item = _group_item(session, coll, p.entry.row, run.batch)  # a query only for grouped rows
            outcome = "attached" if item else "ingested"
            if item is None:
                item = _new_item(session, run, coll, p.fmt, p.entry.row, name=p.entry.name)
            planned.append((i, p, item, outcome))
    session.flush()  # the new items, together
    sequences: dict[int, int] = {}
    assets = []
    for _, p, item, outcome in planned:
        assert item.id is not None and p.fmt is not None
        if item.id not in sequences:
            sequences[item.id] = len(crud.masters(session, item_id=item.id)) if outcome == "attached" else 0
        asset = Asset(item_id=item.id, role=AssetRole.master, key=p.master_key, sha256=p.sha, size=p.size,
                      media_type=p.fmt.mime, format_name=p.fmt.name, sequence=sequences[item.id],
                      original_name=posixpath.basename(p.entry.name))  # fmt: skip
        sequences[item.id] += 1
        session.add(asset)
        assets.append(asset)
    session.flush()  # their assets, together
    touched: dict[int, Item] = {}
    created = {id(item) for _, _, item, outcome in planned if outcome == "ingested"}
    for (i, p, item, outcome), asset in zip(planned, assets, strict=True):
        assert p.fmt is not None
        known[p.sha] = asset
        source = p.entry.key or p.entry.name
        for etype, info in (
            (EventType.ingestion, {"source_key": source, "master_key": p.master_key, "batch": run.batch}),
            (EventType.digest, {"algorithm": "SHA-256", "value": p.sha, "size": p.size}),
            (
                EventType.format_identification,
                {"format": p.fmt.name, "mime": p.fmt.mime, "method": "magic bytes"},
            ),
        ):
            crud.add_event(session, type=etype, item_id=item.id, asset_id=asset.id, **info)
        if item.status not in (ItemStatus.pending, ItemStatus.quarantined):
            item.status = ItemStatus.pending  # a new file means new work
            session.add(item)
        touched[item.id or 0] = item
        results[i] = ObjectResult(p.entry.key, p.entry.name, outcome, item.id, item.reference_code)
    for i, p in repeats:
        results[i] = _duplicate(session, p, known[p.sha])
    for item in touched.values():
        # once per item, however many files it got; a new file adds no pages or segments
        # yet (enrichment does), so only the description's entries
        reindex_item(session, item, description_part(), fresh=id(item) in created)
    return [results[i] for i in sorted(results)]


def _duplicate(session: Session, p: Prepared, existing: Asset) -> ObjectResult:
    crud.add_event(session, type=EventType.duplicate, item_id=existing.item_id, asset_id=existing.id,
                   outcome="warning", key=p.entry.key or p.entry.name, sha256=p.sha,
                   note="identical content is already a master; nothing new created")  # fmt: skip
    item = session.get(Item, existing.item_id)
    code = item.reference_code if item else ""
    why = f"same content as {existing.original_name}"
    return ObjectResult(p.entry.key, p.entry.name, "duplicate", existing.item_id, code, why)


def _masters_by_sha(session: Session, shas: list[str]) -> dict[str, Asset]:
    found: dict[str, Asset] = {}
    unique = sorted(set(shas))
    for i in range(0, len(unique), 500):
        query = select(Asset).where(
            col(Asset.sha256).in_(unique[i : i + 500]), Asset.role == AssetRole.master
        )
        found |= {a.sha256: a for a in session.exec(query)}
    return found


def commit(run: Run, chunk: list[Prepared]) -> list[ObjectResult]:
    """Write the catalog rows of a chunk of stored files in one short transaction. A code
    taken meanwhile by another writer (a concurrent ingest) is retried with fresh codes."""
    for attempt in range(3):
        try:
            with session_scope(run.settings) as session:
                coll = crud.get_or_create_collection(session, code=run.collection)
                return _catalog_chunk(session, run, coll, chunk)
        except IntegrityError:
            if attempt == 2:
                raise
            run.codes.reset()
    raise AssertionError("unreachable")


def record_problem(settings: Settings, *, collection: str, batch: str, reason: str, folder: str = "") -> None:
    """An event for operators (`lantai status`, the dashboard) about a batch (and the local
    folder it came from)."""
    with session_scope(settings) as session:
        crud.add_event(session, type=EventType.ingestion_problem, outcome="failure", collection=collection,
                       batch=batch, folder=folder, reason=reason[:2000])  # fmt: skip
